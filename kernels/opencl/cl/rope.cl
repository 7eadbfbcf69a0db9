// Rotary position embedding, f32 (kernels/problem.h): the rotate-half form with given tables.

// Rotate-half RoPE with given tables. X, Y [t][h][d]; cs, sn [t][d/2]. global: (d/2, h, t).
__kernel void rope(__global const float* restrict X, __global const float* restrict cs,
                   __global const float* restrict sn, __global float* restrict Y, const int H,
                   const int D) {
  const int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
  const int hd = D / 2;
  const long o = ((long)t * H + h) * D;
  const float x0 = X[o + i], x1 = X[o + i + hd];
  const float c = cs[(long)t * hd + i], s = sn[(long)t * hd + i];
  Y[o + i] = x0 * c - x1 * s;
  Y[o + i + hd] = x1 * c + x0 * s;
}

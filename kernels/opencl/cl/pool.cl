// Pooling, f32, NHWC (kernels/problem.h): max / avg and global mean, channels on dimension 0 so
// that neighbouring work-items touch neighbouring addresses.

// Max (is_max) or average (padding excluded from the count) pooling. global: (C, OW, N * OH).
__kernel void pool2d(__global const float* restrict src, __global float* restrict dst,
                     const int H, const int W, const int C, const int OH, const int OW,
                     const int R, const int S, const int st, const int pad, const int is_max) {
  const int c = get_global_id(0), x = get_global_id(1), ny = get_global_id(2);
  const int n = ny / OH, y = ny % OH;
  float acc = is_max ? -INFINITY : 0.0f;
  int count = 0;
  for (int u = 0; u < R; ++u) {
    const int iy = y * st - pad + u;
    if (iy < 0 || iy >= H) continue;
    for (int v = 0; v < S; ++v) {
      const int ix = x * st - pad + v;
      if (ix < 0 || ix >= W) continue;
      const float s = src[(((long)n * H + iy) * W + ix) * C + c];
      acc = is_max ? fmax(acc, s) : acc + s;
      ++count;
    }
  }
  if (!is_max) acc /= (float)count;
  dst[(((long)n * OH + y) * OW + x) * C + c] = acc;
}

// Mean over H x W. global: (C, N).
__kernel void global_pool(__global const float* restrict src, __global float* restrict dst,
                          const int HW, const int C) {
  const int c = get_global_id(0), n = get_global_id(1);
  const __global float* s = src + (long)n * HW * C + c;
  float acc = 0.0f;
  for (int i = 0; i < HW; ++i) acc += s[(long)i * C];
  dst[(long)n * C + c] = acc / (float)HW;
}

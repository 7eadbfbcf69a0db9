// Glue ops between GEMMs and convolutions, f32 (layouts in kernels/problem.h): row-wise softmax /
// layer norm / RMS norm (one work-group of WG work-items per row, tree reductions in local
// memory), max / avg / global pooling (NHWC, channels on dimension 0 so that neighbouring
// work-items touch neighbouring addresses), add / mul, RoPE (rotate-half) and embedding lookup.
// WG: work-group size of the row kernels, a power of two.

inline float wg_reduce(float v, __local float* sh, const int is_max) {
  const int l = get_local_id(0);
  sh[l] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = WG / 2; s > 0; s >>= 1) {
    if (l < s) sh[l] = is_max ? fmax(sh[l], sh[l + s]) : sh[l] + sh[l + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float r = sh[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return r;
}

// One work-group of WG work-items per row (separate kernels: no barrier under a branch).
// global: (m * WG), local: WG.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void softmax_rows(
    __global const float* restrict X, __global float* restrict Y, const int n) {
  __local float sh[WG];
  const int l = get_local_id(0);
  const __global float* x = X + (long)get_group_id(0) * n;
  __global float* y = Y + (long)get_group_id(0) * n;
  float mx = -INFINITY;
  for (int j = l; j < n; j += WG) mx = fmax(mx, x[j]);
  mx = wg_reduce(mx, sh, 1);
  float s = 0.0f;
  for (int j = l; j < n; j += WG) s += exp(x[j] - mx);
  const float inv = 1.0f / wg_reduce(s, sh, 0);
  for (int j = l; j < n; j += WG) y[j] = exp(x[j] - mx) * inv;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void layernorm_rows(
    __global const float* restrict X, __global float* restrict Y,
    __global const float* restrict gamma, __global const float* restrict beta, const int n,
    const float eps) {
  __local float sh[WG];
  const int l = get_local_id(0);
  const __global float* x = X + (long)get_group_id(0) * n;
  __global float* y = Y + (long)get_group_id(0) * n;
  float s = 0.0f;
  for (int j = l; j < n; j += WG) s += x[j];
  const float mean = wg_reduce(s, sh, 0) / n;
  float v = 0.0f;
  for (int j = l; j < n; j += WG) v += (x[j] - mean) * (x[j] - mean);
  const float inv = 1.0f / sqrt(wg_reduce(v, sh, 0) / n + eps);
  for (int j = l; j < n; j += WG) y[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void rmsnorm_rows(
    __global const float* restrict X, __global float* restrict Y,
    __global const float* restrict gamma, const int n, const float eps) {
  __local float sh[WG];
  const int l = get_local_id(0);
  const __global float* x = X + (long)get_group_id(0) * n;
  __global float* y = Y + (long)get_group_id(0) * n;
  float s = 0.0f;
  for (int j = l; j < n; j += WG) s += x[j] * x[j];
  const float inv = 1.0f / sqrt(wg_reduce(s, sh, 0) / n + eps);
  for (int j = l; j < n; j += WG) y[j] = x[j] * inv * gamma[j];
}

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

// Y = A + B (is_mul 0) or A * B. global: (n).
__kernel void binary(__global const float* restrict A, __global const float* restrict B,
                     __global float* restrict Y, const int is_mul) {
  const int i = get_global_id(0);
  Y[i] = is_mul ? A[i] * B[i] : A[i] + B[i];
}

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

// Y[t] = table[ids[t] mod V] (floor modulo). global: (D, T).
__kernel void embed(__global const float* restrict table, __global const int* restrict ids,
                    __global float* restrict Y, const int V, const int D) {
  const int j = get_global_id(0), t = get_global_id(1);
  const int row = ((ids[t] % V) + V) % V;
  Y[(long)t * D + j] = table[(long)row * D + j];
}

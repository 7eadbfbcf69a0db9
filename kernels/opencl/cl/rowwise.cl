// Row ops, f32 (layouts in kernels/problem.h): softmax, layer norm and RMS norm over the last
// axis, one work-group of WG work-items per row, tree reductions in local memory.
// WG: work-group size, a power of two (a build option).

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

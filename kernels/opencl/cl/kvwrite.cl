// KV-cache write (kernels/problem.h): rows p of the cache replaced by X (f32), rounded to the
// cache's type. KV_T: 0 f32, 1 f16, 2 bf16. The cache and Y are one buffer when a graph runs it in
// place (no restrict). Built after gemm_common.cl (tb_bf16).

#if KV_T == 0
typedef float kv_t;
#define KV_STORE(x, p, i) ((p)[i] = (x))
#else
typedef ushort kv_t;
#if KV_T == 1
#define KV_STORE(x, p, i) vstore_half_rte((x), (i), (__global half*)(p))
#else
#define KV_STORE(x, p, i) ((p)[i] = tb_bf16(x))
#endif
#endif

// X [H][D]; C, Y [H][S][D]. global: (D, rows, H): rows S copies the cache into Y and replaces
// row P (full != 0); rows 1 writes row P alone (in place).
__kernel void kvwrite(__global const float* X, __global const kv_t* C, __global kv_t* Y,
                      const int S, const int D, const int P, const int full) {
  const int i = get_global_id(0), h = get_global_id(2);
  const int r = full ? (int)get_global_id(1) : P;
  const long o = ((long)h * S + r) * D + i;
  if (r == P)
    KV_STORE(X[(long)h * D + i], Y, o);
  else
    Y[o] = C[o];
}

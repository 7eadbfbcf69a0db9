// Embedding lookup (kernels/problem.h): f32, bf16 or f16 table rows widened to f32, or s8 rows
// times their row scale. EMB_T: 0 f32, 1 bf16, 2 f16 (vload_half: core OpenCL, no cl_khr_fp16
// needed), 3 s8 (then `scales`, f32 [V]).

#if EMB_T == 0
typedef float emb_t;
#define EMB_LOAD(T, i) ((T)[i])
#elif EMB_T == 3
typedef char emb_t;
#define EMB_LOAD(T, i) ((float)(T)[i])
#else
typedef ushort emb_t;
#if EMB_T == 1
#define EMB_LOAD(T, i) as_float((uint)(T)[i] << 16)
#else
#define EMB_LOAD(T, i) vload_half((i), (__global const half*)(T))
#endif
#endif

// Y[t] = table[ids[t] mod V] (floor modulo). global: (D, T).
__kernel void embed(__global const emb_t* restrict table, __global const int* restrict ids,
#if EMB_T == 3
                    __global const float* restrict scales,
#endif
                    __global float* restrict Y, const int V, const int D) {
  const int j = get_global_id(0), t = get_global_id(1);
  const int row = ((ids[t] % V) + V) % V;
#if EMB_T == 3
  Y[(long)t * D + j] = EMB_LOAD(table, (long)row * D + j) * scales[row];
#else
  Y[(long)t * D + j] = EMB_LOAD(table, (long)row * D + j);
#endif
}

// Row slice (kernels/problem.h): X [O][R][N] -> Y [O][C][N], Y[i][j] = X[i][S + j T], a copy.
// SLICE_T: 0 32-bit elements (f32), 1 16-bit elements (f16, bf16).

#if SLICE_T == 0
typedef uint slice_t;
#else
typedef ushort slice_t;
#endif

// global: (N, C, O).
__kernel void slice(__global const slice_t* restrict X, __global slice_t* restrict Y, const int R,
                    const int N, const int S, const int C, const int T) {
  const int k = get_global_id(0), j = get_global_id(1), i = get_global_id(2);
  Y[((long)i * C + j) * N + k] = X[((long)i * R + S + (long)j * T) * N + k];
}

// Permute of the two outer axes (kernels/problem.h): X [A][B][C] -> Y [B][A][C], a copy.
// PERM_T: 0 32-bit elements (f32), 1 16-bit elements (f16, bf16).

#if PERM_T == 0
typedef uint perm_t;
#else
typedef ushort perm_t;
#endif

// global: (C, B, A).
__kernel void permute(__global const perm_t* restrict X, __global perm_t* restrict Y, const int A,
                      const int B, const int C) {
  const int k = get_global_id(0), j = get_global_id(1), i = get_global_id(2);
  Y[((long)j * A + i) * C + k] = X[((long)i * B + j) * C + k];
}

// Elementwise binary ops, f32 (kernels/problem.h): add / mul.

// Y = A + B (is_mul 0) or A * B. global: (n).
__kernel void binary(__global const float* restrict A, __global const float* restrict B,
                     __global float* restrict Y, const int is_mul) {
  const int i = get_global_id(0);
  Y[i] = is_mul ? A[i] * B[i] : A[i] + B[i];
}

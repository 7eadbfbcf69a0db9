// Embedding lookup, f32 (kernels/problem.h).

// Y[t] = table[ids[t] mod V] (floor modulo). global: (D, T).
__kernel void embed(__global const float* restrict table, __global const int* restrict ids,
                    __global float* restrict Y, const int V, const int D) {
  const int j = get_global_id(0), t = get_global_id(1);
  const int row = ((ids[t] % V) + V) % V;
  Y[(long)t * D + j] = table[(long)row * D + j];
}

// Packing for gemm_packed: A into row panels Ap[b][ib][k][MR], B into column panels
// Bp[b][jb][k][NR], zero-padded past M and N so that the GEMM kernel never reads out of bounds.
//   trans_a: A is K x M (else M x K).  trans_b: B is N x K (else K x N). A is TYA and B is TYB
// (gemm_common.cl), widened to f32 here, so that the GEMM kernel is the same for every type.
// Launched with work-groups of (16, 1, 1) whatever the shape, so that drivers which compile a
// work-group function per local size (PoCL) compile each kernel once, not once per shape.

// global: (K rounded up to 16, mb * MR, batch)
__kernel void pack_a(__global const TYA* restrict A, __global float* restrict Ap, const int M,
                     const int K, const int trans_a) {
  const int k = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
  if (k >= K) return;
  const int mb = (M + MR - 1) / MR;
  const __global TYA* a = A + (long)b * M * K;
  float v = 0.0f;
  if (i < M) v = LDA(a, trans_a ? (long)k * M + i : (long)i * K + k);
  Ap[((long)b * mb + i / MR) * (long)K * MR + (long)k * MR + i % MR] = v;
}

// global: (nb * NR, K, batch)
__kernel void pack_b(__global const TYB* restrict B, __global float* restrict Bp, const int N,
                     const int K, const int trans_b) {
  const int j = get_global_id(0), k = get_global_id(1), b = get_global_id(2);
  const int nb = (N + NR - 1) / NR;
  const __global TYB* s = B + (long)b * N * K;
  float v = 0.0f;
  if (j < N) v = LDB(s, trans_b ? (long)j * K + k : (long)k * N + j);
  Bp[((long)b * nb + j / NR) * (long)K * NR + (long)k * NR + j % NR] = v;
}

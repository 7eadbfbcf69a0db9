// u8 x s8 -> s32 GEMM through the integer dot products of cl_khr_integer_dot_product
// (dot(uchar4, char4) -> int; the host builds this only on devices that report the extension with
// 4x8-bit input support). Deliberately plain: one C element per work-item, K in steps of 4.
//   A u8 [b][m][k] (trans_a: [b][k][m]); B s8 [b][k][n] (trans_b: [b][n][k]); C, residual s32.
//   C = sat_s32(rint(act(sum + bias) + residual)), the sum exact in int; without bias, activation
//   and residual C is the sum itself. epi: as in gemm_common.cl; trans: bit 0 A, bit 1 B.
// TB_EMULATE_DOT (tests only, on devices without the extension; the backend never selects it):
// the same dot product in plain integer arithmetic, so that everything around it is validated.
#ifdef TB_EMULATE_DOT
inline int tb_dot(const uchar4 a, const char4 b) {
  const int4 p = convert_int4(a) * convert_int4(b);
  return p.x + p.y + p.z + p.w;
}
#else
#define tb_dot dot
#endif

// global: (N, M, batch)
__kernel void gemm_s8(__global const uchar* restrict A, __global const char* restrict B,
                      __global int* restrict C, __global const float* restrict bias,
                      __global const int* restrict res, const int M, const int N, const int K,
                      const int trans, const int epi) {
  const int j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
  if (i >= M || j >= N) return;
  const __global uchar* a = A + (long)b * M * K;
  const __global char* bb = B + (long)b * K * N;
  // Element k of row i of A and of column j of B.
#define A_AT(k) a[(trans & 1) ? (long)(k) * M + i : (long)i * K + (k)]
#define B_AT(k) bb[(trans & 2) ? (long)j * K + (k) : (long)(k) * N + j]
  int acc = 0;
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    const uchar4 av = (uchar4)(A_AT(k), A_AT(k + 1), A_AT(k + 2), A_AT(k + 3));
    const char4 bv = (char4)(B_AT(k), B_AT(k + 1), B_AT(k + 2), B_AT(k + 3));
    acc += tb_dot(av, bv);
  }
  for (; k < K; ++k) acc += (int)A_AT(k) * (int)B_AT(k);
#undef A_AT
#undef B_AT
  const long o = (long)b * M * N + (long)i * N + j;
  if (epi == 0) {
    C[o] = acc;
    return;
  }
  float x = (float)acc;
  if (epi & EPI_BIAS) x += bias[j];
  x = tb_act(x, epi & 7);
  if (epi & EPI_RES) x += (float)res[o];
  C[o] = convert_int_sat_rte(x);
}

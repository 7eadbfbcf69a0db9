// u8 x s8 -> s32 GEMM for devices that are not CPUs (CPU devices run u8 x s8 on gemm_packed.cl
// with INT_ACC): one C element per work-item, K in steps of 4 through the packed dot products of
// cl_khr_integer_dot_product (dot(uchar4, char4) -> int) where the device has them with 4x8-bit
// inputs, and the same dot product in plain integer arithmetic elsewhere (TB_EMULATE_DOT). Exact
// either way.
//   A u8 [b][m][k] (trans_a: [b][k][m]); B s8 [b][k][n] (trans_b: [b][n][k]); C and the residual
// TYC: s32, or f32 with +scales (gemm_common.cl). Without an epilogue C is the sum itself; else
// C = act(sum * a_scale * b_scale[n] + bias) + residual in f32, stored as TYC.
// epi: as in gemm_common.cl; trans: bit 0 A, bit 1 B.
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
                      __global TYC* restrict C, __global const float* restrict as,
                      __global const float* restrict bs, __global const float* restrict bias,
                      __global const TYC* restrict res, const int M, const int N, const int K,
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
#if TC_K == 5
  if (epi == 0) {
    C[o] = acc;
    return;
  }
#endif
  float x = tb_epi((float)acc, as, bs, bias, j, epi);
  if (epi & EPI_RES) x += LDC(res, o);
  STC(x, C, o);
}

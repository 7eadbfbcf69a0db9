// Portable f32 GEMM for GPUs: TS x TS tiles of C per 16 x 16 work-group (TS = 16 WPT), K in
// steps of TK staged through local memory, WPT x WPT outputs per work-item (strided by 16 so that
// loads and stores coalesce). WPT and TK are build options (the tuner's configuration, default
// 4 and 16: 64 x 64 tiles); TS * TK must be a multiple of 256 (every work-item loads the same
// number of elements). Every shape is handled: loads past the edges read zero, stores are masked.
//   trans: bit 0 = A is K x M (else M x K); bit 1 = B is N x K (else K x N). A, B, C and the
// residual are TYA, TYB and TYC (gemm_common.cl; not integer types: those take gemm_int8.cl),
// accumulation is f32.
#ifndef WPT
#define WPT 4
#endif
#ifndef TK
#define TK 16
#endif
#define TS (16 * WPT)

__kernel __attribute__((reqd_work_group_size(16, 16, 1))) void gemm_tiled(
    __global const TYA* restrict A, __global const TYB* restrict B, __global TYC* restrict C,
    __global const float* restrict as, __global const float* restrict bs,
    __global const float* restrict bias, __global const TYC* restrict res, const int M,
    const int N, const int K, const int trans, const int epi) {
  const int tx = get_local_id(0), ty = get_local_id(1);
  const int col0 = get_group_id(0) * TS, row0 = get_group_id(1) * TS;
  const int b = get_global_id(2);
  const __global TYA* a = A + (long)b * M * K;
  const __global TYB* bb = B + (long)b * K * N;
  __local float As[TK][TS];
  __local float Bs[TK][TS];
  float acc[WPT][WPT];
  for (int i = 0; i < WPT; ++i)
    for (int j = 0; j < WPT; ++j) acc[i][j] = 0.0f;
  const int tid = ty * 16 + tx;

  for (int kt = 0; kt < K; kt += TK) {
    for (int l = 0; l < (TS * TK) / 256; ++l) {
      const int idx = tid + 256 * l;
      // Consecutive work-items read consecutive addresses in either layout.
      if (trans & 1) {
        const int ka = idx / TS, r = idx % TS;
        const int gr = row0 + r, gka = kt + ka;
        As[ka][r] = (gr < M && gka < K) ? LDA(a, (long)gka * M + gr) : 0.0f;
      } else {
        const int r = idx / TK, ka = idx % TK;
        const int gr = row0 + r, gka = kt + ka;
        As[ka][r] = (gr < M && gka < K) ? LDA(a, (long)gr * K + gka) : 0.0f;
      }
      if (trans & 2) {
        const int c = idx / TK, kb = idx % TK;
        const int gc = col0 + c, gkb = kt + kb;
        Bs[kb][c] = (gc < N && gkb < K) ? LDB(bb, (long)gc * K + gkb) : 0.0f;
      } else {
        const int kb = idx / TS, c = idx % TS;
        const int gc = col0 + c, gkb = kt + kb;
        Bs[kb][c] = (gc < N && gkb < K) ? LDB(bb, (long)gkb * N + gc) : 0.0f;
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < TK; ++kk) {
      float av[WPT], bv[WPT];
      for (int i = 0; i < WPT; ++i) av[i] = As[kk][ty + 16 * i];
      for (int j = 0; j < WPT; ++j) bv[j] = Bs[kk][tx + 16 * j];
      for (int i = 0; i < WPT; ++i)
        for (int j = 0; j < WPT; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }

  for (int i = 0; i < WPT; ++i) {
    const int row = row0 + ty + 16 * i;
    if (row >= M) continue;
    for (int j = 0; j < WPT; ++j) {
      const int col = col0 + tx + 16 * j;
      if (col >= N) continue;
      float x = tb_epi(acc[i][j], as, bs, bias, col, epi);
      const long o = (long)b * M * N + (long)row * N + col;
      if (epi & EPI_RES) x += LDC(res, o);
      STC(x, C, o);
    }
  }
}

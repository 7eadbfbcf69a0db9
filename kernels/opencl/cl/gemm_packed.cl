// GEMM on packed panels, for CPU devices (PoCL): one work-item owns an MR x NR block of C
// held in MR * NV float16 accumulators (NR = 16 * NV), so the compiler emits full-width vector
// FMAs with A broadcast from the row panel and B loaded from the column panel.
// The host loops over K in blocks of kc (so the panels stay in cache); flags: 1 = accumulate onto
// the partial sums (not the first K block), 2 = last K block (apply the epilogue `epi`, see
// gemm_common.cl). flags & 4 puts column blocks on dimension 0 (else row blocks). MR, NV:
// register block. Panels are f32 whatever the operands' types (gemm_pack.cl widens them); C and
// the residual are TYC. The partial sums between K blocks go to the workspace W: f32 (C itself
// when C is f32), or s32 with INT_ACC.
// INT_ACC (u8 x s8): the host keeps kc <= TB_INT_BLOCK, so a block's f32 sums are exact integers
// (gemm_common.cl); they are added to the s32 partial sums in W, and the last block's total is
// stored as it is (s32 C, no epilogue) or dequantised / epilogued in f32.
#define NR (16 * NV)
// A_DIRECT: A read in place (row-major M x K, TYA) instead of from packed row panels, for an A
// that changes every run (an activation in a device graph): no packing pass.
#ifdef A_DIRECT
#define TA TYA
#else
#define TA float
#endif

__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void gemm_packed(
    __global const TA* restrict Ap, __global const float* restrict Bp,
    __global TYC* C, __global float* W, __global const float* restrict as,
    __global const float* restrict bs, __global const float* restrict bias,
    __global const TYC* restrict res, const int M, const int N, const int K, const int k0,
    const int kc, const int flags, const int epi, const int rb) {
  const int swap = flags & 4;
  const int ig = get_global_id(swap ? 1 : 0), jb = get_global_id(swap ? 0 : 1);
  const int b = get_global_id(2);
  const int mb = (M + MR - 1) / MR, nb = (N + NR - 1) / NR;
  const __global float16* bp =
      (const __global float16*)(Bp + ((long)b * nb + jb) * (long)K * NR + (long)k0 * NR);
  const int col0 = jb * NR;
  __global TYC* c = C + (long)b * M * N;
#ifdef INT_ACC
  __global int* w = (__global int*)W + (long)b * M * N;
#else
  __global float* w = W + (long)b * M * N;
#endif

  // rb row blocks per work-item, one after the other: the kc x NR panel of B stays in L1.
  for (int ib = ig * rb; ib < min(ig * rb + rb, mb); ++ib) {
    const int row0 = ib * MR;
#ifdef A_DIRECT
    // Rows past M read row M - 1 (their results are not stored).
    const __global TYA* arow[MR];
#pragma unroll
    for (int r = 0; r < MR; ++r)
      arow[r] = Ap + (long)b * M * K + (long)min(row0 + r, M - 1) * K + k0;
#else
    const __global float* a = Ap + ((long)b * mb + ib) * (long)K * MR + (long)k0 * MR;
#endif
    float16 acc[MR][NV];
#ifndef INT_ACC  // (INT_ACC: each block starts from zero, its sum then goes onto W's)
    if (flags & 1) {
#pragma unroll
      for (int r = 0; r < MR; ++r)
#pragma unroll
        for (int v = 0; v < NV; ++v) {
          const int row = row0 + r, col = col0 + 16 * v;
          acc[r][v] = row < M ? tb_load16(w + (long)row * N + col, N - col) : (float16)(0.0f);
        }
    } else
#endif
    {
#pragma unroll
      for (int r = 0; r < MR; ++r)
#pragma unroll
        for (int v = 0; v < NV; ++v) acc[r][v] = (float16)(0.0f);
    }

    for (int k = 0; k < kc; ++k) {
      float16 bv[NV];
#pragma unroll
      for (int v = 0; v < NV; ++v) bv[v] = bp[k * NV + v];
#pragma unroll
      for (int r = 0; r < MR; ++r) {
#ifdef A_DIRECT
        const float16 av = (float16)(LDA(arow[r], k));
#else
        const float16 av = (float16)(a[k * MR + r]);
#endif
#pragma unroll
        for (int v = 0; v < NV; ++v) acc[r][v] = fma(av, bv[v], acc[r][v]);
      }
    }

#pragma unroll
    for (int r = 0; r < MR; ++r) {
      const int row = row0 + r;
      if (row >= M) break;
#pragma unroll
      for (int v = 0; v < NV; ++v) {
        const int col = col0 + 16 * v;
        if (col >= N) break;
        const long o = (long)row * N + col;
#ifdef INT_ACC
        int16 t = convert_int16(acc[r][v]);
        if (flags & 1) t += tb_load16i(w + o, N - col);
        if (!(flags & 2)) {
          tb_store16i(w + o, N - col, t);
          continue;
        }
#if TC_K == 5
        if (epi == 0) {  // the exact sum itself
          tb_store16i(c + o, N - col, t);
          continue;
        }
#endif
        float16 x = convert_float16(t);
#else
        float16 x = acc[r][v];
        if (!(flags & 2)) {
          tb_store16(w + o, N - col, x);
          continue;
        }
#endif
        x = tb_epi16(x, as, bs, bias, col, N - col, epi);
        if (epi & EPI_RES) x += tb_ldc16(res + (long)b * M * N + o, N - col);
        tb_stc16(c + o, N - col, x);
      }
    }
  }  // row blocks
}

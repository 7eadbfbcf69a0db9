// f32 GEMM on packed panels, for CPU devices (PoCL): one work-item owns an MR x NR block of C
// held in MR * NV float16 accumulators (NR = 16 * NV), so the compiler emits full-width vector
// FMAs with A broadcast from the row panel and B loaded from the column panel.
// The host loops over K in blocks of kc (so the panels stay in cache); flags: 1 = accumulate onto
// C (not the first K block), 2 = last K block (apply the epilogue `epi`, see gemm_common.cl).
// flags & 4 puts column blocks on dimension 0 (else row blocks).  MR, NV: register block.
// C and the residual are TIO (gemm_common.cl); the partial sums between K blocks go to the f32
// workspace W (for f32, W is C itself).
#define NR (16 * NV)
// A_DIRECT: A read in place (row-major M x K, TIO) instead of from packed row panels, for an A
// that changes every run (an activation in a device graph): no packing pass.
#ifdef A_DIRECT
#define TA TIO
#else
#define TA float
#endif

inline float16 tb_load16(const __global float* p, const int valid) {
  if (valid >= 16) return vload16(0, p);
  float t[16];
  for (int l = 0; l < 16; ++l) t[l] = l < valid ? p[l] : 0.0f;
  return vload16(0, t);
}

inline void tb_store16(__global float* p, const int valid, const float16 x) {
  if (valid >= 16) {
    vstore16(x, 0, p);
    return;
  }
  float t[16];
  vstore16(x, 0, t);
  for (int l = 0; l < valid; ++l) p[l] = t[l];
}

#ifdef HALF_IO
inline float16 tb_loadio16(const __global half* p, const int valid) {
  if (valid >= 16) return vload_half16(0, p);
  float t[16];
  for (int l = 0; l < 16; ++l) t[l] = l < valid ? vload_half(l, p) : 0.0f;
  return vload16(0, t);
}
inline void tb_storeio16(__global half* p, const int valid, const float16 x) {
  if (valid >= 16) {
    vstore_half16_rte(x, 0, p);
    return;
  }
  float t[16];
  vstore16(x, 0, t);
  for (int l = 0; l < valid; ++l) vstore_half_rte(t[l], l, p);
}
#else
#define tb_loadio16 tb_load16
#define tb_storeio16 tb_store16
#endif

__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void gemm_packed(
    __global const TA* restrict Ap, __global const float* restrict Bp,
    __global TIO* C, __global float* W, __global const float* restrict bias,
    __global const TIO* restrict res, const int M, const int N, const int K, const int k0,
    const int kc, const int flags, const int epi, const int rb) {
  const int swap = flags & 4;
  const int ig = get_global_id(swap ? 1 : 0), jb = get_global_id(swap ? 0 : 1);
  const int b = get_global_id(2);
  const int mb = (M + MR - 1) / MR, nb = (N + NR - 1) / NR;
  const __global float16* bp =
      (const __global float16*)(Bp + ((long)b * nb + jb) * (long)K * NR + (long)k0 * NR);
  const int col0 = jb * NR;
  __global TIO* c = C + (long)b * M * N;
  __global float* w = W + (long)b * M * N;

  // rb row blocks per work-item, one after the other: the kc x NR panel of B stays in L1.
  for (int ib = ig * rb; ib < min(ig * rb + rb, mb); ++ib) {
    const int row0 = ib * MR;
#ifdef A_DIRECT
    // Rows past M read row M - 1 (their results are not stored).
    const __global TIO* arow[MR];
#pragma unroll
    for (int r = 0; r < MR; ++r)
      arow[r] = Ap + (long)b * M * K + (long)min(row0 + r, M - 1) * K + k0;
#else
    const __global float* a = Ap + ((long)b * mb + ib) * (long)K * MR + (long)k0 * MR;
#endif
    float16 acc[MR][NV];
    if (flags & 1) {
#pragma unroll
      for (int r = 0; r < MR; ++r)
#pragma unroll
        for (int v = 0; v < NV; ++v) {
          const int row = row0 + r, col = col0 + 16 * v;
          acc[r][v] = row < M ? tb_load16(w + (long)row * N + col, N - col) : (float16)(0.0f);
        }
    } else {
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
        const float16 av = (float16)(TB_LD(arow[r], k));
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
        float16 x = acc[r][v];
        if (flags & 2) {
          if (epi & EPI_BIAS) x += tb_load16(bias + col, N - col);
          x = tb_act16(x, epi & 7);
          if (epi & EPI_RES)
            x += tb_loadio16(res + (long)b * M * N + (long)row * N + col, N - col);
          tb_storeio16(c + (long)row * N + col, N - col, x);
        } else {
          tb_store16(w + (long)row * N + col, N - col, x);
        }
      }
    }
  }  // row blocks
}

// Convolution, NHWC (layouts in kernels/problem.h). Built after gemm_common.cl (operand types
// TYA src, TYB weights, TYC dst and residual; the epilogue) and gemm_packed.cl (NR = 16 * NV).
// Arithmetic is f32 for every type; u8 x s8 sums stay exact: conv_igemm adds blocks of at most
// TB_INT_BLOCK products to s32 accumulators (INT_ACC), conv_direct sums in s32, and conv_dw is
// chosen for u8 x s8 only while R * S <= TB_INT_BLOCK (its f32 sums are then exact).
//   conv_igemm: implicit GEMM, no im2col buffer. M = output pixels, N = output channels of a
//     group, K = R * S * CG. One work-item owns MR pixels x NR channels in MR * NV float16
//     accumulators; the A operand is gathered from src on the fly (zero outside the image), the
//     B operand is the packed weight panel Wp[g][jb][R * S * CG][NR] (conv_pack_w, at upload).
//   conv_dw: depthwise without a channel multiplier, CPU devices: 16 channels x a row per
//     work-item (see below).
//   conv_direct: one input channel per group (depthwise, with or without a channel multiplier):
//     one work-item per output element, channels on dimension 0.

// Wp[g][jb][kk][NR] from W[g * KG + j][kk], zero past KG. global: (nbg * NR, KK, groups).
__kernel void conv_pack_w(__global const TYB* restrict W, __global float* restrict Wp,
                          const int KK, const int KG, const int nbg) {
  const int j = get_global_id(0), kk = get_global_id(1), g = get_global_id(2);
  const float v = j < KG ? LDB(W, ((long)g * KG + j) * KK + kk) : 0.0f;
  Wp[(((long)g * nbg + j / NR) * KK + kk) * NR + j % NR] = v;
}

// global: (ceil(OH * OW / MR), groups * nbg, N)
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void conv_igemm(
    __global const TYA* restrict src, __global const float* restrict Wp,
    __global TYC* restrict dst, __global const float* restrict as,
    __global const float* restrict bs, __global const float* restrict bias,
    __global const TYC* restrict res, const int H, const int W, const int C, const int OH,
    const int OW, const int R, const int S, const int st, const int pad, const int dl,
    const int CG, const int KG, const int nbg, const int epi) {
  const int ib = get_global_id(0), jb = get_global_id(1), n = get_global_id(2);
  const int g = jb / nbg, jl = jb % nbg, K = KG * (C / CG), P = OH * OW;
  const int KK = R * S * CG;
  const __global TYA* s0 = src + (long)n * H * W * C + g * CG;
  const __global float16* wp = (const __global float16*)(Wp + (long)jb * KK * NR);

  int iy0[MR], ix0[MR];
#pragma unroll
  for (int r = 0; r < MR; ++r) {
    const int p = min(ib * MR + r, P - 1);
    iy0[r] = (p / OW) * st - pad;
    ix0[r] = (p % OW) * st - pad;
  }
  float16 acc[MR][NV];
#pragma unroll
  for (int r = 0; r < MR; ++r)
#pragma unroll
    for (int v = 0; v < NV; ++v) acc[r][v] = (float16)(0.0f);
#ifdef INT_ACC
  int16 iacc[MR][NV];
#pragma unroll
  for (int r = 0; r < MR; ++r)
#pragma unroll
    for (int v = 0; v < NV; ++v) iacc[r][v] = (int16)(0);
  int pending = 0;  // products in acc since the last flush into iacc
#define TB_FLUSH()                                       \
  do {                                                   \
    for (int r = 0; r < MR; ++r)                         \
      for (int v = 0; v < NV; ++v) {                     \
        iacc[r][v] += convert_int16(acc[r][v]);          \
        acc[r][v] = (float16)(0.0f);                     \
      }                                                  \
    pending = 0;                                         \
  } while (0)
#endif

  for (int u = 0; u < R; ++u) {
    for (int q = 0; q < S; ++q) {
      int off[MR];
#pragma unroll
      for (int r = 0; r < MR; ++r) {
        const int iy = iy0[r] + u * dl, ix = ix0[r] + q * dl;
        off[r] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? (iy * W + ix) * C : -1;
      }
      const __global float16* w = wp + (long)(u * S + q) * CG * NV;
#ifdef INT_ACC
      for (int i0 = 0; i0 < CG; i0 += TB_INT_BLOCK) {
        const int i1 = min(CG, i0 + TB_INT_BLOCK);
        if (pending + i1 - i0 > TB_INT_BLOCK) TB_FLUSH();
        pending += i1 - i0;
#else
      {
        const int i0 = 0, i1 = CG;
#endif
        for (int i = i0; i < i1; ++i) {
          float16 bv[NV];
#pragma unroll
          for (int v = 0; v < NV; ++v) bv[v] = w[i * NV + v];
#pragma unroll
          for (int r = 0; r < MR; ++r) {
            const float16 av = (float16)(off[r] >= 0 ? LDA(s0, off[r] + i) : 0.0f);
#pragma unroll
            for (int v = 0; v < NV; ++v) acc[r][v] = fma(av, bv[v], acc[r][v]);
          }
        }
      }
    }
  }
#ifdef INT_ACC
  TB_FLUSH();
#undef TB_FLUSH
#endif

#pragma unroll
  for (int r = 0; r < MR; ++r) {
    const int p = ib * MR + r;
    if (p >= P) break;
    const long po = ((long)n * P + p) * K;
#pragma unroll
    for (int v = 0; v < NV; ++v) {
      const int col = jl * NR + 16 * v;
      if (col >= KG) break;
      const int o = g * KG + col;
#ifdef INT_ACC
#if TC_K == 5
      if (epi == 0) {  // the exact sum itself
        tb_store16i(dst + po + o, KG - col, iacc[r][v]);
        continue;
      }
#endif
      float16 x = convert_float16(iacc[r][v]);
#else
      float16 x = acc[r][v];
#endif
      x = tb_epi16(x, as, bs, bias, o, KG - col, epi);
      if (epi & EPI_RES) x += tb_ldc16(res + po + o, KG - col);
      tb_stc16(dst + po + o, KG - col, x);
    }
  }
}

// CG == 1: output channel o reads input channel o / KG. global: (K, OW, N * OH).
__kernel void conv_direct(__global const TYA* restrict src, __global const TYB* restrict Wt,
                          __global TYC* restrict dst, __global const float* restrict as,
                          __global const float* restrict bs, __global const float* restrict bias,
                          __global const TYC* restrict res, const int H, const int W,
                          const int C, const int OH, const int OW, const int R, const int S,
                          const int st, const int pad, const int dl, const int KG,
                          const int epi) {
  const int o = get_global_id(0), x = get_global_id(1), ny = get_global_id(2);
  const int n = ny / OH, y = ny % OH, K = KG * C, c = o / KG;
  const __global TYB* w = Wt + (long)o * R * S;
#ifdef INT_ACC
  int acc = 0;
#else
  float acc = 0.0f;
#endif
  for (int u = 0; u < R; ++u) {
    const int iy = y * st - pad + u * dl;
    if (iy < 0 || iy >= H) continue;
    for (int q = 0; q < S; ++q) {
      const int ix = x * st - pad + q * dl;
      if (ix < 0 || ix >= W) continue;
      const long si = (((long)n * H + iy) * W + ix) * C + c;
#ifdef INT_ACC
      acc += (int)src[si] * (int)w[u * S + q];
#else
      acc = fma(LDA(src, si), LDB(w, u * S + q), acc);
#endif
    }
  }
  const long d = (((long)n * OH + y) * OW + x) * K + o;
#if defined(INT_ACC) && TC_K == 5
  if (epi == 0) {  // the exact sum itself
    dst[d] = acc;
    return;
  }
#endif
  float v = tb_epi((float)acc, as, bs, bias, o, epi);
  if (epi & EPI_RES) v += LDC(res, d);
  STC(v, dst, d);
}

// Depthwise without a channel multiplier (CG == KG == 1) on CPU devices: one work-item owns 16
// channels of one output row, in blocks of DWX pixels held in float16 accumulators, so the
// compiler emits full-width FMAs along channels (NHWC: contiguous) instead of one work-item per
// output element. Weights packed channel-innermost, Wd[R * S][Cp], Cp = C rounded up to 16, zero
// past C (conv_pack_dw, whenever the weights change). global: (Cp / 16, N * OH).
#define DWX 4
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void conv_dw(
    __global const TYA* restrict src, __global const float* restrict Wd,
    __global TYC* restrict dst, __global const float* restrict as,
    __global const float* restrict bs, __global const float* restrict bias,
    __global const TYC* restrict res, const int H, const int W, const int C, const int OH,
    const int OW, const int R, const int S, const int st, const int pad, const int dl,
    const int Cp, const int epi) {
  const int c0 = get_global_id(0) * 16, ny = get_global_id(1);
  const int n = ny / OH, y = ny % OH, valid = C - c0;
  const __global TYA* s0 = src + (long)n * H * W * C + c0;
  for (int x0 = 0; x0 < OW; x0 += DWX) {
    float16 acc[DWX];
#pragma unroll
    for (int j = 0; j < DWX; ++j) acc[j] = (float16)(0.0f);
    for (int u = 0; u < R; ++u) {
      const int iy = y * st - pad + u * dl;
      if (iy < 0 || iy >= H) continue;
      const __global TYA* srow = s0 + (long)iy * W * C;
      for (int q = 0; q < S; ++q) {
        const float16 wv = vload16(0, Wd + (long)(u * S + q) * Cp + c0);
#pragma unroll
        for (int j = 0; j < DWX; ++j) {
          const int ix = (x0 + j) * st - pad + q * dl;
          if (ix >= 0 && ix < W) acc[j] = fma(tb_lda16(srow + (long)ix * C, valid), wv, acc[j]);
        }
      }
    }
#pragma unroll
    for (int j = 0; j < DWX; ++j) {
      if (x0 + j >= OW) break;
      const long d = (((long)n * OH + y) * OW + x0 + j) * C + c0;
#if defined(INT_ACC) && TC_K == 5
      if (epi == 0) {  // the exact sum itself
        tb_store16i(dst + d, valid, convert_int16(acc[j]));
        continue;
      }
#endif
      float16 v = tb_epi16(acc[j], as, bs, bias, c0, valid, epi);
      if (epi & EPI_RES) v += tb_ldc16(res + d, valid);
      tb_stc16(dst + d, valid, v);
    }
  }
}

// Wd[kk][c] from W[c][kk], zero past C. global: (Cp, KK).
__kernel void conv_pack_dw(__global const TYB* restrict W, __global float* restrict Wd,
                           const int KK, const int C, const int Cp) {
  const int c = get_global_id(0), kk = get_global_id(1);
  Wd[(long)kk * Cp + c] = c < C ? LDB(W, (long)c * KK + kk) : 0.0f;
}

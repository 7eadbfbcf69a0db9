// Fused scaled dot-product attention, head-major (layouts in kernels/problem.h), GQA and
// causal (query i sees keys j < i + S - Q + 1). Scores never leave registers: keys are consumed in
// tiles of 16 with an online softmax (running max m, running sum l, accumulator rescaled by
// exp(m_old - m_new)).
//   attn_prep:    K -> Kt [b*kv][D][Sp] (transposed, so that 16 keys' scores are one float16
//                 FMA chain), zero-padded (Sp: a multiple of 16); when D is not a multiple of 16,
//                 V -> Vp [b*kv][Sp][Dp] zero-padded as well (else V is read in place).
//   attn_fwd:     one work-item per BQ rows of one kv head (a row is a (query head of the group,
//                 query) pair, so decode with GQA shares each K/V load between the group's heads)
//                 and one split of the keys. With one split it writes O; with several (decode:
//                 few rows, many keys) it writes the unnormalised partial accumulator and (m, l),
//   attn_combine: and this second pass merges the splits.
// BQ: rows per work-item; DV = Dp / 16. Built after gemm_common.cl: Q, K and V are TYA (f32, or
// f16 / bf16 storage widened to f32 on load: attn_prep's copies Kt and Vp are f32, and the host
// has it copy V whenever V is not f32), O is f32, arithmetic f32.
// 16 consecutive elements of Q, K or V at p (all valid).
#define LDA16(p) TB_CAT(TB_LDV, TA_K)(p)

inline float tb_hmax16(const float16 v) {
  const float8 a = fmax(v.lo, v.hi);
  const float4 b = fmax(a.lo, a.hi);
  const float2 c = fmax(b.lo, b.hi);
  return fmax(c.x, c.y);
}
inline float tb_hsum16(const float16 v) {
  const float8 a = v.lo + v.hi;
  const float4 b = a.lo + a.hi;
  const float2 c = b.lo + b.hi;
  return c.x + c.y;
}

// Rows of work-item rb (BQ of them; past the last row, the last row again): the O row of each
// (grow) and how many keys it sees (lim). Returns the most keys any of them sees.
inline int tb_rows(const int rb, const int rows, const int b, const int kvh, const int group,
                   const int H, const int Q, const int S, const int causal, int grow[BQ],
                   int lim[BQ]) {
  int jmax = 0;
#pragma unroll
  for (int r = 0; r < BQ; ++r) {
    const int rr = min(rb * BQ + r, rows - 1);
    const int hq = kvh * group + rr / Q, i = rr % Q;
    grow[r] = (b * H + hq) * Q + i;
    lim[r] = causal ? min(S, i + S - Q + 1) : S;
    jmax = max(jmax, lim[r]);
  }
  return jmax;
}

// One online-softmax step of one row over a tile of 16 keys: the scores sc (-inf where not
// visible) update the running max m and sum l and rescale the row's accumulator; the tile's
// probabilities are left in p.
inline void tb_softmax_tile(const float16 sc, float* m, float* l, float16 acc[DV], float p[16]) {
  const float mnew = fmax(*m, tb_hmax16(sc));
  if (mnew == -INFINITY) {  // nothing visible yet for this row
    vstore16((float16)(0.0f), 0, p);
    return;
  }
  const float alpha = exp(*m - mnew);
  const float16 pr = exp(sc - mnew);
  *l = *l * alpha + tb_hsum16(pr);
  *m = mnew;
#pragma unroll
  for (int v = 0; v < DV; ++v) acc[v] *= alpha;
  vstore16(pr, 0, p);
}

// A split's partial for one row (row = split * nrows + O row): the unnormalised accumulator
// (DV * 16 floats) and (m, l), for attn_combine.
inline void tb_store_partial(__global float* part, __global float* part_ml, const long row,
                             const float16 acc[DV], const float m, const float l) {
  __global float16* o = (__global float16*)(part + row * DV * 16);
#pragma unroll
  for (int v = 0; v < DV; ++v) o[v] = acc[v];
  part_ml[2 * row] = m;
  part_ml[2 * row + 1] = l;
}

// 16 keys x 16 dims per work-item (contiguous reads along d, contiguous writes along keys).
// copy_v = 0 when D is a multiple of 16: attn_fwd then reads V in place. global: (Sp/16, Dp/16,
// B * KVH)
__kernel void attn_prep(__global const TYA* restrict K, __global const TYA* restrict V,
                        __global float* restrict Kt, __global float* restrict Vp, const int S,
                        const int Sp, const int D, const int Dp, const int copy_v) {
  const int j0 = get_global_id(0) * 16, t0 = get_global_id(1) * 16, bk = get_global_id(2);
  float tile[16][16];
  for (int jj = 0; jj < 16; ++jj) {
    const int j = j0 + jj;
    const long src = ((long)bk * S + j) * D;
    for (int e = 0; e < 16; ++e) {
      const int ok = j < S && t0 + e < D;
      tile[e][jj] = ok ? LDA(K, src + t0 + e) : 0.0f;
      if (copy_v) Vp[((long)bk * Sp + j) * Dp + t0 + e] = ok ? LDA(V, src + t0 + e) : 0.0f;
    }
  }
  for (int e = 0; e < 16 && t0 + e < D; ++e)
    vstore16(vload16(0, tile[e]), 0, Kt + ((long)bk * D + t0 + e) * Sp + j0);
}

// global: (ceil(group * Q / BQ), B * KVH, nsplit)
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void attn_fwd(
    __global const TYA* restrict Qm, __global const float* restrict Kt,
    __global const float* restrict Vp, __global float* restrict O, __global float* restrict part,
    __global float* restrict part_ml, const int H, const int KVH, const int Q, const int S,
    const int Sp, const int D, const int causal, const float scale, const int chunk,
    const int nrows, const int vrows) {
  const int rb = get_global_id(0), bk = get_global_id(1), sp = get_global_id(2);
  const int nsplit = get_global_size(2);
  const int b = bk / KVH, kvh = bk % KVH, group = H / KVH, rows = group * Q;
  const int Dp = DV * 16;
  const __global float* kt = Kt + (long)bk * D * Sp;
  const __global float* vp = Vp + (long)bk * vrows * Dp;  // vrows: S (V in place) or Sp

  int grow[BQ], lim[BQ];
  const int jmax = tb_rows(rb, rows, b, kvh, group, H, Q, S, causal, grow, lim);
  const int j_begin = sp * chunk, j_end = min(jmax, j_begin + chunk);

  float m[BQ], l[BQ];
  float16 acc[BQ][DV];
#pragma unroll
  for (int r = 0; r < BQ; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int v = 0; v < DV; ++v) acc[r][v] = (float16)(0.0f);
  }
  const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

  for (int j0 = j_begin; j0 < j_end; j0 += 16) {
    float16 s[BQ];
#pragma unroll
    for (int r = 0; r < BQ; ++r) s[r] = (float16)(0.0f);
    for (int t = 0; t < D; ++t) {
      const float16 k = vload16(0, kt + (long)t * Sp + j0);
#pragma unroll
      for (int r = 0; r < BQ; ++r) s[r] = fma((float16)(LDA(Qm, (long)grow[r] * D + t)), k, s[r]);
    }
    float p[BQ][16];
#pragma unroll
    for (int r = 0; r < BQ; ++r) {
      const int16 visible = (lane + j0) < (int16)(lim[r]);
      tb_softmax_tile(select((float16)(-INFINITY), s[r] * scale, visible), &m[r], &l[r], acc[r],
                      p[r]);
    }
    const int jn = min(16, j_end - j0);
    for (int jj = 0; jj < jn; ++jj) {
      const __global float16* vr = (const __global float16*)(vp + (long)(j0 + jj) * Dp);
#pragma unroll
      for (int v = 0; v < DV; ++v) {
        const float16 vv = vr[v];
#pragma unroll
        for (int r = 0; r < BQ; ++r) acc[r][v] = fma((float16)(p[r][jj]), vv, acc[r][v]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < BQ; ++r) {
    if (rb * BQ + r >= rows) break;
    if (nsplit == 1) {
      const float inv = 1.0f / l[r];
      __global float* o = O + (long)grow[r] * D;
#pragma unroll
      for (int v = 0; v < DV; ++v) {
        float t[16];
        vstore16(acc[r][v] * inv, 0, t);
        for (int e = 0; e < 16 && v * 16 + e < D; ++e) o[v * 16 + e] = t[e];
      }
    } else {
      tb_store_partial(part, part_ml, (long)sp * nrows + grow[r], acc[r], m[r], l[r]);
    }
  }
}

// Merges the splits of each row: O = sum_s exp(m_s - M) acc_s / sum_s exp(m_s - M) l_s, where
// M = max_s m_s (a split that saw no visible key has m = -inf, l = 0 and weighs nothing).
// global: (D, nrows)
__kernel void attn_combine(__global const float* restrict part,
                           __global const float* restrict part_ml, __global float* restrict O,
                           const int D, const int nrows, const int nsplit) {
  const int t = get_global_id(0), row = get_global_id(1);
  const int Dp = DV * 16;
  float M = -INFINITY;
  for (int s = 0; s < nsplit; ++s) M = fmax(M, part_ml[2 * ((long)s * nrows + row)]);
  float num = 0.0f, den = 0.0f;
  for (int s = 0; s < nsplit; ++s) {
    const long r = (long)s * nrows + row;
    const float w = exp(part_ml[2 * r] - M);
    num += w * part[r * Dp + t];
    den += w * part_ml[2 * r + 1];
  }
  O[(long)row * D + t] = num / den;
}

// Sums each of 16 vectors: lane j of the result is the sum of the lanes of x[j]. Pairwise
// even + odd halving keeps every lane block within one source vector (8, 4, 2, 1 lanes).
inline float16 tb_hsum16x16(const float16 x[16]) {
  float16 a[8], b[4], c[2];
#pragma unroll
  for (int i = 0; i < 8; ++i)
    a[i] = (float16)(x[2 * i].even + x[2 * i].odd, x[2 * i + 1].even + x[2 * i + 1].odd);
#pragma unroll
  for (int i = 0; i < 4; ++i)
    b[i] = (float16)(a[2 * i].even + a[2 * i].odd, a[2 * i + 1].even + a[2 * i + 1].odd);
#pragma unroll
  for (int i = 0; i < 2; ++i)
    c[i] = (float16)(b[2 * i].even + b[2 * i].odd, b[2 * i + 1].even + b[2 * i + 1].odd);
  return (float16)(c[0].even + c[0].odd, c[1].even + c[1].odd);
}

// Decode (few rows per kv head, many keys): like attn_fwd but K and V are read in place, row
// major, so nothing is transposed or copied per call; needs D = DV * 16. A key's score is a
// float16 FMA chain along d; the 16 partial vectors of a tile of 16 keys are summed at once
// (tb_hsum16x16). Same grid, splits and outputs as attn_fwd.
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void attn_decode(
    __global const TYA* restrict Qm, __global const TYA* restrict K,
    __global const TYA* restrict V, __global float* restrict O, __global float* restrict part,
    __global float* restrict part_ml, const int H, const int KVH, const int Q, const int S,
    const int causal, const float scale, const int chunk, const int nrows) {
  const int rb = get_global_id(0), bk = get_global_id(1), sp = get_global_id(2);
  const int nsplit = get_global_size(2);
  const int b = bk / KVH, kvh = bk % KVH, group = H / KVH, rows = group * Q;
  const int D = DV * 16;
  const __global TYA* kr = K + (long)bk * S * D;
  const __global TYA* vr = V + (long)bk * S * D;

  int grow[BQ], lim[BQ];
  const int jmax = tb_rows(rb, rows, b, kvh, group, H, Q, S, causal, grow, lim);
  float16 qv[BQ][DV];
#pragma unroll
  for (int r = 0; r < BQ; ++r)
#pragma unroll
    for (int v = 0; v < DV; ++v) qv[r][v] = LDA16(Qm + (long)grow[r] * D + v * 16) * scale;
  const int j_begin = sp * chunk, j_end = min(jmax, j_begin + chunk);

  float m[BQ], l[BQ];
  float16 acc[BQ][DV];
#pragma unroll
  for (int r = 0; r < BQ; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int v = 0; v < DV; ++v) acc[r][v] = (float16)(0.0f);
  }
  const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

  for (int j0 = j_begin; j0 < j_end; j0 += 16) {
    const int jn = min(16, j_end - j0);
    float p[BQ][16];
#pragma unroll
    for (int r = 0; r < BQ; ++r) {
      float16 x[16];
      if (jn == 16) {
#pragma unroll
        for (int jj = 0; jj < 16; ++jj) {
          const __global TYA* k = kr + (long)(j0 + jj) * D;
          float16 t = qv[r][0] * LDA16(k);
#pragma unroll
          for (int v = 1; v < DV; ++v) t = fma(qv[r][v], LDA16(k + v * 16), t);
          x[jj] = t;
        }
      } else {
        for (int jj = 0; jj < 16; ++jj) {
          float16 t = (float16)(0.0f);
          if (jj < jn) {
            const __global TYA* k = kr + (long)(j0 + jj) * D;
            for (int v = 0; v < DV; ++v) t = fma(qv[r][v], LDA16(k + v * 16), t);
          }
          x[jj] = t;
        }
      }
      const int16 visible = (lane + j0) < (int16)(lim[r]);
      tb_softmax_tile(select((float16)(-INFINITY), tb_hsum16x16(x), visible), &m[r], &l[r],
                      acc[r], p[r]);
    }
    for (int jj = 0; jj < jn; ++jj) {
      const __global TYA* vv = vr + (long)(j0 + jj) * D;
#pragma unroll
      for (int v = 0; v < DV; ++v) {
        const float16 x = LDA16(vv + v * 16);
#pragma unroll
        for (int r = 0; r < BQ; ++r) acc[r][v] = fma((float16)(p[r][jj]), x, acc[r][v]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < BQ; ++r) {
    if (rb * BQ + r >= rows) break;
    if (nsplit == 1) {
      const float inv = 1.0f / l[r];
#pragma unroll
      for (int v = 0; v < DV; ++v) vstore16(acc[r][v] * inv, v, O + (long)grow[r] * D);
    } else {
      tb_store_partial(part, part_ml, (long)sp * nrows + grow[r], acc[r], m[r], l[r]);
    }
  }
}

// The fused attention algorithm over a vector type Vec (lanes W, NV vectors per register tile).
// Included by each ISA file INSIDE AN ANONYMOUS NAMESPACE after <cstdint> and <cstdlib>: nothing
// here may become an external-linkage inline function shared across ISA files (the linker could
// keep the AVX-512 copy for every caller), so it uses builtins and malloc, no std templates.
//
// Per task (batch b, kv head, block of up to kRowBlock rows of the query heads it serves):
//   for each tile of kKeyTile keys visible to the block's last row:
//     S = (Q * 1/sqrt(d)) K^T for the tile, in register tiles of R rows x NV*W keys
//     per row: mask, new max m', alpha = exp(m - m'), P = exp(S - m'), l = l * alpha + sum(P)
//     acc = acc * alpha + P V_tile, in register tiles of R rows x NV*W head-dim columns
//   O = acc / l

template <class Vec>
struct Fused {
  using reg = typename Vec::reg;
  static constexpr int W = Vec::W, NV = Vec::NV, R = 4;
  static constexpr std::int64_t T = kKeyTile, RB = kRowBlock;

  static std::int64_t imin(std::int64_t a, std::int64_t b) { return a < b ? a : b; }

  // K of one kv head, [s][d], into tile-major Kt [Sp / T][d][T] (each key tile contiguous, so a
  // tile is a few pages, not d of them), keys s..Sp zero.
  static void transpose(const float* K, float* Kt, std::int64_t s, std::int64_t d,
                        std::int64_t Sp) {
    for (std::int64_t j0 = 0; j0 < Sp; j0 += T) {
      float* tile = Kt + j0 * d;
      for (std::int64_t j = j0; j < j0 + T; j += 16)
        for (std::int64_t t = 0; t < d; ++t)
          for (std::int64_t jj = j; jj < j + 16; ++jj)
            tile[t * T + (jj - j0)] = jj < s ? K[jj * d + t] : 0.0f;
    }
  }

  // sc[r][jt .. jt + NV*W) = qs[r] . Kt[:, jt .. jt + NV*W) for RR rows (qs pre-scaled; Kt is
  // one key tile, row stride T).
  template <int RR>
  static void scores_t(const float* qs, std::int64_t d, const float* Kt, float* sc) {
    reg acc[RR][NV];
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = Vec::zero();
    for (std::int64_t t = 0; t < d; ++t) {
      reg k[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) k[v] = Vec::load(Kt + t * T + v * W);
#pragma GCC unroll 4
      for (int r = 0; r < RR; ++r) {
        const reg qb = Vec::set1(qs[r * d + t]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = Vec::fma(qb, k[v], acc[r][v]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) Vec::store(sc + r * T + v * W, acc[r][v]);
  }

  // sc[r][jj] = qs[r] . K[jj] for nk keys (K row-major [key][d]; d a multiple of W).
  template <int RR>
  static void scores_dot(const float* qs, std::int64_t d, const float* K, std::int64_t nk,
                         float* sc) {
    for (std::int64_t jj = 0; jj < nk; ++jj) {
      reg acc[RR];
#pragma GCC unroll 4
      for (int r = 0; r < RR; ++r) acc[r] = Vec::zero();
      for (std::int64_t t = 0; t < d; t += W) {
        const reg kv = Vec::load(K + jj * d + t);
#pragma GCC unroll 4
        for (int r = 0; r < RR; ++r) acc[r] = Vec::fma(Vec::load(qs + r * d + t), kv, acc[r]);
      }
#pragma GCC unroll 4
      for (int r = 0; r < RR; ++r) sc[r * T + jj] = Vec::hsum(acc[r]);
    }
  }

  // acc[r][0 .. NC*W) = acc * alpha[r] + sum_jj p[r][jj] * Vt[jj][0 .. NC*W).
  template <int RR, int NC>
  static void pv(float* acc, std::int64_t d, const float* alpha, const float* p, const float* Vt,
                 std::int64_t nk) {
    reg o[RR][NC];
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r) {
      const reg a = Vec::set1(alpha[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) o[r][v] = Vec::mul(Vec::load(acc + r * d + v * W), a);
    }
    for (std::int64_t jj = 0; jj < nk; ++jj) {
      reg vv[NC];
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) vv[v] = Vec::load(Vt + jj * d + v * W);
#pragma GCC unroll 4
      for (int r = 0; r < RR; ++r) {
        const reg pb = Vec::set1(p[r * T + jj]);
#pragma GCC unroll 8
        for (int v = 0; v < NC; ++v) o[r][v] = Vec::fma(pb, vv[v], o[r][v]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) Vec::store(acc + r * d + v * W, o[r][v]);
  }

  template <int RR>
  static void pv_chunk(int nc, float* acc, std::int64_t d, const float* alpha, const float* p,
                       const float* Vt, std::int64_t nk) {
    switch (nc) {
      case 1:
        pv<RR, 1>(acc, d, alpha, p, Vt, nk);
        break;
      case 2:
        if constexpr (NV >= 2) pv<RR, 2>(acc, d, alpha, p, Vt, nk);
        break;
      case 3:
        if constexpr (NV >= 3) pv<RR, 3>(acc, d, alpha, p, Vt, nk);
        break;
      case 4:
        if constexpr (NV >= 4) pv<RR, 4>(acc, d, alpha, p, Vt, nk);
        break;
      case 8:
        if constexpr (NV >= 8) pv<RR, 8>(acc, d, alpha, p, Vt, nk);
        break;
      default:  // NV is 1, 2, 4 or 8: other counts split into smaller chunks
        for (int v = 0; v < nc; ++v) pv<RR, 1>(acc + v * W, d, alpha, p, Vt + v * W, nk);
    }
  }

  // Rows sb .. sb+RR of the block, one key tile: scores into sc, then (after softmax) P V.
  template <int RR>
  static void tile_scores(const float* qs, std::int64_t d, const float* Ktile, const float* Krows,
                          std::int64_t nk, float* sc) {
    if (Ktile) {
      for (std::int64_t jt = 0; jt < nk; jt += NV * W) scores_t<RR>(qs, d, Ktile + jt, sc + jt);
    } else {
      scores_dot<RR>(qs, d, Krows, nk, sc);
    }
  }
  template <int RR>
  static void tile_pv(float* acc, std::int64_t d, const float* alpha, const float* p,
                      const float* Vt, std::int64_t nk) {
    for (std::int64_t dc = 0; dc < d; dc += NV * W) {
      const int nc = static_cast<int>(imin(NV, (d - dc) / W));
      pv_chunk<RR>(nc, acc + dc, d, alpha, p, Vt + dc, nk);
    }
  }

  template <class F>
  static void by_rows(int rr, F&& f) {
    switch (rr) {
      case 1:
        f(Rows<1>{});
        break;
      case 2:
        f(Rows<2>{});
        break;
      case 3:
        f(Rows<3>{});
        break;
      default:
        f(Rows<4>{});
        break;
    }
  }
  template <int N>
  struct Rows {
    static constexpr int value = N;
  };

  // One task: rows r0 .. r0 + RB of kv head kvh's query rows. The G query heads sharing a kv
  // head are adjacent in Q and O, so their G * q rows are contiguous and one task serves them
  // all from one pass over K and V (GQA / MQA decode reads the cache once, not G times); row r
  // is query (r0 + r) % q of head kvh * G + (r0 + r) / q. scratch holds qs[RB*d], acc[RB*d],
  // sc[RB*T], m[RB], l[RB], alpha[RB].
  static void block(const Shape& sh, std::int64_t b, std::int64_t kvh, std::int64_t r0,
                    const float* Q, const float* K, const float* Vv, float* O, const float* Kt,
                    float* scratch) {
    const std::int64_t d = sh.d, s = sh.s, q = sh.q, G = sh.h / sh.kv;
    const std::int64_t rows = imin(RB, G * q - r0), Sp = padded_keys(sh);
    const float* Qp = Q + ((b * sh.h + kvh * G) * q + r0) * d;
    float* Op = O + ((b * sh.h + kvh * G) * q + r0) * d;
    const float* Kp = K + (b * sh.kv + kvh) * s * d;
    const float* Vp = Vv + (b * sh.kv + kvh) * s * d;
    const float* Ktp = Kt ? Kt + (b * sh.kv + kvh) * d * Sp : nullptr;
    float* qs = scratch;
    float* acc = qs + RB * d;
    float* sc = acc + RB * d;
    float* m = sc + RB * T;
    float* l = m + RB;
    float* alpha = l + RB;

    const float scale = 1.0f / __builtin_sqrtf(static_cast<float>(d));
    for (std::int64_t i = 0; i < rows * d; ++i) qs[i] = Qp[i] * scale, acc[i] = 0.0f;
    for (std::int64_t r = 0; r < rows; ++r) m[r] = -__builtin_inff(), l[r] = 0.0f;
    const auto limit = [&](std::int64_t r) {
      return sh.causal ? imin(s, (r0 + r) % q + (s - q) + 1) : s;
    };
    std::int64_t L = 0;  // keys visible to any row of the block
    for (std::int64_t r = 0; r < rows; ++r) L = limit(r) > L ? limit(r) : L;

    for (std::int64_t j0 = 0; j0 < L; j0 += T) {
      const std::int64_t nk = imin(T, L - j0);
      for (std::int64_t sb = 0; sb < rows; sb += R)
        by_rows(static_cast<int>(imin(R, rows - sb)), [&](auto rr) {
          tile_scores<decltype(rr)::value>(qs + sb * d, d, Ktp ? Ktp + j0 * d : nullptr,
                                           Kp + j0 * d, nk, sc + sb * T);
        });
      for (std::int64_t r = 0; r < rows; ++r) {
        float* sr = sc + r * T;
        const std::int64_t valid =
            limit(r) - j0 < nk ? (limit(r) - j0 > 0 ? limit(r) - j0 : 0) : nk;
        for (std::int64_t jj = valid; jj < T; ++jj) sr[jj] = -__builtin_inff();
        reg vm = Vec::set1(m[r]);
        for (std::int64_t jj = 0; jj < T; jj += W) vm = Vec::max(vm, Vec::load(sr + jj));
        const float mx = Vec::hmax(vm);
        if (valid == 0) {  // this row sees no key of the tile: P = 0, state unchanged
          for (std::int64_t jj = 0; jj < T; ++jj) sr[jj] = 0.0f;
          alpha[r] = 1.0f;
          continue;
        }
        alpha[r] = __builtin_expf(m[r] - mx);  // exp(-inf) = 0 on the first visible tile
        const reg vmx = Vec::set1(mx);
        reg sum = Vec::zero();
        for (std::int64_t jj = 0; jj < T; jj += W) {
          const reg e = Vec::exp(Vec::sub(Vec::load(sr + jj), vmx));
          Vec::store(sr + jj, e);
          sum = Vec::add(sum, e);
        }
        l[r] = l[r] * alpha[r] + Vec::hsum(sum);
        m[r] = mx;
      }
      for (std::int64_t sb = 0; sb < rows; sb += R)
        by_rows(static_cast<int>(imin(R, rows - sb)), [&](auto rr) {
          tile_pv<decltype(rr)::value>(acc + sb * d, d, alpha + sb, sc + sb * T, Vp + j0 * d, nk);
        });
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      const float inv = 1.0f / l[r];
      for (std::int64_t t = 0; t < d; ++t) Op[r * d + t] = acc[r * d + t] * inv;
    }
  }

  // False when a thread could not allocate its scratch (the output is then incomplete).
  static bool run(const Shape& sh, const float* Q, const float* K, const float* Vv, float* O,
                  float* ws) {
    const std::int64_t Sp = padded_keys(sh), d = sh.d;
    const bool tr = ws != nullptr;
    if (tr) {
#pragma omp parallel for collapse(2) schedule(static)
      for (std::int64_t b = 0; b < sh.b; ++b)
        for (std::int64_t k = 0; k < sh.kv; ++k)
          transpose(K + (b * sh.kv + k) * sh.s * d, ws + (b * sh.kv + k) * d * Sp, sh.s, d, Sp);
    }
    const std::int64_t blocks = (sh.h / sh.kv * sh.q + RB - 1) / RB;
    const std::size_t scratch_floats = static_cast<std::size_t>(2 * RB * d + RB * T + 3 * RB);
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
      float* scratch =
          static_cast<float*>(std::aligned_alloc(64, (scratch_floats * 4 + 63) / 64 * 64));
#pragma omp for collapse(3) schedule(dynamic, 1)
      for (std::int64_t b = 0; b < sh.b; ++b)
        for (std::int64_t kvh = 0; kvh < sh.kv; ++kvh)
          for (std::int64_t blk = 0; blk < blocks; ++blk) {
            if (scratch)
              block(sh, b, kvh, blk * RB, Q, K, Vv, O, tr ? ws : nullptr, scratch);
            else
              failed = 1;
          }
      std::free(scratch);
    }
    return failed == 0;
  }
};

// The fused attention algorithm over a vector type Vec (lanes W, NV vectors per register tile).
// Included by each ISA file INSIDE AN ANONYMOUS NAMESPACE after <cstdint> and <cstdlib>: nothing
// here may become an external-linkage inline function shared across ISA files (the linker could
// keep the AVX-512 copy for every caller), so it uses builtins and malloc, no std templates.
//
// Per task (batch b, kv head, block of up to kRowBlock rows of the query heads it serves, a
// range of keys: all of them, or one of key_chunks() ranges):
//   for each tile of kKeyTile keys of the range visible to the block's last row:
//     S = (Q * log2(e)/sqrt(d)) K^T for the tile: with K^T in register tiles of R rows x NV*W keys;
//         without (few rows, decode) W rows x keys dot products reduced together
//     per row: mask, new max m', alpha = 2^(m - m'), P = 2^(S - m'), l = l * alpha + sum(P)
//         (S in log2 units: Q is pre-scaled by log2(e) / sqrt(d))
//     acc = acc * alpha + P V_tile, in register tiles of R rows x NV*W head-dim columns (row
//         pairs x whole V rows without K^T)
//   O = acc / l, or with several key ranges (m, l, acc) per range, combined afterwards

// E: the element type of Q, K and V: float, or std::uint16_t holding bf16 bits (widened to f32
// on load, Vec::load's overload; all arithmetic is f32, and O is f32 either way). With bf16 and
// a Vec with bf16 dot products (Vec::kBf16Dot), the K^T path packs K and V into bf16 pairs
// instead and computes both products with them (kDot; see the *_dot functions).
template <class Vec, class E>
struct Fused {
  using reg = typename Vec::reg;
  static constexpr int W = Vec::W, NV = Vec::NV, R = 4;
  static constexpr std::int64_t T = kKeyTile, RB = kRowBlock;

  static constexpr bool kDot = Vec::kBf16Dot && sizeof(E) == 2;
  static std::int64_t imin(std::int64_t a, std::int64_t b) { return a < b ? a : b; }
  static float f32(E x) {
    if constexpr (sizeof(E) == 2)
      return __builtin_bit_cast(float, static_cast<std::uint32_t>(x) << 16);
    else
      return x;
  }

  // 2^x for x <= kLazy: scores are kept in log2 units (Q is pre-scaled by log2(e) / sqrt(d)), so
  // the softmax needs no multiply by log2(e) and no two-constant ln 2 reduction: n = round(x),
  // 2^(x - n) on [-1/2, 1/2] by the Cephes exp2f polynomial (1 + f P(f), max relative error
  // 7.9e-8), times 2^n; 0 below 2^-126 (2^-inf = 0, no denormals). 10 vector operations on
  // AVX-512, where expf's range reduction alone needs 7.
  static reg exp2(reg x) {
    x = Vec::max(x, Vec::set1(-127.0f));
    const reg n = Vec::round(x), f = Vec::sub(x, n);
    reg p = Vec::set1(1.535336188319500e-4f);
    p = Vec::fma(p, f, Vec::set1(1.339887440266574e-3f));
    p = Vec::fma(p, f, Vec::set1(9.618437357674640e-3f));
    p = Vec::fma(p, f, Vec::set1(5.550332471162809e-2f));
    p = Vec::fma(p, f, Vec::set1(2.402264791363012e-1f));
    p = Vec::fma(p, f, Vec::set1(6.931472028550421e-1f));
    return Vec::ldexp(Vec::fma(p, f, Vec::set1(1.0f)), n);
  }

  // K of one kv head, [s][d], into tile-major Kt [Sp / T][d][T] (each key tile contiguous, so a
  // tile is a few pages, not d of them), keys s..Sp zero; W x W blocks transposed in registers
  // (d is a multiple of W). kDot transposes bf16 pairs as 32-bit elements: In = float, d / 2.
  template <class In>
  static void transpose(const In* K, float* Kt, std::int64_t s, std::int64_t d, std::int64_t Sp) {
    for (std::int64_t j = 0; j < Sp; j += W) {
      float* tile = Kt + j / T * T * d + j % T;
      for (std::int64_t t = 0; t < d; t += W) {
        reg r[W];
        for (int i = 0; i < W; ++i) r[i] = j + i < s ? Vec::load(K + (j + i) * d + t) : Vec::zero();
        Vec::transpose(r);
        for (int i = 0; i < W; ++i) Vec::store(tile + (t + i) * T, r[i]);
      }
    }
  }

  // The register tile both products are made of: o[r][v] = mac(o[r][v], a(r, i), b(i, v)) for
  // steps i < n, RR rows x NC vectors; a step is one head dim or key (fma), or a pair of them
  // (bf16 dot products).
  template <int RR, int NC, class B, class A, class Mac>
  static void tile_mac(reg (&o)[RR][NC], std::int64_t n, B b, A a, Mac mac) {
    for (std::int64_t i = 0; i < n; ++i) {
      reg bv[NC];
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) bv[v] = b(i, v);
#pragma GCC unroll 4
      for (int r = 0; r < RR; ++r) {
        const reg av = a(r, i);
#pragma GCC unroll 8
        for (int v = 0; v < NC; ++v) o[r][v] = mac(o[r][v], av, bv[v]);
      }
    }
  }
  static reg fma_acc(reg acc, reg a, reg b) {
    return Vec::fma(a, b, acc);
  }
  // o = 0, or o = acc * alpha[r] (P V: the running output, rescaled); o back to a row-major tile
  // (row stride ld), times scale.
  template <int RR, int NC>
  static void tile_zero(reg (&o)[RR][NC]) {
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) o[r][v] = Vec::zero();
  }
  template <int RR, int NC>
  static void tile_load(reg (&o)[RR][NC], const float* acc, std::int64_t ld, const float* alpha) {
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r) {
      const reg a = Vec::set1(alpha[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) o[r][v] = Vec::mul(Vec::load(acc + r * ld + v * W), a);
    }
  }
  template <int RR, int NC>
  static void tile_store(reg (&o)[RR][NC], float* out, std::int64_t ld) {
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NC; ++v) Vec::store(out + r * ld + v * W, o[r][v]);
  }

  // sc[r][jt .. jt + NV*W) = qs[r] . Kt[:, jt .. jt + NV*W) for RR rows (qs pre-scaled; Kt is
  // one key tile, row stride T).
  template <int RR>
  static void scores_t(const float* qs, std::int64_t d, const float* Kt, float* sc) {
    reg acc[RR][NV];
    tile_zero(acc);
    tile_mac(
        acc, d, [&](std::int64_t t, int v) { return Vec::load(Kt + t * T + v * W); },
        [&](int r, std::int64_t t) { return Vec::set1(qs[r * d + t]); }, fma_acc);
    tile_store(acc, sc, T);
  }

  // sc[r][jj] = qs[r] . K[jj] for nk keys (K row-major [key][d]; d a multiple of W), W % RR == 0.
  // The few-row path (decode), where a K^T copy would cost more than it saves: W accumulators
  // hold RR rows x W/RR keys, and one transposing reduction (Vec::hsum_lanes) turns them into
  // W scores, instead of a horizontal sum per (row, key).
  template <int RR>
  static void scores_dot(const float* qs, std::int64_t d, const E* K, std::int64_t nk, float* sc) {
    constexpr int KS = W / RR;  // keys per step
    std::int64_t jj = 0;
    for (; jj + KS <= nk; jj += KS) {
      reg acc[W];
      // Key by key, each K row read front to back: the block of KS rows is one sequential
      // stream (measured: faster from DRAM than KS, or even 4, interleaved row streams).
#pragma GCC unroll 16
      for (int k = 0; k < KS; ++k) {
#pragma GCC unroll 4
        for (int r = 0; r < RR; ++r) acc[r * KS + k] = Vec::zero();
        for (std::int64_t t = 0; t < d; t += W) {
          const reg kv = Vec::load(K + (jj + k) * d + t);
#pragma GCC unroll 4
          for (int r = 0; r < RR; ++r)
            acc[r * KS + k] = Vec::fma(Vec::load(qs + r * d + t), kv, acc[r * KS + k]);
        }
      }
      alignas(64) float out[W];
      Vec::store(out, Vec::hsum_lanes(acc));
#pragma GCC unroll 4
      for (int r = 0; r < RR; ++r)
#pragma GCC unroll 16
        for (int k = 0; k < KS; ++k) sc[r * T + jj + k] = out[r * KS + k];
    }
    for (; jj < nk; ++jj) scores_key<RR>(qs, d, K + jj * d, sc + jj);
  }
  // sc[r][0] = qs[r] . k (one key: the tail of scores_dot).
  template <int RR>
  static void scores_key(const float* qs, std::int64_t d, const E* k, float* sc) {
    reg acc[RR];
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r) acc[r] = Vec::zero();
    for (std::int64_t t = 0; t < d; t += W) {
      const reg kv = Vec::load(k + t);
#pragma GCC unroll 4
      for (int r = 0; r < RR; ++r) acc[r] = Vec::fma(Vec::load(qs + r * d + t), kv, acc[r]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r) sc[r * T] = Vec::hsum(acc[r]);
  }
  // scores_dot for any RR: row counts that do not divide W go one row at a time.
  template <int RR>
  static void scores_rows(const float* qs, std::int64_t d, const E* K, std::int64_t nk, float* sc) {
    if constexpr (W % RR == 0) {
      scores_dot<RR>(qs, d, K, nk, sc);
    } else {
      for (int r = 0; r < RR; ++r) scores_dot<1>(qs + r * d, d, K, nk, sc + r * T);
    }
  }

  // acc[r][0 .. NC*W) = acc * alpha[r] + sum_jj p[r][jj] * Vt[jj][0 .. NC*W).
  template <int RR, int NC>
  static void pv(float* acc, std::int64_t d, const float* alpha, const float* p, const E* Vt,
                 std::int64_t nk) {
    reg o[RR][NC];
    tile_load(o, acc, d, alpha);
    tile_mac(
        o, nk, [&](std::int64_t jj, int v) { return Vec::load(Vt + jj * d + v * W); },
        [&](int r, std::int64_t jj) { return Vec::set1(p[r * T + jj]); }, fma_acc);
    tile_store(o, acc, d);
  }

  // pv over nc column vectors in register tiles of at most NCM vectors (8, 4, 3, 2, 1).
  template <int RR, int NCM>
  static void pv_chunk(int nc, float* acc, std::int64_t d, const float* alpha, const float* p,
                       const E* Vt, std::int64_t nk) {
    for (int v = 0; v < nc;) {
      const int left = nc - v;
      float* a = acc + v * W;
      const E* vt = Vt + v * W;
      if constexpr (NCM >= 8)
        if (left >= 8) {
          pv<RR, 8>(a, d, alpha, p, vt, nk), v += 8;
          continue;
        }
      if constexpr (NCM >= 4)
        if (left >= 4) {
          pv<RR, 4>(a, d, alpha, p, vt, nk), v += 4;
          continue;
        }
      if constexpr (NCM >= 3)
        if (left == 3) {
          pv<RR, 3>(a, d, alpha, p, vt, nk), v += 3;
          continue;
        }
      if constexpr (NCM >= 2)
        if (left >= 2) {
          pv<RR, 2>(a, d, alpha, p, vt, nk), v += 2;
          continue;
        }
      pv<RR, 1>(a, d, alpha, p, vt, nk), v += 1;
    }
  }

  // Rows sb .. sb+RR of the block, one key tile: scores into sc, then (after softmax) P V.
  template <int RR>
  static void tile_scores(const float* qs, std::int64_t d, const float* Ktile, const E* Krows,
                          std::int64_t nk, float* sc) {
    if (Ktile) {
      for (std::int64_t jt = 0; jt < nk; jt += NV * W) scores_t<RR>(qs, d, Ktile + jt, sc + jt);
    } else {
      scores_rows<RR>(qs, d, Krows, nk, sc);
    }
  }
  template <int RR>
  static void tile_pv(float* acc, std::int64_t d, const float* alpha, const float* p, const E* Vt,
                      std::int64_t nk) {
    // One or two rows (decode) take twice the columns: each V row is read in one pass.
    constexpr int NC = RR <= 2 ? 2 * NV : NV;
    pv_chunk<RR, NC>(static_cast<int>(d / W), acc, d, alpha, p, Vt, nk);
  }

  // f(Rows<rr>{}) for rr in 1 .. R.
  template <int N = 1, class F>
  static void by_rows(int rr, F&& f) {
    if constexpr (N < R) {
      if (rr != N) return by_rows<N + 1>(rr, f);
    }
    f(Rows<N>{});
  }
  template <int N>
  struct Rows {
    static constexpr int value = N;
  };

  // Scores and P V of one key tile for the rows of a block, in register tiles of up to R rows
  // for the scores and rpv rows for P V.
  static void tile_rows_scores(const float* qs, std::int64_t d, const float* Ktile, const E* Krows,
                               std::int64_t nk, float* sc, std::int64_t rows) {
    for (std::int64_t sb = 0; sb < rows; sb += R)
      by_rows(static_cast<int>(imin(R, rows - sb)), [&](auto rr) {
        tile_scores<decltype(rr)::value>(qs + sb * d, d, Ktile, Krows, nk, sc + sb * T);
      });
  }
  static void tile_rows_pv(float* acc, std::int64_t d, const float* alpha, const float* p,
                           const E* Vt, std::int64_t nk, std::int64_t rows, std::int64_t rpv) {
    for (std::int64_t sb = 0; sb < rows; sb += rpv)
      by_rows(static_cast<int>(imin(rpv, rows - sb)), [&](auto rr) {
        tile_pv<decltype(rr)::value>(acc + sb * d, d, alpha + sb, p + sb * T, Vt, nk);
      });
  }

  // kDot layouts, per kv head, in the K^T workspace (the same bytes as an f32 K^T): K as
  // [Sp / T][d / 2][T][2] (pairs of head dims, key-major within a tile: transpose() on 32-bit
  // pairs) and V as [Sp / 2][d][2] (pairs of keys: rows j and j + 1 interleaved), keys s..Sp 0.
  static void pack_v(const std::uint16_t* V, std::uint16_t* out, std::int64_t s, std::int64_t d,
                     std::int64_t Sp) {
    for (std::int64_t j = 0; j < Sp; j += 2) {
      std::uint32_t* o = reinterpret_cast<std::uint32_t*>(out + j * d);
      if (j + 1 < s) {
        const std::uint16_t *a = V + j * d, *b = a + d;
        for (std::int64_t c = 0; c < d; ++c) o[c] = a[c] | static_cast<std::uint32_t>(b[c]) << 16;
      } else if (j < s) {
        for (std::int64_t c = 0; c < d; ++c) o[c] = V[j * d + c];
      } else {
        for (std::int64_t c = 0; c < d; ++c) o[c] = 0u;
      }
    }
  }
  // sc[r][jt .. jt + NV*W) = scale * q[r] . K[jt .. jt + NV*W) from bf16 pairs (q: the block's
  // Q rows, stride d; Kp: one packed key tile + 2 jt).
  template <int RR>
  static void scores_dot_t(const std::uint16_t* q, std::int64_t d, const std::uint16_t* Kp,
                           float* sc, float scale) {
    reg acc[RR][NV];
    tile_zero(acc);
    tile_mac(
        acc, d / 2,
        [&](std::int64_t tp, int v) { return Vec::load_pairs(Kp + (tp * T + v * W) * 2); },
        [&](int r, std::int64_t tp) { return Vec::set1_pair(q + r * d + 2 * tp); }, Vec::dot);
    const reg sv = Vec::set1(scale);
#pragma GCC unroll 4
    for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = Vec::mul(acc[r][v], sv);
    tile_store(acc, sc, T);
  }

  // acc[r][0 .. NC*W) = acc * alpha[r] + sum over key pairs of p[r][pair] . Vp[pair][col][2]
  // (p: bf16 P rows, stride T; Vp: the tile's packed V + 2 * first column; np key pairs).
  template <int RR, int NC>
  static void pv_dot(float* acc, std::int64_t d, const float* alpha, const std::uint16_t* p,
                     const std::uint16_t* Vp, std::int64_t np) {
    reg o[RR][NC];
    tile_load(o, acc, d, alpha);
    tile_mac(
        o, np, [&](std::int64_t jp, int v) { return Vec::load_pairs(Vp + (jp * d + v * W) * 2); },
        [&](int r, std::int64_t jp) { return Vec::set1_pair(p + r * T + 2 * jp); }, Vec::dot);
    tile_store(o, acc, d);
  }

  // One key tile for the block's rows with bf16 dot products (d a multiple of 2 W): the scores
  // from the tile's packed K (Kp), then, after the softmax, P to bf16 (p16) and P V from the
  // tile's packed V (Vp).
  static void tile_dot_scores(const std::uint16_t* q, std::int64_t d, const std::uint16_t* Kp,
                              std::int64_t nk, float* sc, std::int64_t rows, float scale) {
    for (std::int64_t sb = 0; sb < rows; sb += R)
      by_rows(static_cast<int>(imin(R, rows - sb)), [&](auto rr) {
        for (std::int64_t jt = 0; jt < nk; jt += NV * W)
          scores_dot_t<decltype(rr)::value>(q + sb * d, d, Kp + 2 * jt, sc + sb * T + jt, scale);
      });
  }
  static void tile_dot_pv(std::int64_t d, const std::uint16_t* Vp, std::int64_t nk, const float* sc,
                          std::uint16_t* p16, float* acc, const float* alpha, std::int64_t rows) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t jj = 0; jj < T; jj += W)
        Vec::store_bf16(p16 + r * T + jj, Vec::load(sc + r * T + jj));
    const std::int64_t np = (nk + 1) / 2;  // an odd tail pairs with a P = 0 (masked) key
    for (std::int64_t sb = 0; sb < rows; sb += R)
      by_rows(static_cast<int>(imin(R, rows - sb)), [&](auto rr) {
        constexpr int RR = decltype(rr)::value;
        const float* al = alpha + sb;
        const std::uint16_t* pr = p16 + sb * T;
        for (std::int64_t c = 0; c < d; c += NV * W) {
          if (d - c >= NV * W)
            pv_dot<RR, NV>(acc + sb * d + c, d, al, pr, Vp + 2 * c, np);
          else
            pv_dot<RR, NV / 2>(acc + sb * d + c, d, al, pr, Vp + 2 * c, np);
        }
      });
  }

  // Per-row online softmax over one score tile: mask keys valid.. (hidden or past the tile),
  // P = 2^(S - m) in place, alpha = 2^(m_old - m), l = l * alpha + sum(P). l is a vector of W
  // partial sums, reduced once at the end, not per tile. The running max m is raised lazily: only
  // when a score passes it by more than kLazy (then to the tile's max), so P <= 2^kLazy (no
  // overflow) and most tiles need neither a horizontal max nor a rescale (alpha = 1).
  static constexpr float kLazy = 8.0f;
  static void softmax_row(float* sr, std::int64_t valid, float& m, float* l, float& alpha) {
    if (valid <= 0) {  // this row sees no key of the tile: P = 0, state unchanged
      for (std::int64_t jj = 0; jj < T; ++jj) sr[jj] = 0.0f;
      alpha = 1.0f;
      return;
    }
    for (std::int64_t jj = valid; jj < T; ++jj) sr[jj] = -__builtin_inff();
    reg vm = Vec::load(sr);
    for (std::int64_t jj = W; jj < T; jj += W) vm = Vec::max(vm, Vec::load(sr + jj));
    alpha = 1.0f;
    if (Vec::any_gt(vm, m + kLazy)) {  // m = -inf on the first visible tile: always taken
      const float mx = Vec::hmax(vm);
      alpha = __builtin_exp2f(m - mx);  // 2^-inf = 0 on the first visible tile
      m = mx;
    }
    const reg vmx = Vec::set1(m);
    reg sum = Vec::zero();
    for (std::int64_t jj = 0; jj < T; jj += W) {
      const reg e = exp2(Vec::sub(Vec::load(sr + jj), vmx));
      Vec::store(sr + jj, e);
      sum = Vec::add(sum, e);
    }
    Vec::store(l, Vec::fma(Vec::load(l), Vec::set1(alpha), sum));
  }

  // One task: rows r0 .. r0 + RB of kv head kvh's query rows, keys k0 .. k1 (k0 a multiple of
  // T). The G query heads sharing a kv head are adjacent in Q and O, so their G * q rows are
  // contiguous and one task serves them all from one pass over K and V (GQA / MQA decode reads
  // the cache once, not G times); row r is query (r0 + r) % q of head kvh * G + (r0 + r) / q.
  // part == nullptr: the task covers every key and writes O; else it writes its partial state
  // [RB][d] acc (unnormalised), [RB] m, [RB] l there for combine(). scratch holds qs[RB*d],
  // acc[RB*d], sc[RB*T], m[RB], alpha[RB], l[RB][W], p16[RB*T] (bf16, kDot).
  static void block(const Shape& sh, std::int64_t b, std::int64_t kvh, std::int64_t r0,
                    std::int64_t k0, std::int64_t k1, const E* Q, const E* K, const E* Vv, float* O,
                    float* part, const float* Kt, float* scratch) {
    const std::int64_t d = sh.d, s = sh.s, q = sh.q, G = sh.h / sh.kv;
    const std::int64_t rows = imin(RB, G * q - r0), Sp = padded_keys(sh);
    const E* Qp = Q + ((b * sh.h + kvh * G) * q + r0) * d;
    const E* Kp = K + (b * sh.kv + kvh) * s * d;
    const E* Vp = Vv + (b * sh.kv + kvh) * s * d;
    const float* Ktp = Kt ? Kt + (b * sh.kv + kvh) * d * Sp : nullptr;
    float* qs = scratch;
    float* acc = qs + RB * d;
    float* sc = acc + RB * d;
    float* m = sc + RB * T;
    float* alpha = m + RB;
    float* l = alpha + RB;  // [RB][W]
    std::uint16_t* p16 = reinterpret_cast<std::uint16_t*>(l + RB * W);

    // log2(e) / sqrt(d): scores in log2 units, for exp2 (m and the partials' m are too).
    const float scale = 1.4426950408889634f / __builtin_sqrtf(static_cast<float>(d));
    for (std::int64_t i = 0; i < rows * d; ++i) qs[i] = f32(Qp[i]) * scale, acc[i] = 0.0f;
    for (std::int64_t r = 0; r < rows; ++r) m[r] = -__builtin_inff();
    for (std::int64_t i = 0; i < rows * W; ++i) l[i] = 0.0f;
    const auto limit = [&](std::int64_t r) {  // keys visible to row r
      return sh.causal ? imin(k1, (r0 + r) % q + (s - q) + 1) : k1;
    };
    std::int64_t L = k0;  // keys of the range visible to any row of the block
    for (std::int64_t r = 0; r < rows; ++r) L = limit(r) > L ? limit(r) : L;

    for (std::int64_t j0 = k0; j0 < L; j0 += T) {
      const std::int64_t nk = imin(T, L - j0);
      if constexpr (kDot) {
        if (Ktp) {  // bf16 dot products on the packed K and V (see pack_v)
          const auto* Kd = reinterpret_cast<const std::uint16_t*>(Ktp) + j0 * d;
          const auto* Vd = reinterpret_cast<const std::uint16_t*>(Ktp) + Sp * d + j0 * d;
          tile_dot_scores(Qp, d, Kd, nk, sc, rows, scale);
          for (std::int64_t r = 0; r < rows; ++r)
            softmax_row(sc + r * T, imin(limit(r) - j0, nk), m[r], l + r * W, alpha[r]);
          tile_dot_pv(d, Vd, nk, sc, p16, acc, alpha, rows);
          continue;
        }
      }
      tile_rows_scores(qs, d, Ktp ? Ktp + j0 * d : nullptr, Kp + j0 * d, nk, sc, rows);
      for (std::int64_t r = 0; r < rows; ++r)
        softmax_row(sc + r * T, imin(limit(r) - j0, nk), m[r], l + r * W, alpha[r]);
      // Without K^T (few rows: decode) P V goes by row pairs, which take whole V rows (see
      // tile_pv): V is streamed row after row, not in column halves the prefetcher misses.
      tile_rows_pv(acc, d, alpha, sc, Vp + j0 * d, nk, rows, Ktp ? R : 2);
    }
    if (part) {
      for (std::int64_t i = 0; i < rows * d; ++i) part[i] = acc[i];
      for (std::int64_t r = 0; r < rows; ++r)
        part[RB * d + r] = m[r], part[RB * d + RB + r] = Vec::hsum(Vec::load(l + r * W));
      return;
    }
    float* Op = O + ((b * sh.h + kvh * G) * q + r0) * d;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float inv = 1.0f / Vec::hsum(Vec::load(l + r * W));
      for (std::int64_t t = 0; t < d; ++t) Op[r * d + t] = acc[r * d + t] * inv;
    }
  }

  // Row r of a task from its key-chunk partials (each [RB][d] acc, [RB] m, [RB] l, stride
  // stride): O = sum_c exp(m_c - M) acc_c / sum_c exp(m_c - M) l_c, M = max_c m_c. Every row
  // sees at least one key, so M is finite; chunks it saw nothing of have m = -inf, weight 0.
  static void combine(const float* part, std::int64_t chunks, std::int64_t stride, std::int64_t d,
                      std::int64_t r, float* o) {
    float M = -__builtin_inff(), sum = 0.0f;
    for (std::int64_t c = 0; c < chunks; ++c)
      M = part[c * stride + RB * d + r] > M ? part[c * stride + RB * d + r] : M;
    for (std::int64_t t = 0; t < d; t += W) Vec::store(o + t, Vec::zero());
    for (std::int64_t c = 0; c < chunks; ++c) {
      const float* pc = part + c * stride;
      const float w = __builtin_exp2f(pc[RB * d + r] - M);
      sum += w * pc[RB * d + RB + r];
      const reg wv = Vec::set1(w);
      for (std::int64_t t = 0; t < d; t += W)
        Vec::store(o + t, Vec::fma(wv, Vec::load(pc + r * d + t), Vec::load(o + t)));
    }
    const reg inv = Vec::set1(1.0f / sum);
    for (std::int64_t t = 0; t < d; t += W) Vec::store(o + t, Vec::mul(Vec::load(o + t), inv));
  }

  // False when scratch memory could not be allocated (the output is then incomplete). chunks
  // > 1 splits each task's keys into that many ranges run as separate tasks (flash-decoding:
  // parallelism over keys when there are few query rows), combined afterwards.
  static bool run(const Shape& sh, const E* Q, const E* K, const E* Vv, float* O, float* ws,
                  std::int64_t chunks) {
    const std::int64_t Sp = padded_keys(sh), d = sh.d;
    const bool tr = ws != nullptr;
    if (tr) {
#pragma omp parallel for collapse(2) schedule(static)
      for (std::int64_t b = 0; b < sh.b; ++b)
        for (std::int64_t k = 0; k < sh.kv; ++k) {
          const std::int64_t head = b * sh.kv + k;
          if constexpr (kDot) {  // packed K, then packed V: d * Sp bf16 each
            auto* out = reinterpret_cast<std::uint16_t*>(ws + head * d * Sp);
            transpose(reinterpret_cast<const float*>(K + head * sh.s * d),
                      reinterpret_cast<float*>(out), sh.s, d / 2, Sp);
            pack_v(Vv + head * sh.s * d, out + Sp * d, sh.s, d, Sp);
          } else {
            transpose(K + head * sh.s * d, ws + head * d * Sp, sh.s, d, Sp);
          }
        }
    }
    const std::int64_t rows = sh.h / sh.kv * sh.q, blocks = (rows + RB - 1) / RB;
    const std::int64_t tasks = sh.b * sh.kv * blocks;
    const std::int64_t span = (Sp / T + chunks - 1) / chunks * T;  // keys per chunk
    chunks = (sh.s + span - 1) / span;
    const std::int64_t stride = RB * (d + 2);
    float* part = nullptr;
    if (chunks > 1) {
      part =
          static_cast<float*>(std::aligned_alloc(64, (tasks * chunks * stride * 4 + 63) / 64 * 64));
      if (!part) return false;
    }
    const std::size_t scratch_floats =
        static_cast<std::size_t>(2 * RB * d + RB * T + (2 + W) * RB + RB * T / 2);
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
      float* scratch =
          static_cast<float*>(std::aligned_alloc(64, (scratch_floats * 4 + 63) / 64 * 64));
#pragma omp for schedule(dynamic, 1)
      for (std::int64_t i = 0; i < tasks * chunks; ++i) {
        const std::int64_t task = i / chunks, c = i % chunks, blk = task % blocks;
        const std::int64_t kvh = task / blocks % sh.kv, b = task / blocks / sh.kv;
        float* pi = part ? part + i * stride : nullptr;
        if (scratch)
          block(sh, b, kvh, blk * RB, c * span, imin(sh.s, (c + 1) * span), Q, K, Vv, O, pi,
                tr ? ws : nullptr, scratch);
        else
          failed = 1;
      }
      std::free(scratch);
      if (part) {
#pragma omp for schedule(static)
        for (std::int64_t i = 0; i < tasks * RB; ++i) {
          const std::int64_t task = i / RB, r = i % RB, blk = task % blocks;
          if (blk * RB + r >= rows) continue;
          const std::int64_t bk = task / blocks;  // b * kv + kvh
          combine(part + task * chunks * stride, chunks, stride, d, r,
                  O + (bk * rows + blk * RB + r) * d);
        }
      }
    }
    std::free(part);
    return failed == 0;
  }
};

// The entry point of each ISA file: Q, K, V as sh.bf16 says.
template <class Vec>
bool run_typed(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws,
               std::int64_t chunks) {
  if (sh.bf16) {
    using B = Fused<Vec, std::uint16_t>;
    return B::run(sh, static_cast<const std::uint16_t*>(Q), static_cast<const std::uint16_t*>(K),
                  static_cast<const std::uint16_t*>(V), O, ws, chunks);
  }
  return Fused<Vec, float>::run(sh, static_cast<const float*>(Q), static_cast<const float*>(K),
                                static_cast<const float*>(V), O, ws, chunks);
}

// The AVX-512F vector type of the fused attention (see attention_fused_impl.h), shared by the
// f32 instantiation (attention_fused_avx512.cpp) and the bf16 dot-product one
// (attention_fused_avx512bf16.cpp). Included INSIDE AN ANONYMOUS NAMESPACE, after <immintrin.h>
// and <cstdint>, by files compiled with at least -mavx512f -mfma.
// No include guard, like attention_fused_impl.h: each including file wants its own copy.
struct Vec512 {
  using reg = __m512;
  static constexpr int W = 16, NV = 4;
  static constexpr bool kBf16Dot = false;  // see attention_fused_avx512bf16.cpp
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  // bf16 bits, widened: f32 = bits << 16.
  static reg load(const std::uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
  }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static float hmax(reg v) { return _mm512_reduce_max_ps(v); }
  static bool any_gt(reg v, float x) { return _mm512_cmp_ps_mask(v, set1(x), _CMP_GT_OQ) != 0; }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static float hsum(reg v) { return _mm512_reduce_add_ps(v); }
  // Lane i = the sum of v[i]'s lanes, for 16 registers: a transposing tree (pairs within 128-bit
  // lanes, then quads, then across 128-bit lanes) of 45 operations instead of 16 reductions.
  static reg hsum_lanes(const reg* v) {
    reg p[8], q[4];
    for (int i = 0; i < 8; ++i)  // per 128-bit lane: v[2i] at 0, 2 and v[2i+1] at 1, 3
      p[i] = add(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                 _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; ++i)  // per 128-bit lane: partial sums of v[4i .. 4i+3]
      q[i] = add(_mm512_shuffle_ps(p[2 * i], p[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                 _mm512_shuffle_ps(p[2 * i], p[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    const auto fold = [](reg a, reg b) {  // [a01 a23 b01 b23] from the four lanes of a and b
      return add(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                 _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    };
    return fold(fold(q[0], q[1]), fold(q[2], q[3]));
  }
  // r[0 .. 16) = the columns of the 16 x 16 block whose rows are r[0 .. 16): pairs within
  // 128-bit lanes, then quads, then a 4 x 4 transpose of the 128-bit lanes.
  static void transpose(reg* r) {
    reg t[16];
    for (int i = 0; i < 8; ++i)
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]),
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    // The shuffle immediates must be constants even unoptimised: no k % 2 ? a : b here.
    for (int i = 0; i < 4; ++i) {  // r[4i + k], 128-bit lane L: column 4L + k of rows 4i .. 4i+3
      const reg *lo = t + 4 * i, *hi = t + 4 * i + 2;
      r[4 * i] = _mm512_shuffle_ps(lo[0], hi[0], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 1] = _mm512_shuffle_ps(lo[0], hi[0], _MM_SHUFFLE(3, 2, 3, 2));
      r[4 * i + 2] = _mm512_shuffle_ps(lo[1], hi[1], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 3] = _mm512_shuffle_ps(lo[1], hi[1], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; ++k) {
      const reg a = _mm512_shuffle_f32x4(r[k], r[4 + k], _MM_SHUFFLE(1, 0, 1, 0)),
                b = _mm512_shuffle_f32x4(r[k], r[4 + k], _MM_SHUFFLE(3, 2, 3, 2)),
                c = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(1, 0, 1, 0)),
                d = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(3, 2, 3, 2));
      t[k] = _mm512_shuffle_f32x4(a, c, _MM_SHUFFLE(2, 0, 2, 0));
      t[4 + k] = _mm512_shuffle_f32x4(a, c, _MM_SHUFFLE(3, 1, 3, 1));
      t[8 + k] = _mm512_shuffle_f32x4(b, d, _MM_SHUFFLE(2, 0, 2, 0));
      t[12 + k] = _mm512_shuffle_f32x4(b, d, _MM_SHUFFLE(3, 1, 3, 1));
    }
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }
  static reg round(reg x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // p * 2^n for integral n, 0 where n < -126 (vscalefps: no integer conversion).
  static reg ldexp(reg p, reg n) {
    return _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(n, set1(-126.0f), _CMP_GE_OQ), p, n);
  }
};

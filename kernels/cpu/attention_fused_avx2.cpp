// Fused attention, AVX2 + FMA instantiation (compiled with -mavx2 -mfma only; see CMakeLists).
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>

#include "attention_fused.h"

namespace tb::cpu::fused {
namespace {

struct Vec {
  using reg = __m256;
  static constexpr int W = 8, NV = 2;
  static constexpr bool kBf16Dot = false;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  // bf16 bits, widened: f32 = bits << 16.
  static reg load(const std::uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
  }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static float hmax(reg v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static bool any_gt(reg v, float x) {
    return _mm256_movemask_ps(_mm256_cmp_ps(v, set1(x), _CMP_GT_OQ)) != 0;
  }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static float hsum(reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // Lane i = the sum of v[i]'s lanes, for 8 registers (the transposing tree of the AVX-512 file).
  static reg hsum_lanes(const reg* v) {
    reg p[4], q[2];
    for (int i = 0; i < 4; ++i)
      p[i] = add(_mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                 _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 2; ++i)
      q[i] = add(_mm256_shuffle_ps(p[2 * i], p[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                 _mm256_shuffle_ps(p[2 * i], p[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return add(_mm256_permute2f128_ps(q[0], q[1], 0x20), _mm256_permute2f128_ps(q[0], q[1], 0x31));
  }
  // r[0 .. 8) = the columns of the 8 x 8 block whose rows are r[0 .. 8) (as in the AVX-512
  // file, with a 2 x 2 transpose of the 128-bit lanes last).
  static void transpose(reg* r) {
    reg t[8];
    for (int i = 0; i < 4; ++i)
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]),
            t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    for (int i = 0; i < 2; ++i) {  // constant immediates, as in the AVX-512 file
      const reg *lo = t + 4 * i, *hi = t + 4 * i + 2;
      r[4 * i] = _mm256_shuffle_ps(lo[0], hi[0], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 1] = _mm256_shuffle_ps(lo[0], hi[0], _MM_SHUFFLE(3, 2, 3, 2));
      r[4 * i + 2] = _mm256_shuffle_ps(lo[1], hi[1], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 3] = _mm256_shuffle_ps(lo[1], hi[1], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; ++k) {
      t[k] = _mm256_permute2f128_ps(r[k], r[4 + k], 0x20);
      t[4 + k] = _mm256_permute2f128_ps(r[k], r[4 + k], 0x31);
    }
    for (int i = 0; i < 8; ++i) r[i] = t[i];
  }
  static reg round(reg x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // p * 2^n for integral n, 0 where n < -126 (2^n built in the exponent bits).
  static reg ldexp(reg p, reg n) {
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_cmp_ps(n, set1(-126.0f), _CMP_GE_OQ),
                         mul(p, _mm256_castsi256_ps(e)));
  }
};

#include "attention_fused_impl.h"

}  // namespace

bool run_avx2(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws,
              std::int64_t chunks) {
  return run_typed<Vec>(sh, Q, K, V, O, ws, chunks);
}

}  // namespace tb::cpu::fused

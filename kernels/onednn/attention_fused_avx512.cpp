// Fused attention, AVX-512F instantiation (compiled with -mavx512f -mfma only; see CMakeLists).
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>

#include "attention_fused.h"

namespace tb::onednn::fused {
namespace {

struct Vec {
  using reg = __m512;
  static constexpr int W = 16, NV = 4;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static float hmax(reg v) { return _mm512_reduce_max_ps(v); }
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
  // Cephes expf: 2^n * p(f), |f| <= ln2/2; 0 below -87.3 (so exp(-inf) = 0).
  static reg exp(reg x) {
    const reg lo = set1(-87.3f);
    const __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), set1(88.0f));
    const reg n = _mm512_roundscale_ps(mul(x, set1(1.44269504088896341f)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    reg f = _mm512_fnmadd_ps(n, set1(0.693359375f), x);
    f = _mm512_fnmadd_ps(n, set1(-2.12194440e-4f), f);
    reg p = set1(1.9875691500e-4f);
    p = fma(p, f, set1(1.3981999507e-3f));
    p = fma(p, f, set1(8.3334519073e-3f));
    p = fma(p, f, set1(4.1665795894e-2f));
    p = fma(p, f, set1(1.6666665459e-1f));
    p = fma(p, f, set1(5.0000001201e-1f));
    p = fma(p, mul(f, f), add(f, set1(1.0f)));
    const __m512i e =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(e));
  }
};

#include "attention_fused_impl.h"

}  // namespace

bool run_avx512(const Shape& sh, const float* Q, const float* K, const float* V, float* O,
                float* ws, std::int64_t chunks) {
  return Fused<Vec>::run(sh, Q, K, V, O, ws, chunks);
}

}  // namespace tb::onednn::fused

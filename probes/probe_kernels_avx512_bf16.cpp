// AVX-512 BF16 loop of the probes (vdpbf16ps zmm). Compiled with -mavx512f -mavx512bf16.
#include <immintrin.h>

#include "probe_kernels.h"

namespace tb::probe::kern {

namespace {
// Horizontal sum through memory: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized.
float hsum(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float s = 0;
  for (float x : lanes) s += x;
  return s;
}
}  // namespace

float bf16_dpbf16_zmm(std::int64_t iters, std::uint32_t a, std::uint32_t b) {
  const __m512bh va = (__m512bh)_mm512_set1_epi32(static_cast<int>(a));
  const __m512bh vb = (__m512bh)_mm512_set1_epi32(static_cast<int>(b));
  __m512 acc[kZmmChains];
  for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  for (std::int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], va, vb);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kZmmChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  return hsum(sum);
}

}  // namespace tb::probe::kern

// AVX-VNNI loop of the probes (VEX vpdpbusd ymm, Alder Lake and later). Compiled with
// -mavx2 -mavxvnni.
#include <immintrin.h>

#include "probe_kernels.h"

namespace tb::probe::kern {

int s8_dpbusd_ymm(std::int64_t iters, std::int32_t a, std::int32_t b) {
  const __m256i va = _mm256_set1_epi32(a), vb = _mm256_set1_epi32(b);
  __m256i acc[kYmmChains];
  for (int c = 0; c < kYmmChains; ++c) acc[c] = _mm256_set1_epi32(c);
  for (std::int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kYmmChains; ++c) acc[c] = _mm256_dpbusd_avx_epi32(acc[c], va, vb);
  }
  __m256i sum = acc[0];
  for (int c = 1; c < kYmmChains; ++c) sum = _mm256_add_epi32(sum, acc[c]);
  alignas(32) int lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
  unsigned total = 0;  // unsigned: wrap-around is defined
  for (int v : lanes) total += static_cast<unsigned>(v);
  return static_cast<int>(total);
}

}  // namespace tb::probe::kern

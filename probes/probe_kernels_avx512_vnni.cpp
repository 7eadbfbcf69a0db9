// AVX-512 VNNI loop of the probes (vpdpbusd zmm). Compiled with -mavx512f -mavx512vnni.
#include <immintrin.h>

#include "probe_kernels.h"

namespace tb::probe::kern {

int s8_dpbusd_zmm(std::int64_t iters, std::int32_t a, std::int32_t b) {
  const __m512i va = _mm512_set1_epi32(a), vb = _mm512_set1_epi32(b);
  __m512i acc[kZmmChains];
  for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_set1_epi32(c);
  for (std::int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], va, vb);
  }
  __m512i sum = acc[0];
  for (int c = 1; c < kZmmChains; ++c) sum = _mm512_add_epi32(sum, acc[c]);
  alignas(64) int lanes[16];
  _mm512_store_si512(lanes, sum);  // not _mm512_reduce_add_epi32: GCC 12 -Wuninitialized
  unsigned total = 0;              // unsigned: wrap-around is defined
  for (int v : lanes) total += static_cast<unsigned>(v);
  return static_cast<int>(total);
}

}  // namespace tb::probe::kern

// Baseline x86-64 loops of the probes (SSE2 and plain integer code): no extra -m flags.
#include <emmintrin.h>

#include "probe_kernels.h"

namespace tb::probe::kern {

std::uint64_t add_chain(std::int64_t iters) {
  std::uint64_t acc = 0;
  const std::uint64_t one = 1;
  // kAddsPerIter dependent adds of a register (not an immediate, which some cores fold at
  // rename); the loop counter is a separate chain that runs in parallel.
  __asm__ volatile(
      "1:\n\t"
      ".rept 64\n\t"
      "add %[one], %[acc]\n\t"
      ".endr\n\t"
      "dec %[n]\n\t"
      "jnz 1b"
      : [acc] "+r"(acc), [n] "+r"(iters)
      : [one] "r"(one)
      : "cc");
  return acc;
}

float read_xmm(const float* src, std::size_t n) {
  __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (std::size_t i = 0; i < n; i += 16) {
    s0 = _mm_add_ps(s0, _mm_load_ps(src + i));
    s1 = _mm_add_ps(s1, _mm_load_ps(src + i + 4));
    s2 = _mm_add_ps(s2, _mm_load_ps(src + i + 8));
    s3 = _mm_add_ps(s3, _mm_load_ps(src + i + 12));
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

void copy_xmm(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 16) {
    const __m128 v0 = _mm_load_ps(src + i), v1 = _mm_load_ps(src + i + 4);
    const __m128 v2 = _mm_load_ps(src + i + 8), v3 = _mm_load_ps(src + i + 12);
    _mm_store_ps(dst + i, v0);
    _mm_store_ps(dst + i + 4, v1);
    _mm_store_ps(dst + i + 8, v2);
    _mm_store_ps(dst + i + 12, v3);
  }
}

void copy_nt_xmm(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 16) {
    const __m128 v0 = _mm_load_ps(src + i), v1 = _mm_load_ps(src + i + 4);
    const __m128 v2 = _mm_load_ps(src + i + 8), v3 = _mm_load_ps(src + i + 12);
    _mm_stream_ps(dst + i, v0);
    _mm_stream_ps(dst + i + 4, v1);
    _mm_stream_ps(dst + i + 8, v2);
    _mm_stream_ps(dst + i + 12, v3);
  }
  _mm_sfence();
}

void triad_xmm(float* a, const float* b, const float* c, float s, std::size_t n) {
  const __m128 vs = _mm_set1_ps(s);
  for (std::size_t i = 0; i < n; i += 4) {
    _mm_store_ps(a + i, _mm_add_ps(_mm_load_ps(b + i), _mm_mul_ps(vs, _mm_load_ps(c + i))));
  }
}

}  // namespace tb::probe::kern

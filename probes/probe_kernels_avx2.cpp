// AVX2 + FMA loops of the probes. Compiled with -mavx2 -mfma.
#include <immintrin.h>

#include "probe_kernels.h"

namespace tb::probe::kern {

namespace {
float hsum(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  float s = 0;
  for (float x : lanes) s += x;
  return s;
}
}  // namespace

float f32_fma_ymm(std::int64_t iters, float a, float b) {
  const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  __m256 acc[kYmmChains];
  for (int c = 0; c < kYmmChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c) * 1e-3f);
  for (std::int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kYmmChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], va, vb);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kYmmChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  return hsum(sum);
}

std::uint64_t add_chain_fma_ymm(std::int64_t iters) {
  std::uint64_t acc = 0;
  const std::uint64_t one = 1;
  __m256 a0 = _mm256_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  const __m256 x = _mm256_set1_ps(0.5f), y = _mm256_set1_ps(1e-3f);
  __asm__ volatile(
      "1:\n\t"
      ".rept 8\n\t"
      "add %[one], %[acc]\n\tvfmadd231ps %[x], %[y], %[a0]\n\t"
      "add %[one], %[acc]\n\tvfmadd231ps %[x], %[y], %[a1]\n\t"
      "add %[one], %[acc]\n\tvfmadd231ps %[x], %[y], %[a2]\n\t"
      "add %[one], %[acc]\n\tvfmadd231ps %[x], %[y], %[a3]\n\t"
      "add %[one], %[acc]\n\tvfmadd231ps %[x], %[y], %[a4]\n\t"
      "add %[one], %[acc]\n\tvfmadd231ps %[x], %[y], %[a5]\n\t"
      "add %[one], %[acc]\n\tvfmadd231ps %[x], %[y], %[a6]\n\t"
      "add %[one], %[acc]\n\tvfmadd231ps %[x], %[y], %[a7]\n\t"
      ".endr\n\t"
      "dec %[n]\n\t"
      "jnz 1b"
      : [acc] "+r"(acc), [n] "+r"(iters), [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2),
        [a3] "+x"(a3), [a4] "+x"(a4), [a5] "+x"(a5), [a6] "+x"(a6), [a7] "+x"(a7)
      : [one] "r"(one), [x] "x"(x), [y] "x"(y)
      : "cc");
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                 _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  return acc + (hsum(s) < 0 ? 1 : 0);
}

float read_ymm(const float* src, std::size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (std::size_t i = 0; i < n; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(src + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(src + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(src + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(src + i + 24));
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
}

void copy_ymm(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 32) {
    const __m256 v0 = _mm256_load_ps(src + i), v1 = _mm256_load_ps(src + i + 8);
    const __m256 v2 = _mm256_load_ps(src + i + 16), v3 = _mm256_load_ps(src + i + 24);
    _mm256_store_ps(dst + i, v0);
    _mm256_store_ps(dst + i + 8, v1);
    _mm256_store_ps(dst + i + 16, v2);
    _mm256_store_ps(dst + i + 24, v3);
  }
}

void copy_nt_ymm(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 32) {
    const __m256 v0 = _mm256_load_ps(src + i), v1 = _mm256_load_ps(src + i + 8);
    const __m256 v2 = _mm256_load_ps(src + i + 16), v3 = _mm256_load_ps(src + i + 24);
    _mm256_stream_ps(dst + i, v0);
    _mm256_stream_ps(dst + i + 8, v1);
    _mm256_stream_ps(dst + i + 16, v2);
    _mm256_stream_ps(dst + i + 24, v3);
  }
  _mm_sfence();
}

void triad_ymm(float* a, const float* b, const float* c, float s, std::size_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  for (std::size_t i = 0; i < n; i += 16) {
    _mm256_store_ps(a + i, _mm256_fmadd_ps(vs, _mm256_load_ps(c + i), _mm256_load_ps(b + i)));
    _mm256_store_ps(a + i + 8,
                    _mm256_fmadd_ps(vs, _mm256_load_ps(c + i + 8), _mm256_load_ps(b + i + 8)));
  }
}

}  // namespace tb::probe::kern

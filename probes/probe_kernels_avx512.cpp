// AVX-512 F loops of the probes. Compiled with -mavx512f -mfma only.
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

float f32_fma_zmm(std::int64_t iters, float a, float b) {
  const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  __m512 acc[kZmmChains];
  for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c) * 1e-3f);
  for (std::int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], va, vb);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kZmmChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  return hsum(sum);
}

std::uint64_t add_chain_fma_zmm(std::int64_t iters) {
  std::uint64_t acc = 0;
  const std::uint64_t one = 1;
  __m512 a0 = _mm512_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  const __m512 x = _mm512_set1_ps(0.5f), y = _mm512_set1_ps(1e-3f);
  // 64 adds in one dependency chain; 64 FMAs over 8 accumulators (8 per accumulator per
  // iteration, so FMA latency and throughput both stay under the 64 cycles of the add chain).
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
      : [acc] "+r"(acc), [n] "+r"(iters), [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2),
        [a3] "+v"(a3), [a4] "+v"(a4), [a5] "+v"(a5), [a6] "+v"(a6), [a7] "+v"(a7)
      : [one] "r"(one), [x] "v"(x), [y] "v"(y)
      : "cc");
  const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                 _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  return acc + (hsum(s) < 0 ? 1 : 0);
}

float read_zmm(const float* src, std::size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (std::size_t i = 0; i < n; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(src + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(src + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(src + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(src + i + 48));
  }
  alignas(64) float lanes[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it (-Werror)
  _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
}

void copy_zmm(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 64) {
    const __m512 v0 = _mm512_load_ps(src + i), v1 = _mm512_load_ps(src + i + 16);
    const __m512 v2 = _mm512_load_ps(src + i + 32), v3 = _mm512_load_ps(src + i + 48);
    _mm512_store_ps(dst + i, v0);
    _mm512_store_ps(dst + i + 16, v1);
    _mm512_store_ps(dst + i + 32, v2);
    _mm512_store_ps(dst + i + 48, v3);
  }
}

void copy_nt_zmm(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 64) {
    const __m512 v0 = _mm512_load_ps(src + i), v1 = _mm512_load_ps(src + i + 16);
    const __m512 v2 = _mm512_load_ps(src + i + 32), v3 = _mm512_load_ps(src + i + 48);
    _mm512_stream_ps(dst + i, v0);
    _mm512_stream_ps(dst + i + 16, v1);
    _mm512_stream_ps(dst + i + 32, v2);
    _mm512_stream_ps(dst + i + 48, v3);
  }
  _mm_sfence();
}

void triad_zmm(float* a, const float* b, const float* c, float s, std::size_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  for (std::size_t i = 0; i < n; i += 32) {
    _mm512_store_ps(a + i, _mm512_fmadd_ps(vs, _mm512_load_ps(c + i), _mm512_load_ps(b + i)));
    _mm512_store_ps(a + i + 16,
                    _mm512_fmadd_ps(vs, _mm512_load_ps(c + i + 16), _mm512_load_ps(b + i + 16)));
  }
}

}  // namespace tb::probe::kern

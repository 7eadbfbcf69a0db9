// Fused attention with bf16 dot products (AVX512-BF16 vdpbf16ps: 32 bf16 products summed in
// pairs into 16 f32 lanes, twice the FMAs' rate), for bf16 Q, K, V with a K and V copy (prefill):
// S = Q K^T from bf16 Q and K pairs along the head dim, P V from P rounded to bf16 (as oneDNN's
// composed bf16 attention does) and V pairs along the keys; sums, softmax and O in f32.
// Compiled with -mavx512f -mavx512bf16 -mfma (see CMakeLists); chosen only where the CPU has
// AVX512-BF16 (attention_fused.cpp).
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>

#include "attention_fused.h"

namespace tb::cpu::fused {
namespace {

#include "attention_fused_avx512_vec.h"

struct Vec : Vec512 {
  static constexpr bool kBf16Dot = true;
  // acc + a[2i] b[2i] + a[2i+1] b[2i+1] per f32 lane i; a, b hold 32 bf16 each.
  static reg dot(reg acc, reg a, reg b) {
    return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
  }
  static reg load_pairs(const std::uint16_t* p) { return _mm512_loadu_ps(p); }  // 32 bf16
  static reg set1_pair(const std::uint16_t* p) {  // one bf16 pair in every lane
    std::uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(v)));
  }
  static void store_bf16(std::uint16_t* p, reg v) {  // 16 f32, rounded to nearest even
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
  }
};

#include "attention_fused_impl.h"

}  // namespace

bool run_avx512bf16(const Shape& sh, const void* Q, const void* K, const void* V, float* O,
                    float* ws, std::int64_t chunks) {
  return run_typed<Vec>(sh, Q, K, V, O, ws, chunks);
}

}  // namespace tb::cpu::fused

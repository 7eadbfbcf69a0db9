// Fused attention, AVX-512F instantiation (compiled with -mavx512f -mfma only; see CMakeLists).
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>

#include "attention_fused.h"

namespace tb::cpu::fused {
namespace {

#include "attention_fused_avx512_vec.h"
using Vec = Vec512;

#include "attention_fused_impl.h"

}  // namespace

bool run_avx512(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws,
                std::int64_t chunks) {
  return run_typed<Vec>(sh, Q, K, V, O, ws, chunks);
}

}  // namespace tb::cpu::fused

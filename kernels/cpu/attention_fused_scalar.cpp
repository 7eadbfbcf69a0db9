// Fused attention, portable scalar instantiation (baseline flags): the fallback on any CPU.
#include <cstdint>
#include <cstdlib>

#include "attention_fused.h"

namespace tb::cpu::fused {
namespace {

struct Vec {
  using reg = float;
  static constexpr int W = 1, NV = 8;
  static constexpr bool kBf16Dot = false;
  static reg zero() { return 0.0f; }
  static reg set1(float x) { return x; }
  static reg load(const float* p) { return *p; }
  static reg load(const std::uint16_t* p) {  // bf16 bits, widened
    return __builtin_bit_cast(float, static_cast<std::uint32_t>(*p) << 16);
  }
  static void store(float* p, reg v) { *p = v; }
  static reg fma(reg a, reg b, reg c) { return a * b + c; }
  static reg mul(reg a, reg b) { return a * b; }
  static reg add(reg a, reg b) { return a + b; }
  static reg max(reg a, reg b) { return a > b ? a : b; }
  static float hmax(reg v) { return v; }
  static bool any_gt(reg v, float x) { return v > x; }
  static reg sub(reg a, reg b) { return a - b; }
  static float hsum(reg v) { return v; }
  static reg hsum_lanes(const reg* v) { return v[0]; }
  static void transpose(reg*) {}  // a 1 x 1 block
  static reg round(reg x) { return __builtin_rintf(x); }
  static reg ldexp(reg p, reg n) {
    return n < -126.0f ? 0.0f : __builtin_ldexpf(p, static_cast<int>(n));
  }
};

#include "attention_fused_impl.h"

}  // namespace

bool run_scalar(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws,
                std::int64_t chunks) {
  return run_typed<Vec>(sh, Q, K, V, O, ws, chunks);
}

}  // namespace tb::cpu::fused

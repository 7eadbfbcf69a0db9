// Elementwise binary ops on Vulkan, f32 (shaders/elementwise.comp): add, mul, one invocation
// per element.
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_binary(const Problem& p, const Context& ctx) {
  return supports_small_op(p, ctx);
}

Result<OpPlan> binary_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_binary(p, ctx); !s.supported) return make_error(s.reason);
  const auto* b = p.as<BinaryDesc>();
  OpPlan plan;
  plan.blob = "binary_f32";
  plan.items = static_cast<std::uint64_t>(b->n);
  plan.push = {u32(b->n), b->kind == BinaryKind::mul ? 1u : 0u, 0u};
  plan.bindings = {0, 1, 2};
  return plan;
}

}  // namespace tb::vulkan

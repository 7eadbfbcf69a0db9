// RoPE on Vulkan, f32 (shaders/elementwise.comp), one invocation per rotated pair.
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_rope(const Problem& p, const Context& ctx) {
  const bool odd = p.as<RopeDesc>()->d % 2 != 0;
  return supports_small_op(
      p, ctx, odd ? Support::no("vulkan: rope needs an even head dim") : Support::yes());
}

Result<OpPlan> rope_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_rope(p, ctx); !s.supported) return make_error(s.reason);
  const auto* r = p.as<RopeDesc>();
  OpPlan plan;
  plan.blob = "rope_f32";
  plan.items = static_cast<std::uint64_t>(r->t * r->h * (r->d / 2));
  plan.push = {static_cast<std::uint32_t>(plan.items), u32(r->h), u32(r->d)};
  plan.bindings = {0, 1, 2, 3};
  return plan;
}

}  // namespace tb::vulkan

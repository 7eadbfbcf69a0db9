// Permute of the two outer axes on Vulkan (shaders/permute.comp): f32, or bf16 / f16 rows of an
// even length, moved as 32-bit words, one invocation each.
#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_permute(const Problem& p, const Context& ctx) {
  return supports_copy_op(p, ctx, "elements", p.as<PermuteDesc>()->c);
}

Result<OpPlan> permute_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_permute(p, ctx); !s.supported) return make_error(s.reason);
  const auto* d = p.as<PermuteDesc>();
  const std::int64_t cw = p.dtype == DType::f32 ? d->c : d->c / 2;
  OpPlan plan;
  plan.blob = "permute_w32";
  plan.items = static_cast<std::uint64_t>(d->a * d->b * cw);
  plan.push = {static_cast<std::uint32_t>(plan.items), u32(d->a), u32(d->b), u32(cw)};
  plan.bindings = {0, 1};
  return plan;
}

}  // namespace tb::vulkan

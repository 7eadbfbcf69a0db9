// Row slice on Vulkan (shaders/slice.comp): f32, or bf16 / f16 rows of an even length, moved as
// 32-bit words, one invocation each.
#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_slice(const Problem& p, const Context& ctx) {
  return supports_copy_op(p, ctx, "elements", p.as<SliceDesc>()->n);
}

Result<OpPlan> slice_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_slice(p, ctx); !s.supported) return make_error(s.reason);
  const auto* d = p.as<SliceDesc>();
  const std::int64_t nw = p.dtype == DType::f32 ? d->n : d->n / 2;
  OpPlan plan;
  plan.blob = "slice_w32";
  plan.items = static_cast<std::uint64_t>(d->o * d->c * nw);
  plan.push = {
      static_cast<std::uint32_t>(plan.items), u32(d->r), u32(d->c), u32(nw), u32(d->s), u32(d->t)};
  plan.bindings = {0, 1};
  return plan;
}

}  // namespace tb::vulkan

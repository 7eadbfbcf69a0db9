// Pooling on Vulkan, f32 (shaders/pool.comp): max / avg / global, one invocation per output
// element.
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_pool(const Problem& p, const Context& ctx) {
  if (auto s = supports_small_op(p, ctx); !s.supported) return s;
  const auto* pd = p.as<PoolDesc>();
  const double it = pd->kind == PoolKind::global
                        ? static_cast<double>(pd->h * pd->w)
                        : static_cast<double>(pd->r) * static_cast<double>(pd->s + 1);
  return check_loop_budget(ctx, it, std::string(pd->op_name()));
}

Result<OpPlan> pool_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_pool(p, ctx); !s.supported) return make_error(s.reason);
  const auto* pd = p.as<PoolDesc>();
  OpPlan plan;
  // Bindings: src, dst.
  plan.bindings = {0, 1};
  if (pd->kind == PoolKind::global) {
    plan.blob = "gpool_f32";
    plan.items = static_cast<std::uint64_t>(pd->n * pd->c);
  } else {
    plan.blob = "pool_f32";
    plan.items = static_cast<std::uint64_t>(pd->n * pd->oh() * pd->ow() * pd->c);
  }
  plan.push = {static_cast<std::uint32_t>(plan.items),
               u32(pd->h),
               u32(pd->w),
               u32(pd->c),
               u32(pd->oh()),
               u32(pd->ow()),
               u32(pd->r),
               u32(pd->s),
               u32(pd->stride),
               u32(pd->pad),
               pd->kind == PoolKind::max ? 1u : 0u};
  return plan;
}

}  // namespace tb::vulkan

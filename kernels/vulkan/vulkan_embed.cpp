// Embedding lookup on Vulkan, f32 (shaders/elementwise.comp), one invocation per output element.
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_embed(const Problem& p, const Context& ctx) {
  return supports_small_op(p, ctx);
}

Result<OpPlan> embed_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_embed(p, ctx); !s.supported) return make_error(s.reason);
  const auto* e = p.as<EmbedDesc>();
  OpPlan plan;
  plan.blob = "embed_f32";
  plan.items = static_cast<std::uint64_t>(e->t * e->d);
  plan.push = {static_cast<std::uint32_t>(plan.items), u32(e->v), u32(e->d)};
  plan.bindings = {0, 1, 2};
  return plan;
}

}  // namespace tb::vulkan

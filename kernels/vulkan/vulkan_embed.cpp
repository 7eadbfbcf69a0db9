// Embedding lookup on Vulkan (shaders/elementwise.comp): f32, bf16 or f16 tables (16-bit ones read
// as 32-bit words: no 16-bit storage feature needed), f32 rows out; one invocation per element.
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_embed(const Problem& p, const Context& ctx) {
  const auto* e = p.as<EmbedDesc>();
  return supports_copy_op(p, ctx, "tables", e->v * e->d);
}

Result<OpPlan> embed_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_embed(p, ctx); !s.supported) return make_error(s.reason);
  const auto* e = p.as<EmbedDesc>();
  OpPlan plan;
  plan.blob = p.dtype == DType::f32    ? "embed_f32"
              : p.dtype == DType::bf16 ? "embed_bf16"
                                       : "embed_f16";
  plan.items = static_cast<std::uint64_t>(e->t * e->d);
  plan.push = {static_cast<std::uint32_t>(plan.items), u32(e->v), u32(e->d)};
  plan.bindings = {0, 1, 2};
  return plan;
}

}  // namespace tb::vulkan

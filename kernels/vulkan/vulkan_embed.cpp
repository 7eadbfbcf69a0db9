// Embedding lookup on Vulkan (shaders/elementwise.comp): f32, bf16 or f16 tables (16-bit ones read
// as 32-bit words: no 16-bit storage feature needed), or s8 ones (four to a word) with row scales;
// f32 rows out; one invocation per element.
#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_embed(const Problem& p, const Context& ctx) {
  const auto* e = p.as<EmbedDesc>();
  if (p.dtype == DType::s8) {
    if (e->v * e->d % 4 != 0)
      return Support::no("vulkan: an s8 embed needs a table size divisible by 4 (32-bit words)");
    if (p.post != Epilogue{}) return Support::no("vulkan: embed takes no epilogue");
    return check_op_sizes(p, ctx);
  }
  return supports_copy_op(p, ctx, "tables (or s8 with row scales)", e->v * e->d);
}

Result<OpPlan> embed_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_embed(p, ctx); !s.supported) return make_error(s.reason);
  const auto* e = p.as<EmbedDesc>();
  OpPlan plan;
  plan.blob = p.dtype == DType::f32    ? "embed_f32"
              : p.dtype == DType::bf16 ? "embed_bf16"
              : p.dtype == DType::f16  ? "embed_f16"
                                       : "embed_s8";
  plan.items = static_cast<std::uint64_t>(e->t * e->d);
  plan.push = {static_cast<std::uint32_t>(plan.items), u32(e->v), u32(e->d)};
  // Shader bindings: table, ids, Y, then (s8) the row scales, which are input 2.
  plan.bindings = p.dtype == DType::s8 ? std::vector<int>{0, 1, 3, 2} : std::vector<int>{0, 1, 2};
  return plan;
}

}  // namespace tb::vulkan

// KV-cache write on Vulkan (shaders/kvwrite.comp), f32 or bf16 caches, one invocation per word.
// The resident graph runs it in place over the token's rows (kvwrite_plan(..., true)); as a
// kernel it copies the cache into its output and replaces those rows.
#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_kvwrite(const Problem& p, const Context& ctx) {
  const auto* w = p.as<KvWriteDesc>();
  if (p.dtype != DType::f32 && p.dtype != DType::bf16)
    return Support::no("vulkan: kvwrite takes f32 or bf16 caches");
  if (p.dtype == DType::bf16 && w->d % 2 != 0)
    return Support::no("vulkan: a bf16 kvwrite needs an even row length");
  if (p.post != Epilogue{}) return Support::no("vulkan: kvwrite takes no epilogue");
  return check_op_sizes(p, ctx);
}

Result<OpPlan> kvwrite_plan(const Problem& p, const Context& ctx, bool in_place) {
  if (auto s = supports_kvwrite(p, ctx); !s.supported) return make_error(s.reason);
  const auto* w = p.as<KvWriteDesc>();
  const std::int64_t dw = p.dtype == DType::bf16 ? w->d / 2 : w->d;
  OpPlan plan;
  plan.blob = p.dtype == DType::bf16 ? "kvwrite_bf16" : "kvwrite_f32";
  plan.items = static_cast<std::uint64_t>(w->h * dw * (in_place ? 1 : w->s));
  plan.push = {static_cast<std::uint32_t>(plan.items), u32(w->s), u32(dw), u32(w->p),
               in_place ? 0u : 1u};
  plan.bindings = {0, 1, 2};
  return plan;
}

Result<OpPlan> kvwrite_plan(const Problem& p, const Context& ctx) {
  return kvwrite_plan(p, ctx, false);
}

}  // namespace tb::vulkan

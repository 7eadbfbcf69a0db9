// Attention on Vulkan, f32: one fused online-softmax shader (shaders/attention.comp), one
// invocation per (batch, head, query row), looping over the keys; causal and grouped-query.
#include <cstdlib>
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

namespace {
// Head-dim bound of the register variant for `a` (attention_d<N>_f32), 0: the generic shader.
std::int64_t reg_dmax(const AttentionDesc& a) {
  if (std::getenv("TB_VULKAN_ATTENTION_GENERIC") || a.d % 4) return 0;
  for (std::int64_t dm : {32, 64, 128})
    if (a.d <= dm) return dm;
  return 0;
}
}  // namespace

Support supports_attention(const Problem& p, const Context& ctx) {
  const AttentionDesc* a = p.as<AttentionDesc>();
  if (!a) return Support::no("vulkan: not an attention");
  if (p.dtype != DType::f32)
    return Support::no("vulkan: attn " + std::string(dtype_name(p.dtype)) +
                       " not supported on this backend (f32 only)");
  if (a->kv <= 0 || a->h % a->kv) return Support::no("vulkan: h must divide by kv");
  if (auto s = check_op_sizes(p, ctx); !s.supported) return s;
  // Register variants: one back-edge per key. Generic shader, per key: the dot and update loops
  // step by 8 (plus the remainder), one outer back-edge.
  const double per_key = reg_dmax(*a) ? 1.0 : 2.0 * static_cast<double>(a->d / 8 + a->d % 8) + 1;
  return check_loop_budget(ctx, static_cast<double>(a->s) * per_key + 3.0 * a->d,
                           "attention with s" + std::to_string(a->s));
}

Result<OpPlan> attention_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_attention(p, ctx); !s.supported) return make_error(s.reason);
  const AttentionDesc& a = *p.as<AttentionDesc>();
  auto U = [](std::int64_t v) { return static_cast<std::uint32_t>(v); };
  OpPlan plan;
  const std::int64_t dm = reg_dmax(a);
  plan.blob = dm ? "attention_d" + std::to_string(dm) + "_f32" : "attention_f32";
  plan.details = {{"head_dim_in_registers", dm ? 1.0 : 0.0}};
  plan.items = static_cast<std::uint64_t>(a.b * a.h * a.q);
  plan.workgroup = 16;
  plan.push = {static_cast<std::uint32_t>(plan.items),
               U(a.h),
               U(a.kv),
               U(a.q),
               U(a.s),
               U(a.d),
               a.causal ? 1u : 0u};
  plan.bindings = {0, 1, 2, 3};  // Q, K, V, O
  return plan;
}

}  // namespace tb::vulkan

// Glue ops on Vulkan, f32: softmax, layer norm, RMS norm (shaders/row.comp), max / avg / global
// pooling (pool.comp), add / mul, RoPE, embedding lookup (elementwise.comp). One dispatch each,
// one invocation per row or output element.
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

namespace {

bool is_glue(const Problem& p) {
  return p.as<PoolDesc>() || p.as<RowDesc>() || p.as<BinaryDesc>() || p.as<RopeDesc>() ||
         p.as<EmbedDesc>();
}

std::uint32_t U(std::int64_t v) {
  return static_cast<std::uint32_t>(v);
}

}  // namespace

Support supports_glue(const Problem& p, const Context& ctx) {
  if (!is_glue(p))
    return Support::no("vulkan: op " + std::string(p.op_name()) + " not supported on this backend");
  if (p.dtype != DType::f32)
    return Support::no("vulkan: " + std::string(p.op_name()) + " is implemented for f32 only");
  if (p.post != Epilogue{}) return Support::no("vulkan: glue ops take no epilogue");
  if (const auto* r = p.as<RopeDesc>(); r && r->d % 2)
    return Support::no("vulkan: rope needs an even head dim");
  if (auto s = check_op_sizes(p, ctx); !s.supported) return s;
  if (const auto* r = p.as<RowDesc>())
    return check_loop_budget(ctx, 3.0 * static_cast<double>(r->n) + 8, std::string(p.op_name()));
  if (const auto* pd = p.as<PoolDesc>()) {
    const double it = pd->kind == PoolKind::global
                          ? static_cast<double>(pd->h * pd->w)
                          : static_cast<double>(pd->r) * static_cast<double>(pd->s + 1);
    return check_loop_budget(ctx, it, std::string(pd->op_name()));
  }
  return Support::yes();
}

Result<OpPlan> glue_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_glue(p, ctx); !s.supported) return make_error(s.reason);
  OpPlan plan;
  if (const auto* pd = p.as<PoolDesc>()) {
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
                 U(pd->h),
                 U(pd->w),
                 U(pd->c),
                 U(pd->oh()),
                 U(pd->ow()),
                 U(pd->r),
                 U(pd->s),
                 U(pd->stride),
                 U(pd->pad),
                 pd->kind == PoolKind::max ? 1u : 0u};
    return plan;
  }
  if (const auto* r = p.as<RowDesc>()) {
    // Inputs X (gamma, beta), output Y; shader bindings X, Y, gamma, beta.
    plan.items = static_cast<std::uint64_t>(r->m);
    plan.push = {U(r->m), U(r->n)};
    plan.workgroup = 16;  // rows are long: few invocations per group keep the cores busy
    switch (r->kind) {
      case RowKind::softmax:
        plan.blob = "softmax_f32";
        plan.bindings = {0, 1, -1, -1};
        break;
      case RowKind::layernorm:
        plan.blob = "layernorm_f32";
        plan.bindings = {0, 3, 1, 2};
        break;
      case RowKind::rmsnorm:
        plan.blob = "rmsnorm_f32";
        plan.bindings = {0, 2, 1, -1};
        break;
    }
    return plan;
  }
  if (const auto* b = p.as<BinaryDesc>()) {
    plan.blob = "binary_f32";
    plan.items = static_cast<std::uint64_t>(b->n);
    plan.push = {U(b->n), b->kind == BinaryKind::mul ? 1u : 0u, 0u};
    plan.bindings = {0, 1, 2};
    return plan;
  }
  if (const auto* r = p.as<RopeDesc>()) {
    plan.blob = "rope_f32";
    plan.items = static_cast<std::uint64_t>(r->t * r->h * (r->d / 2));
    plan.push = {static_cast<std::uint32_t>(plan.items), U(r->h), U(r->d)};
    plan.bindings = {0, 1, 2, 3};
    return plan;
  }
  const auto* e = p.as<EmbedDesc>();
  plan.blob = "embed_f32";
  plan.items = static_cast<std::uint64_t>(e->t * e->d);
  plan.push = {static_cast<std::uint32_t>(plan.items), U(e->v), U(e->d)};
  plan.bindings = {0, 1, 2};
  (void)ctx;
  return plan;
}

}  // namespace tb::vulkan

// Row ops on Vulkan, f32 (shaders/row.comp): softmax, layer norm, RMS norm, one invocation per
// row.
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

Support supports_rowwise(const Problem& p, const Context& ctx) {
  if (auto s = supports_small_op(p, ctx); !s.supported) return s;
  const auto* r = p.as<RowDesc>();
  return check_loop_budget(ctx, 3.0 * static_cast<double>(r->n) + 8, std::string(p.op_name()));
}

Result<OpPlan> rowwise_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_rowwise(p, ctx); !s.supported) return make_error(s.reason);
  const auto* r = p.as<RowDesc>();
  OpPlan plan;
  // Inputs X (gamma, beta), output Y; shader bindings X, Y, gamma, beta.
  plan.items = static_cast<std::uint64_t>(r->m);
  plan.push = {u32(r->m), u32(r->n)};
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

}  // namespace tb::vulkan

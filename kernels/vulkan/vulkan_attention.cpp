// Attention on Vulkan, Q K V in f32, f16 or bf16 (f32 arithmetic and output; the register
// variants only for f16 / bf16): fused online-softmax shaders, causal and grouped-query.
//   attention_blk (shaders/attention_blk.comp): head dims dividing by 4 up to 128, QR query rows
//     per invocation sharing each K / V load, softmax rescaled once per KB keys (large problems,
//     see use_blk; TB_VULKAN_ATTENTION=blk forces it);
//   attention_reg (attention_reg.comp): one query row per invocation, row in registers (small
//     problems; TB_VULKAN_ATTENTION=reg forces it);
//   attention (attention.comp): any head dim, rows in memory (TB_VULKAN_ATTENTION=generic, or
//     TB_VULKAN_ATTENTION_GENERIC=1).
#include <cstdlib>
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

namespace {
// Head-dim bound of the register variants for `a` (attention_[blk_]d<N>_f32), 0: the generic
// shader.
std::int64_t reg_dmax(const AttentionDesc& a) {
  const char* e = std::getenv("TB_VULKAN_ATTENTION");
  if (std::getenv("TB_VULKAN_ATTENTION_GENERIC") || (e && std::string(e) == "generic") || a.d % 4)
    return 0;
  for (std::int64_t dm : {32, 64, 128})
    if (a.d <= dm) return dm;
  return 0;
}
// The blocked shader runs large problems faster but its unrolled body compiles for seconds on
// lavapipe (cold; ~0.1 s from Mesa's shader cache), against < 1 s for attention_reg: it is the
// default from 2^21 (query, key) pairs over all heads on (h8 q512 s512), where the run-time
// savings outweigh it. TB_VULKAN_ATTENTION=blk / reg force one.
bool use_blk(const AttentionDesc& a) {
  const char* e = std::getenv("TB_VULKAN_ATTENTION");
  if (!reg_dmax(a) || (e && std::string(e) == "reg")) return false;
  if (e && std::string(e) == "blk") return true;
  return static_cast<double>(a.b * a.h) * static_cast<double>(a.pairs()) >= double(1 << 21);
}
// Query rows per invocation and keys per block of attention_blk_d<N> (CMakeLists.txt).
constexpr std::int64_t kBlkKeys = 4;
std::int64_t blk_rows(std::int64_t dmax) {
  return dmax == 128 ? 4 : 8;
}
}  // namespace

Support supports_attention(const Problem& p, const Context& ctx) {
  const AttentionDesc* a = p.as<AttentionDesc>();
  if (!a) return Support::no("vulkan: not an attention");
  if (p.dtype == DType::s8 || p.dtype == DType::u8)
    return Support::no("vulkan: attn " + std::string(dtype_name(p.dtype)) +
                       " not supported on this backend (f32, f16, bf16)");
  if (auto s = conv_dtype_supported(p.dtype, ctx); !s.supported) return s;
  if (p.dtype != DType::f32 && !reg_dmax(*a))
    return Support::no(
        "vulkan: attn " + std::string(dtype_name(p.dtype)) +
        " needs a head dim that divides by 4, up to 128 (the generic shader is f32)");
  if (a->kv <= 0 || a->h % a->kv) return Support::no("vulkan: h must divide by kv");
  if (auto s = check_op_sizes(p, ctx); !s.supported) return s;
  // Register variants: one back-edge per key (blk: per block of keys). Generic shader, per key:
  // the dot and update loops step by 8 (plus the remainder), one outer back-edge.
  const double per_key = use_blk(*a)    ? 1.0 / kBlkKeys
                         : reg_dmax(*a) ? 1.0
                                        : 2.0 * static_cast<double>(a->d / 8 + a->d % 8) + 1;
  return check_loop_budget(ctx, static_cast<double>(a->s) * per_key + 3.0 * a->d,
                           "attention with s" + std::to_string(a->s));
}

Result<OpPlan> attention_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_attention(p, ctx); !s.supported) return make_error(s.reason);
  const AttentionDesc& a = *p.as<AttentionDesc>();
  auto U = [](std::int64_t v) { return static_cast<std::uint32_t>(v); };
  OpPlan plan;
  const std::int64_t dm = reg_dmax(a);
  const std::string sfx = "_" + std::string(dtype_name(p.dtype));
  plan.blob = dm ? "attention_d" + std::to_string(dm) + sfx : "attention_f32";
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
  if (use_blk(a)) {
    const std::int64_t qr = blk_rows(dm), qblocks = (a.q + qr - 1) / qr;
    plan.blob = "attention_blk_d" + std::to_string(dm) + sfx;
    plan.items = static_cast<std::uint64_t>(a.b * a.h * qblocks);
    plan.push[0] = static_cast<std::uint32_t>(plan.items);
    plan.push.push_back(U(qblocks));
    plan.workgroup = 8;
    plan.details.push_back({"query_rows_per_invocation", static_cast<double>(qr)});
    plan.details.push_back({"keys_per_softmax_update", static_cast<double>(kBlkKeys)});
  }
  plan.bindings = {0, 1, 2, 3};  // Q, K, V, O
  return plan;
}

}  // namespace tb::vulkan

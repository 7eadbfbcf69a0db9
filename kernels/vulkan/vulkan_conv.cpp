// Convolution on Vulkan, f32, NHWC, with bias / activation / residual epilogues. Three shaders:
//   conv_igemm (shaders/conv_igemm.comp): implicit GEMM, a 4 x 4 block of pixels x output
//     channels per invocation, for groups with several input channels (dense, grouped,
//     pointwise);
//   conv_dw (shaders/conv_dw.comp): depthwise with channels a multiple of 4, 4 channels x 4
//     pixels of a row per invocation;
//   conv_direct (shaders/conv.comp): one invocation per output element, for one input channel
//     per group otherwise (any channel multiplier); TB_VULKAN_CONV_DIRECT=1 forces it everywhere
//     (the in-run anchor of the igemm and depthwise paths).
#include <cstdlib>
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

namespace {
constexpr std::int64_t kMR = 4, kNR = 4;  // block of conv_igemm_4x4_f32 (CMakeLists.txt)
constexpr std::int64_t kXR = 4;           // pixels per invocation of conv_dw_4_f32
}  // namespace

Support supports_conv(const Problem& p, const Context& ctx) {
  const ConvDesc* c = p.as<ConvDesc>();
  if (!c) return Support::no("vulkan: not a conv");
  if (p.post.scales) return Support::no("vulkan: conv +scales (int8 dequantise) not implemented");
  if (p.dtype != DType::f32)
    return Support::no("vulkan: conv " + std::string(dtype_name(p.dtype)) +
                       " not supported on this backend (f32 only)");
  if (auto s = check_op_sizes(p, ctx); !s.supported) return s;
  const double cg = static_cast<double>(c->c / c->groups);
  return check_loop_budget(ctx,
                           static_cast<double>(c->r) * (static_cast<double>(c->s) * (cg + 1) + 1),
                           "a conv window of " + std::to_string(c->r * c->s) + " x " +
                               std::to_string(c->c / c->groups) + " channels");
}

Result<OpPlan> conv_plan(const Problem& p, const Context& ctx) {
  if (auto s = supports_conv(p, ctx); !s.supported) return make_error(s.reason);
  const ConvDesc& c = *p.as<ConvDesc>();
  auto U = [](std::int64_t v) { return static_cast<std::uint32_t>(v); };
  OpPlan plan;
  const std::int64_t cg = c.c / c.groups, kg = c.k / c.groups, pixels = c.oh() * c.ow();
  plan.spec = {p.post.bias ? 1u : 0u, activation_code(p.post.act), p.post.residual ? 1u : 0u};
  plan.push = {0,      U(c.h), U(c.w),      U(c.c),   U(c.k),        U(c.oh()), U(c.ow()),
               U(c.r), U(c.s), U(c.stride), U(c.pad), U(c.dilation), U(cg),     U(kg)};
  const char* dw = std::getenv("TB_VULKAN_CONV_DW");  // "0": conv_direct (the dw anchor)
  if (cg == 1 && kg == 1 && c.c % 4 == 0 && !std::getenv("TB_VULKAN_CONV_DIRECT") &&
      !(dw && std::string(dw) == "0")) {
    // Depthwise: 4 channels x kXR pixels of a row per invocation.
    const std::int64_t xb = (c.ow() + kXR - 1) / kXR;
    plan.blob = "conv_dw_4_f32";
    plan.items = static_cast<std::uint64_t>(c.n * c.oh() * xb * (c.c / 4));
    plan.push.push_back(U(xb));
    plan.details = {{"path_depthwise", 1}, {"xr", kXR}};
  } else if (cg == 1 || std::getenv("TB_VULKAN_CONV_DIRECT")) {
    // One input channel per group (depthwise): nothing to share between outputs.
    plan.blob = "conv_direct_f32";
    plan.items = static_cast<std::uint64_t>(c.n * pixels * c.k);
    plan.details = {{"path_direct", 1}};
  } else {
    const std::int64_t pb = (pixels + kMR - 1) / kMR, nbk = (kg + kNR - 1) / kNR;
    plan.blob = "conv_igemm_4x4_f32";
    plan.items = static_cast<std::uint64_t>(c.n * pb * c.groups * nbk);
    plan.push.push_back(U(pb));
    plan.push.push_back(U(nbk));
    plan.details = {{"path_igemm", 1}, {"mr", kMR}, {"nr", kNR}};
  }
  plan.push[0] = static_cast<std::uint32_t>(plan.items);
  // Inputs: src, weights, [bias], [residual]; output dst after them.
  int next = 2;
  const int bias = p.post.bias ? next++ : -1;
  const int res = p.post.residual ? next++ : -1;
  plan.bindings = {0, 1, next, bias, res};
  return plan;
}

}  // namespace tb::vulkan

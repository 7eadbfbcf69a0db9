// Convolution on Vulkan, NHWC, f32 / f16 / bf16 (f32 out) / u8 x s8 -> s32 (+scales: f32 out),
// with bias / activation / residual epilogues. Three shaders, each compiled per element type
// (shaders/conv_common.glsl):
//   conv_igemm (shaders/conv_igemm.comp): implicit GEMM, a 4 x 4 block of pixels x output
//     channels per invocation, for groups with several input channels (dense, grouped); int8 a
//     word of four channels per step where the group's channels divide by 4 (packed dot products
//     where the device has them), else a byte at a time (an RGB input layer: ResNet-50's int8
//     stem took 171 ms per layer on lavapipe with conv_direct);
//   conv_dw (shaders/conv_dw.comp): depthwise with channels a multiple of 4, 4 channels x 4
//     pixels of a row per invocation;
//   conv_direct (shaders/conv.comp): one invocation per output element, elements loaded one at a
//     time, for everything else (any channel multiplier);
//     TB_VULKAN_CONV_DIRECT=1 forces it everywhere (the in-run anchor of the other paths).
// A pointwise conv (1 x 1, stride 1, no padding, one group) runs as the packed GEMM
// (pointwise_gemm in vulkan_gemm.h; vulkan_backend.cpp and the resident graph).
#include <cstdlib>
#include <string>

#include "vulkan_op.h"

namespace tb::vulkan {

namespace {
constexpr std::int64_t kMR = 4, kNR = 4;  // block of conv_igemm_4x4_* (CMakeLists.txt)
constexpr std::int64_t kXR = 4;           // pixels per invocation of conv_dw_4_*
// conv_igemm's window as specialization constants (CG_SPEC, R_SPEC, S_SPEC) up to this many
// channels per group and taps: an image's layer (3 channels, 3x3 or 7x7), not a deep one, whose
// unrolled window would only grow the code.
constexpr std::int64_t kWindowSpecMaxChannels = 4, kWindowSpecMaxTaps = 49;

bool is_int8(DType dt) {
  return dt == DType::s8 || dt == DType::u8;
}
// The variant suffix of an element type (CMakeLists.txt).
std::string suffix(DType dt) {
  return is_int8(dt) ? "_s8" : "_" + std::string(dtype_name(dt));
}
}  // namespace

Support conv_dtype_supported(DType dt, const Context& ctx) {
  switch (dt) {
    case DType::f32:
    case DType::bf16:  // two to a 32-bit word, widened exactly: no feature needed
    case DType::s8:    // four to a word, int32 sums: no feature needed
    case DType::u8:
      return Support::yes();
    case DType::f16:
      if (!ctx.info().fp16)
        return Support::no("vulkan: f16 needs storageBuffer16BitAccess and shaderFloat16, which " +
                           ctx.info().name + " does not offer");
      return Support::yes();
    default:
      return Support::no("vulkan: " + std::string(dtype_name(dt)) +
                         " not supported on this backend (f32, f16, bf16, s8)");
  }
}

Support supports_conv(const Problem& p, const Context& ctx) {
  const ConvDesc* c = p.as<ConvDesc>();
  if (!c) return Support::no("vulkan: not a conv");
  if (auto s = conv_dtype_supported(p.dtype, ctx); !s.supported) return s;
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
  const std::string sfx = suffix(p.dtype);
  const bool int8 = is_int8(p.dtype), direct = std::getenv("TB_VULKAN_CONV_DIRECT") != nullptr;
  plan.spec = {p.post.bias ? 1u : 0u, activation_code(p.post.act), p.post.residual ? 1u : 0u,
               p.post.scales ? 1u : 0u};
  plan.push = {0,      U(c.h), U(c.w),      U(c.c),   U(c.k),        U(c.oh()), U(c.ow()),
               U(c.r), U(c.s), U(c.stride), U(c.pad), U(c.dilation), U(cg),     U(kg)};
  const char* dw = std::getenv("TB_VULKAN_CONV_DW");  // "0": conv_direct (the dw anchor)
  if (cg == 1 && kg == 1 && c.c % 4 == 0 && !direct && !(dw && std::string(dw) == "0")) {
    // Depthwise: 4 channels x kXR pixels of a row per invocation.
    const std::int64_t xb = (c.ow() + kXR - 1) / kXR;
    plan.blob = "conv_dw_4" + sfx;
    plan.items = static_cast<std::uint64_t>(c.n * c.oh() * xb * (c.c / 4));
    plan.push.push_back(U(xb));
    plan.details = {{"path_depthwise", 1}, {"xr", kXR}};
  } else if (cg == 1 || direct) {
    // One input channel per group (nothing to share between outputs).
    plan.blob = "conv_direct" + sfx;
    plan.items = static_cast<std::uint64_t>(c.n * pixels * c.k);
    plan.details = {{"path_direct", 1}};
  } else {
    const std::int64_t pb = (pixels + kMR - 1) / kMR, nbk = (kg + kNR - 1) / kNR;
    const bool dot = int8 && int8_dot_enabled(ctx);
    plan.blob = "conv_igemm_4x4" + sfx + (dot ? "dot" : "");
    plan.items = static_cast<std::uint64_t>(c.n * pb * c.groups * nbk);
    plan.push.push_back(U(pb));
    plan.push.push_back(U(nbk));
    plan.details = {{"path_igemm", 1}, {"mr", kMR}, {"nr", kNR}};
    if (int8) plan.details.push_back({"int8_dot_product", dot ? 1.0 : 0.0});
    // A shallow input (a network's first layer, on the image) gets its window and channel count
    // as specialization constants: the driver then unrolls the r x s x cg loops. On lavapipe
    // (kernel runs, interleaved builds): ResNet-50's int8 stem 40-58 ms against 71-92, its f32
    // stem 42-44 against 46-51; MobileNetV2's f32 3x3 stem unchanged within the noise (its
    // per-lane gathers of a 3-channel window cost more than the loops).
    if (cg <= kWindowSpecMaxChannels && c.r * c.s <= kWindowSpecMaxTaps) {
      plan.spec.insert(plan.spec.end(), {U(cg), U(c.r), U(c.s)});
      plan.details.push_back({"window_specialized", 1});
    }
  }
  plan.push[0] = static_cast<std::uint32_t>(plan.items);
  // Inputs: src, weights, [a_scale, b_scale], [bias], [residual]; output dst after them.
  int next = 2;
  const int a_scale = p.post.scales ? next++ : -1;
  const int b_scale = p.post.scales ? next++ : -1;
  const int bias = p.post.bias ? next++ : -1;
  const int res = p.post.residual ? next++ : -1;
  plan.bindings = {0, 1, next, bias, res, a_scale, b_scale};
  return plan;
}

}  // namespace tb::vulkan

// Convolution as oneDNN's convolution_forward (direct algorithm, inference): activations stay
// NHWC (oneDNN 2.6 has brgemm/jit kernels for it, so no per-call reorder), weights use
// format_tag::any and are reordered once at upload; bias and epilogue fused as post-ops (with
// +scales: u8 x s8 -> f32 dst, dequantised by post-ops, see epilogue_post_ops).
#include "onednn_ops.h"

namespace tb::onednn {

void build_conv(Plan& plan, const Problem& p, const ConvDesc& c) {
  const GemmTypes t = gemm_types(p.dtype, p.post);
  const std::int64_t G = c.groups, cg = c.c / G, kg = c.k / G;
  const auto src_md = TB_DNNL(dnnl::memory::desc({c.n, c.c, c.h, c.w}, to_dnnl(t.a), tag::nhwc));
  const auto dst_md =
      TB_DNNL(dnnl::memory::desc({c.n, c.k, c.oh(), c.ow()}, to_dnnl(t.c), tag::nhwc));
  // Host weights are [k][r][s][c/g]: the strides below describe that buffer in oneDNN's
  // (g, oc, ic, kh, kw) / (oc, ic, kh, kw) dimension order.
  dnnl::memory::desc w_user, w_any;
  if (G == 1) {
    w_user = TB_DNNL(dnnl::memory::desc({c.k, c.c, c.r, c.s}, to_dnnl(t.b),
                                        dims{c.r * c.s * cg, 1, c.s * cg, cg}));
    w_any = TB_DNNL(dnnl::memory::desc({c.k, c.c, c.r, c.s}, to_dnnl(t.b), tag::any));
  } else {
    w_user =
        TB_DNNL(dnnl::memory::desc({G, kg, cg, c.r, c.s}, to_dnnl(t.b),
                                   dims{kg * c.r * c.s * cg, c.r * c.s * cg, 1, c.s * cg, cg}));
    w_any = TB_DNNL(dnnl::memory::desc({G, kg, cg, c.r, c.s}, to_dnnl(t.b), tag::any));
  }
  const EpilogueArgs epi = epilogue_post_ops(p.post, 2, dst_md, 1);
  const auto bias_md = epi.bias_input >= 0 ? plain_md({c.k}, DType::f32) : dnnl::memory::desc();

  dnnl::primitive_attr attr;
  TB_DNNL(attr.set_post_ops(epi.ops));
  const dims strides = {c.stride, c.stride}, dil = {c.dilation - 1, c.dilation - 1},
             pad = {c.pad, c.pad}, pad_r = {c.pad + c.pad_end, c.pad + c.pad_end};
  const auto desc = TB_DNNL(dnnl::convolution_forward::desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, w_any,
      bias_md, dst_md, strides, dil, pad, pad_r));
  auto pd = TB_DNNL(dnnl::convolution_forward::primitive_desc(desc, attr, cpu_engine()));
  if (!skip_known_bad(pd)) throw Failure("onednn conv: only implementations known to be wrong");
  if (pd.src_desc() != src_md || pd.dst_desc() != dst_md)
    throw Failure("onednn conv: no implementation for NHWC activations");

  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, plan.input(0, src_md)}};
  args.emplace_back(DNNL_ARG_WEIGHTS, plan.weights(1, w_user, pd.weights_desc()));
  if (epi.bias_input >= 0) args.emplace_back(DNNL_ARG_BIAS, plan.input(epi.bias_input, bias_md));
  for (const auto& a : epi.args)
    args.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(a.post_op) | DNNL_ARG_SRC_1,
                      plan.input(a.input, a.md));
  args.emplace_back(DNNL_ARG_DST, plan.output(0, dst_md));
  plan.primitive(pd, std::move(args));
}

}  // namespace tb::onednn

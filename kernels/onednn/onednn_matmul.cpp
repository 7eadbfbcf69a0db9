// GEMM as a oneDNN matmul, as benchdnn's matmul driver sets it up: B (the weights) with
// format_tag::any so that oneDNN picks its blocked layout (reordered once at upload), A and C in
// the problem's row-major layout (transposes expressed as strides), bias and the epilogue fused.
//
// Data types follow GemmDesc: f32; bf16 x bf16 -> f32; u8 x s8 -> s32 (for dtype u8 or s8), or
// -> f32 with +scales (dequantised by post-ops, see epilogue_post_ops); f16 x f16 -> f16 where
// the CPU has an implementation (oneDNN 2.6 needs AVX512-FP16).
#include "onednn_ops.h"

namespace tb::onednn {

namespace {
// A rank-2 (batch 1) or rank-3 descriptor of a row-major [rows x cols] matrix, or of its
// transpose when `trans` (the tensor is stored cols x rows).
dnnl::memory::desc matrix_md(std::int64_t batch, std::int64_t rows, std::int64_t cols, bool trans,
                             DType t) {
  const auto dt = to_dnnl(t);
  if (batch == 1) {
    if (!trans) return TB_DNNL(dnnl::memory::desc({rows, cols}, dt, dims{cols, 1}));
    return TB_DNNL(dnnl::memory::desc({rows, cols}, dt, dims{1, rows}));
  }
  if (!trans)
    return TB_DNNL(dnnl::memory::desc({batch, rows, cols}, dt, dims{rows * cols, cols, 1}));
  return TB_DNNL(dnnl::memory::desc({batch, rows, cols}, dt, dims{rows * cols, 1, rows}));
}
}  // namespace

void build_matmul(Plan& plan, const Problem& p, const GemmDesc& g) {
  const GemmTypes t = gemm_types(p.dtype, p.post);
  const auto a_md = matrix_md(g.batch, g.m, g.k, g.trans_a, t.a);
  const auto b_user = matrix_md(g.batch, g.k, g.n, g.trans_b, t.b);
  const dims b_dims = g.batch == 1 ? dims{g.k, g.n} : dims{g.batch, g.k, g.n};
  const auto b_any = TB_DNNL(dnnl::memory::desc(b_dims, to_dnnl(t.b), tag::any));
  const auto c_md = matrix_md(g.batch, g.m, g.n, false, t.c);
  const int rank = g.batch == 1 ? 2 : 3;
  const EpilogueArgs epi = epilogue_post_ops(p.post, 2, c_md, rank - 1);
  const dims bias_dims = g.batch == 1 ? dims{1, g.n} : dims{1, 1, g.n};
  const auto bias_md = epi.bias_input >= 0 ? plain_md(bias_dims, DType::f32) : dnnl::memory::desc();

  dnnl::primitive_attr attr;
  TB_DNNL(attr.set_post_ops(epi.ops));
  const auto desc = TB_DNNL(dnnl::matmul::desc(a_md, b_any, bias_md, c_md));
  const auto pd = TB_DNNL(dnnl::matmul::primitive_desc(desc, attr, cpu_engine()));

  std::vector<std::pair<int, int>> args = {
      {DNNL_ARG_SRC, plan.input(0, a_md)},
      {DNNL_ARG_WEIGHTS, plan.weights(1, b_user, pd.weights_desc())}};
  if (epi.bias_input >= 0) args.emplace_back(DNNL_ARG_BIAS, plan.input(epi.bias_input, bias_md));
  for (const auto& a : epi.args)
    args.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(a.post_op) | DNNL_ARG_SRC_1,
                      plan.input(a.input, a.md));
  args.emplace_back(DNNL_ARG_DST, plan.output(0, c_md));
  plan.primitive(pd, std::move(args));
}

}  // namespace tb::onednn

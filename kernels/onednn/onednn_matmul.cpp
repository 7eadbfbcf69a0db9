// GEMM as a oneDNN matmul, as benchdnn's matmul driver sets it up: B (the weights) with
// format_tag::any so that oneDNN picks its blocked layout (reordered once at upload), A and C in
// the problem's row-major layout (transposes expressed as strides), bias and the epilogue fused.
//
// Data types follow GemmDesc: f32; bf16 x bf16 -> f32; u8 x s8 -> s32 (for dtype u8 or s8);
// f16 x f16 -> f16 where the CPU has an implementation (oneDNN 2.6 needs AVX512-FP16).
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
  const GemmTypes t = gemm_types(p.dtype);
  const auto a_md = matrix_md(g.batch, g.m, g.k, g.trans_a, t.a);
  const auto b_user = matrix_md(g.batch, g.k, g.n, g.trans_b, t.b);
  const dims b_dims = g.batch == 1 ? dims{g.k, g.n} : dims{g.batch, g.k, g.n};
  const auto b_any = TB_DNNL(dnnl::memory::desc(b_dims, to_dnnl(t.b), tag::any));
  const auto c_md = matrix_md(g.batch, g.m, g.n, false, t.c);
  const dims bias_dims = g.batch == 1 ? dims{1, g.n} : dims{1, 1, g.n};
  const auto bias_md = p.post.bias ? plain_md(bias_dims, DType::f32) : dnnl::memory::desc();

  dnnl::post_ops po;
  append_post_ops(po, p.post, c_md);
  dnnl::primitive_attr attr;
  TB_DNNL(attr.set_post_ops(po));
  const auto desc = TB_DNNL(dnnl::matmul::desc(a_md, b_any, bias_md, c_md));
  const auto pd = TB_DNNL(dnnl::matmul::primitive_desc(desc, attr, cpu_engine()));

  int in = 0;
  const int a = plan.input(in++, a_md);
  const int b = plan.weights(in++, b_user, pd.weights_desc());
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}};
  if (p.post.bias) args.emplace_back(DNNL_ARG_BIAS, plan.input(in++, bias_md));
  if (p.post.residual) {
    const int po_index = p.post.act == Activation::none ? 0 : 1;
    args.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(po_index) | DNNL_ARG_SRC_1,
                      plan.input(in++, c_md));
  }
  args.emplace_back(DNNL_ARG_DST, plan.output(0, c_md));
  plan.primitive(pd, std::move(args));
}

}  // namespace tb::onednn

// Elementwise binary ops (add, mul) on the oneDNN backend: the binary primitive.
#include "onednn_ops.h"

namespace tb::onednn {

void build_binary(Plan& plan, const Problem& p, const BinaryDesc& d) {
  const auto md = plain_md({d.n}, p.inputs()[0].dtype);
  const auto alg =
      d.kind == BinaryKind::add ? dnnl::algorithm::binary_add : dnnl::algorithm::binary_mul;
  const auto desc = TB_DNNL(dnnl::binary::desc(alg, md, md, md));
  const auto pd = TB_DNNL(dnnl::binary::primitive_desc(desc, cpu_engine()));
  plan.primitive(pd, {{DNNL_ARG_SRC_0, plan.input(0, md)},
                      {DNNL_ARG_SRC_1, plan.input(1, md)},
                      {DNNL_ARG_DST, plan.output(0, md)}});
}

}  // namespace tb::onednn

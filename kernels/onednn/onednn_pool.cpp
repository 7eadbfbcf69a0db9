// Pooling on the oneDNN backend: the pooling primitive (max, average excluding padding, global
// average).
#include "onednn_ops.h"

namespace tb::onednn {

dnnl::pooling_forward::desc pool_desc(const PoolDesc& d, const dnnl::memory::desc& src,
                                      const dnnl::memory::desc& dst) {
  const bool global = d.kind == PoolKind::global;
  const dims kernel = global ? dims{d.h, d.w} : dims{d.r, d.s};
  const dims strides = global ? dims{1, 1} : dims{d.stride, d.stride};
  const dims pad = global ? dims{0, 0} : dims{d.pad, d.pad};
  const dims pad_r = global ? dims{0, 0} : dims{d.pad + d.pad_end, d.pad + d.pad_end};
  const auto alg = d.kind == PoolKind::max ? dnnl::algorithm::pooling_max
                                           : dnnl::algorithm::pooling_avg_exclude_padding;
  return TB_DNNL(dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, alg, src, dst,
                                             strides, kernel, pad, pad_r));
}

void build_pool(Plan& plan, const Problem& p, const PoolDesc& d) {
  const auto dt = to_dnnl(p.inputs()[0].dtype);
  const auto src_md = TB_DNNL(dnnl::memory::desc({d.n, d.c, d.h, d.w}, dt, tag::nhwc));
  const auto dst_md = TB_DNNL(dnnl::memory::desc({d.n, d.c, d.oh(), d.ow()}, dt, tag::nhwc));
  const auto pd =
      TB_DNNL(dnnl::pooling_forward::primitive_desc(pool_desc(d, src_md, dst_md), cpu_engine()));
  plan.primitive(pd,
                 {{DNNL_ARG_SRC, plan.input(0, src_md)}, {DNNL_ARG_DST, plan.output(0, dst_md)}});
}

}  // namespace tb::onednn

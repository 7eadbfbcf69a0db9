// Row ops on the oneDNN backend: the softmax and layer normalisation primitives; RMS norm, which
// oneDNN 2.6 lacks, as a hand-written loop (Plan::custom, "tb:rmsnorm" in impl_info).
#include <cmath>

#include "onednn_ops.h"

namespace tb::onednn {

void build_rowwise(Plan& plan, const Problem& p, const RowDesc& d) {
  const DType t = p.inputs()[0].dtype;
  const auto md = plain_md({d.m, d.n}, t);
  const int x = plan.input(0, md);
  const int y = plan.output(0, md);
  switch (d.kind) {
    case RowKind::softmax: {
      const auto desc =
          TB_DNNL(dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, md, 1));
      const auto pd = TB_DNNL(dnnl::softmax_forward::primitive_desc(desc, cpu_engine()));
      plan.primitive(pd, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
      return;
    }
    case RowKind::layernorm: {
      const auto flags =
          dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
      const auto desc = TB_DNNL(dnnl::layer_normalization_forward::desc(
          dnnl::prop_kind::forward_inference, md, static_cast<float>(RowDesc::kEps), flags));
      const auto pd =
          TB_DNNL(dnnl::layer_normalization_forward::primitive_desc(desc, cpu_engine()));
      const auto vec = plain_md({d.n}, DType::f32);
      plan.primitive(pd, {{DNNL_ARG_SRC, x},
                          {DNNL_ARG_SCALE, plan.input(1, vec)},
                          {DNNL_ARG_SHIFT, plan.input(2, vec)},
                          {DNNL_ARG_DST, y}});
      return;
    }
    case RowKind::rmsnorm: {
      need_f32(p);
      const int g = plan.input(1, plain_md({d.n}, DType::f32));
      const std::int64_t M = d.m, N = d.n;
      plan.custom("tb:rmsnorm", [=](std::vector<dnnl::memory>& m) {
        const float* X = ptr<float>(m, x);
        const float* G = ptr<float>(m, g);
        float* Y = ptr<float>(m, y);
#pragma omp parallel for schedule(static)
        for (std::int64_t i = 0; i < M; ++i) {
          const float* xr = X + i * N;
          float ss = 0;
#pragma omp simd reduction(+ : ss)
          for (std::int64_t j = 0; j < N; ++j) ss += xr[j] * xr[j];
          const float inv =
              1.0f / std::sqrt(ss / static_cast<float>(N) + static_cast<float>(RowDesc::kEps));
#pragma omp simd
          for (std::int64_t j = 0; j < N; ++j) Y[i * N + j] = xr[j] * inv * G[j];
        }
      });
      return;
    }
  }
}

}  // namespace tb::onednn

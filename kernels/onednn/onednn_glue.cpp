// Glue ops on the oneDNN backend. Primitives where oneDNN 2.6 has one (pooling, softmax, layer
// normalisation, binary); hand-written loops (Plan::custom, named "tb:<op>" in impl_info) for
// RMS norm, RoPE and embedding lookup, which oneDNN 2.6 lacks.
#include <cmath>
#include <cstring>

#include "onednn_ops.h"

namespace tb::onednn {

namespace {
template <class T>
T* ptr(std::vector<dnnl::memory>& m, int i) {
  return static_cast<T*>(m[static_cast<std::size_t>(i)].get_data_handle());
}
void need_f32(const Problem& p) {
  if (p.dtype != DType::f32)
    throw Failure(std::string(p.op_name()) + ": the hand-written CPU loop is f32 only");
}
}  // namespace

dnnl::pooling_forward::desc pool_desc(const PoolDesc& d, const dnnl::memory::desc& src,
                                      const dnnl::memory::desc& dst) {
  const bool global = d.kind == PoolKind::global;
  const dims kernel = global ? dims{d.h, d.w} : dims{d.r, d.s};
  const dims strides = global ? dims{1, 1} : dims{d.stride, d.stride};
  const dims pad = global ? dims{0, 0} : dims{d.pad, d.pad};
  const auto alg = d.kind == PoolKind::max ? dnnl::algorithm::pooling_max
                                           : dnnl::algorithm::pooling_avg_exclude_padding;
  return TB_DNNL(dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, alg, src, dst,
                                             strides, kernel, pad, pad));
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

void build_rope(Plan& plan, const Problem& p, const RopeDesc& d) {
  need_f32(p);
  const std::int64_t T = d.t, H = d.h, D = d.d, half = d.d / 2;
  const int x = plan.input(0, plain_md({T, H, D}, DType::f32));
  const int c = plan.input(1, plain_md({T, half}, DType::f32));
  const int s = plan.input(2, plain_md({T, half}, DType::f32));
  const int y = plan.output(0, plain_md({T, H, D}, DType::f32));
  plan.custom("tb:rope", [=](std::vector<dnnl::memory>& m) {
    const float *X = ptr<float>(m, x), *C = ptr<float>(m, c), *S = ptr<float>(m, s);
    float* Y = ptr<float>(m, y);
#pragma omp parallel for collapse(2) schedule(static)
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t h = 0; h < H; ++h) {
        const float* xr = X + (t * H + h) * D;
        float* yr = Y + (t * H + h) * D;
        const float *cr = C + t * half, *sr = S + t * half;
#pragma omp simd
        for (std::int64_t i = 0; i < half; ++i) {
          yr[i] = xr[i] * cr[i] - xr[i + half] * sr[i];
          yr[i + half] = xr[i + half] * cr[i] + xr[i] * sr[i];
        }
      }
  });
}

void build_embed(Plan& plan, const Problem& p, const EmbedDesc& d) {
  const DType t = p.inputs()[0].dtype;
  const int table = plan.input(0, plain_md({d.v, d.d}, t));
  const int ids = plan.input(1, plain_md({d.t}, DType::s32));
  const int y = plan.output(0, plain_md({d.t, d.d}, t));
  const std::int64_t V = d.v, T = d.t;
  const std::size_t row_bytes = static_cast<std::size_t>(d.d) * dtype_size(t);
  plan.custom("tb:embed", [=](std::vector<dnnl::memory>& m) {
    const auto* tab = ptr<const std::byte>(m, table);
    const auto* id = ptr<const std::int32_t>(m, ids);
    auto* out = ptr<std::byte>(m, y);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < T; ++i)
      std::memcpy(out + static_cast<std::size_t>(i) * row_bytes,
                  tab + static_cast<std::size_t>(EmbedDesc::row(id[i], V)) * row_bytes, row_bytes);
  });
}

}  // namespace tb::onednn

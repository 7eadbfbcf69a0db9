// tierbench's oneDNN path against a bare oneDNN call for the same problem, interleaved per
// iteration: the backend must add no more than 5% (tb_over_bare <= 1.05). Also GFLOP/s and % of
// the f32 peak anchor (567 GFLOP/s on 2 threads; --peak_gflops=N elsewhere).
//
//   ninja -C build/<you> bench_onednn_vs_bare &&
//   build/<you>/kernels/onednn/bench/bench_onednn_vs_bare
#include <omp.h>
#include <dnnl.hpp>

#include "bench_util.h"

namespace tb::bench {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// The bare oneDNN side, written as a oneDNN user would (the benchdnn way): weights with
// format_tag::any reordered once, activations in the problem's layout, bias and epilogue as
// post-ops, one stream.
struct Bare {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;

  static void post_ops(const Epilogue& e, const dnnl::memory::desc& dst,
                       dnnl::primitive_attr& attr) {
    dnnl::post_ops po;
    switch (e.act) {
      case Activation::relu:
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        break;
      case Activation::relu6:
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, 0.f, 6.f);
        break;
      case Activation::gelu:
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
        break;
      case Activation::silu:
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
        break;
      case Activation::none:
        break;
    }
    if (e.residual) po.append_binary(dnnl::algorithm::binary_add, dst);
    attr.set_post_ops(po);
  }
  void fill(const dnnl::memory& m) {
    float* p = static_cast<float*>(m.get_data_handle());
    for (std::size_t i = 0; i < m.get_desc().get_size() / 4; ++i)
      p[i] = 0.25f + 0.5f * static_cast<float>(i % 7) / 7;
  }
  dnnl::memory weights(const dnnl::memory::desc& user, const dnnl::memory::desc& want) {
    dnnl::memory u(user, eng), w(want, eng);
    fill(u);
    dnnl::reorder(u, w).execute(strm, u, w);
    strm.wait();
    return w;
  }
  void extras(const Epilogue& e, const dnnl::memory::desc& bias, const dnnl::memory::desc& dst) {
    if (e.bias) args[DNNL_ARG_BIAS] = dnnl::memory(bias, eng), fill(args[DNNL_ARG_BIAS]);
    if (e.residual) {
      const int idx = e.act == Activation::none ? 0 : 1;
      dnnl::memory r(dst, eng);
      fill(r);
      args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(idx) | DNNL_ARG_SRC_1] = r;
    }
  }

  Bare(const Problem& p) {
    omp_set_num_threads(g_threads);
    if (const auto* g = p.as<GemmDesc>()) {
      const dnnl::memory::desc a({g->m, g->k}, dt::f32, tag::ab),
          b_user({g->k, g->n}, dt::f32, tag::ab), b_any({g->k, g->n}, dt::f32, tag::any),
          c({g->m, g->n}, dt::f32, tag::ab),
          bias =
              p.post.bias ? dnnl::memory::desc({1, g->n}, dt::f32, tag::ab) : dnnl::memory::desc();
      dnnl::primitive_attr attr;
      post_ops(p.post, c, attr);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b_any, bias, c), attr, eng);
      prim = dnnl::matmul(pd);
      args[DNNL_ARG_SRC] = dnnl::memory(a, eng);
      fill(args[DNNL_ARG_SRC]);
      args[DNNL_ARG_WEIGHTS] = weights(b_user, pd.weights_desc());
      args[DNNL_ARG_DST] = dnnl::memory(c, eng);
      extras(p.post, bias, c);
    } else if (const auto* cv = p.as<ConvDesc>()) {
      const auto G = cv->groups;
      const dnnl::memory::desc src({cv->n, cv->c, cv->h, cv->w}, dt::f32, tag::nhwc),
          dst({cv->n, cv->k, cv->oh(), cv->ow()}, dt::f32, tag::nhwc),
          w_user = G == 1 ? dnnl::memory::desc({cv->k, cv->c, cv->r, cv->s}, dt::f32, tag::ohwi)
                          : dnnl::memory::desc({G, cv->k / G, cv->c / G, cv->r, cv->s}, dt::f32,
                                               tag::gohwi),
          w_any = G == 1 ? dnnl::memory::desc({cv->k, cv->c, cv->r, cv->s}, dt::f32, tag::any)
                         : dnnl::memory::desc({G, cv->k / G, cv->c / G, cv->r, cv->s}, dt::f32,
                                              tag::any),
          bias = p.post.bias ? dnnl::memory::desc({cv->k}, dt::f32, tag::a) : dnnl::memory::desc();
      dnnl::primitive_attr attr;
      post_ops(p.post, dst, attr);
      const dnnl::memory::dims st = {cv->stride, cv->stride},
                               dl = {cv->dilation - 1, cv->dilation - 1}, pad = {cv->pad, cv->pad};
      dnnl::convolution_forward::primitive_desc pd(
          dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                          dnnl::algorithm::convolution_direct, src, w_any, bias,
                                          dst, st, dl, pad, pad),
          attr, eng);
      prim = dnnl::convolution_forward(pd);
      args[DNNL_ARG_SRC] = dnnl::memory(src, eng);
      fill(args[DNNL_ARG_SRC]);
      args[DNNL_ARG_WEIGHTS] = weights(w_user, pd.weights_desc());
      args[DNNL_ARG_DST] = dnnl::memory(dst, eng);
      extras(p.post, bias, dst);
    }
  }
  double run() {
    omp_set_num_threads(g_threads);
    const double t0 = now_s();
    prim.execute(strm, args);
    strm.wait();
    return now_s() - t0;
  }
};

void BM_vs_bare(benchmark::State& st, const std::string& problem) {
  const auto p = Problem::parse(problem).value();
  static auto backend = make_backends();
  Backend* onednn = nullptr;
  for (auto& b : backend)
    if (b->name() == "onednn") onednn = b.get();
  auto k = prepare_tb(st, *onednn, p);
  if (!k) return;
  Bare bare(p);
  const auto tb_run = [&] {
    auto t = k->execute();
    return t ? t.value().seconds : -1.0;
  };
  interleave(
      st, tb_run, [&] { return bare.run(); }, "tb", "bare");
  const double tb_s = st.counters["tb_ms"] / 1e3, bare_s = st.counters["bare_ms"] / 1e3;
  st.counters["tb_GFLOPs"] = p.flops() / tb_s / 1e9;
  st.counters["bare_GFLOPs"] = p.flops() / bare_s / 1e9;
  st.counters["tb_pct_peak"] = 100 * p.flops() / tb_s / 1e9 / g_peak_gflops;
  st.counters["tb_over_bare"] = 1.0 / st.counters["bare_over_tb"];
}

const char* kProblems[] = {
    // square GEMM
    "gemm:m1024n1024k1024:f32",
    "gemm:m2048n2048k2048:f32",
    // BERT-base (seq 128): QKV / output projections, FFN up with bias+gelu, FFN down with +res
    "gemm:m128n768k768:f32+bias",
    "gemm:m128n3072k768:f32+bias+gelu",
    "gemm:m128n768k3072:f32+bias+res",
    // LLM (7B-class): decode GEMV and a 128-token prefill chunk
    "gemm:m1n4096k4096:f32",
    "gemm:m128n4096k4096:f32",
    // ResNet-50: stem 7x7/2, 3x3 in stage 1, 1x1 expand
    "conv:n1c3h224w224k64r7s7st2p3:f32+bias+relu",
    "conv:n1c64h56w56k64r3s3p1:f32+bias+relu",
    "conv:n1c64h56w56k256r1s1:f32+bias+res",
    // MobileNetV2: 1x1 expand, 3x3 depthwise (memory-bound), 1x1 project
    "conv:n1c24h56w56k144r1s1:f32+bias+relu6",
    "conv:n1c144h56w56k144r3s3p1g144:f32+bias+relu6",
    "conv:n1c144h28w28k32r1s1:f32+bias",
};

}  // namespace
}  // namespace tb::bench

int main(int argc, char** argv) {
  tb::bench::parse_flags(argc, argv);
  for (const char* p : tb::bench::kProblems)
    benchmark::RegisterBenchmark(p, tb::bench::BM_vs_bare, std::string(p))
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

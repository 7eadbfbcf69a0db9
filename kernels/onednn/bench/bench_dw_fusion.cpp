// Depthwise fused into the preceding 1x1 convolution (oneDNN's dw post-op, append_dw) against
// the two convolutions as the oneDNN graph runs them (each with format_tag::any, the 1x1's output
// read by the depthwise in its blocked layout), interleaved per iteration, for MobileNetV2's
// expand + depthwise pairs (batch 1, ReLU6 after each). The label names the implementation
// oneDNN chose for the fused form: "ref_fused_convolution" runs the two convolutions one after
// the other, so only a jit_1x1 label is a fused kernel. This is why onednn_graph.cpp does not
// fuse (kernels/onednn/README.md has the figures).
//
//   ninja -C build/<you> bench_dw_fusion && build/<you>/kernels/onednn/bench/bench_dw_fusion
#include <omp.h>
#include <dnnl.hpp>

#include "bench_util.h"

namespace tb::bench {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

struct Pair {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::primitive expand, dw, fused;
  std::unordered_map<int, dnnl::memory> expand_args, dw_args, fused_args;
  std::string fused_impl;

  dnnl::memory filled(const dnnl::memory::desc& md) {
    dnnl::memory m(md, eng);
    float* p = static_cast<float*>(m.get_data_handle());
    for (std::size_t i = 0; i < md.get_size() / sizeof(float); ++i)
      p[i] = 0.25f - 0.5f * static_cast<float>(i % 11) / 11;
    return m;
  }
  static dnnl::primitive_attr relu6(bool with_dw = false, dnnl::memory::dim stride = 1) {
    dnnl::post_ops po;
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, 0.f, 6.f);
    if (with_dw) {
      po.append_dw(dt::f32, dt::f32, dt::f32, 3, stride, 1, 0, {});
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, 0.f, 6.f);
    }
    dnnl::primitive_attr a;
    a.set_post_ops(po);
    return a;
  }

  // c -> k channels 1x1 at h x h, then a 3x3 depthwise with `stride` and padding 1.
  Pair(dnnl::memory::dim c, dnnl::memory::dim k, dnnl::memory::dim h, dnnl::memory::dim stride) {
    const dnnl::memory::dim oh = (h + 2 - 3) / stride + 1;
    const auto any = [](dims d) { return dnnl::memory::desc(d, dt::f32, tag::any); };
    const auto bias = dnnl::memory::desc({k}, dt::f32, tag::x);
    const auto conv = [&](const dnnl::memory::desc& src, const dnnl::memory::desc& w,
                          const dnnl::memory::desc& dst, dnnl::memory::dim s, dnnl::memory::dim p) {
      return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                             dnnl::algorithm::convolution_direct, src, w, bias, dst,
                                             {s, s}, {p, p}, {p, p});
    };
    const auto e_desc = conv(any({1, c, h, h}), any({k, c, 1, 1}), any({1, k, h, h}), 1, 0);
    const dnnl::convolution_forward::primitive_desc e(e_desc, relu6(), eng);
    const dnnl::convolution_forward::primitive_desc d(
        conv(e.dst_desc(), any({k, 1, 1, 3, 3}), any({1, k, oh, oh}), stride, 1), relu6(), eng);
    const dnnl::convolution_forward::primitive_desc f(e_desc, relu6(true, stride), eng);
    fused_impl = f.impl_info_str();
    const auto src = filled(e.src_desc()), w = filled(e.weights_desc()), b = filled(bias);
    const auto mid = filled(e.dst_desc()), dww = filled(d.weights_desc());
    expand = dnnl::convolution_forward(e), dw = dnnl::convolution_forward(d);
    fused = dnnl::convolution_forward(f);
    expand_args = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, mid}};
    dw_args = {{DNNL_ARG_SRC, mid},
               {DNNL_ARG_WEIGHTS, dww},
               {DNNL_ARG_BIAS, b},
               {DNNL_ARG_DST, filled(d.dst_desc())}};
    const int dw_arg = DNNL_ARG_ATTR_POST_OP_DW;
    fused_args = {{DNNL_ARG_SRC, filled(f.src_desc())},
                  {DNNL_ARG_WEIGHTS, filled(f.weights_desc())},
                  {DNNL_ARG_BIAS, b},
                  {DNNL_ARG_DST, filled(f.dst_desc())},
                  {dw_arg | DNNL_ARG_WEIGHTS,
                   filled(f.query_md(dnnl::query::exec_arg_md, dw_arg | DNNL_ARG_WEIGHTS))},
                  {dw_arg | DNNL_ARG_BIAS, b}};
    if (f.scratchpad_desc().get_size() > 0)
      fused_args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(f.scratchpad_desc(), eng);
  }
  double run_separate() {
    const double t0 = now_s();
    expand.execute(strm, expand_args);
    dw.execute(strm, dw_args);
    strm.wait();
    return now_s() - t0;
  }
  double run_fused() {
    const double t0 = now_s();
    fused.execute(strm, fused_args);
    strm.wait();
    return now_s() - t0;
  }
};

void BM_dw_fusion(benchmark::State& st, int c, int k, int h, int stride) {
  omp_set_num_threads(g_threads);
  try {
    Pair p(c, k, h, stride);
    st.SetLabel(p.fused_impl);
    interleave(
        st, [&] { return p.run_separate(); }, [&] { return p.run_fused(); }, "separate", "fused");
  } catch (const dnnl::error& e) {
    st.SkipWithError((std::string("oneDNN offers no fused form: ") + e.what()).c_str());
  }
}

// MobileNetV2-1.0 at 224: the expand 1x1 and the depthwise of a block (c, expanded k, side,
// depthwise stride).
const int kPairs[][4] = {{16, 96, 112, 2}, {24, 144, 56, 1}, {24, 144, 56, 2}, {32, 192, 28, 1},
                         {32, 192, 28, 2}, {64, 384, 14, 1}, {96, 576, 14, 2}, {160, 960, 7, 1}};

}  // namespace
}  // namespace tb::bench

int main(int argc, char** argv) {
  tb::bench::parse_flags(argc, argv);
  for (const auto& q : tb::bench::kPairs) {
    const std::string name = "expand" + std::to_string(q[0]) + "to" + std::to_string(q[1]) + "_h" +
                             std::to_string(q[2]) + "_dw_s" + std::to_string(q[3]);
    benchmark::RegisterBenchmark(name.c_str(), tb::bench::BM_dw_fusion, q[0], q[1], q[2], q[3])
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

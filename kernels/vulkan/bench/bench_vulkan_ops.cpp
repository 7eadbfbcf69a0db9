// Vulkan conv, attention and glue ops: device time per run.
//
//   ninja -C build/<dir> bench_vulkan_ops
//   build/<dir>/kernels/vulkan/bench_vulkan_ops --benchmark_repetitions=5
//
// conv/direct (one invocation per output element, TB_VULKAN_CONV_DIRECT=1) is the in-run anchor
// of conv/igemm (4 x 4 implicit-GEMM blocks) on the same shape. The other ops report their
// effective bandwidth (compulsory bytes / device time) or GFLOP/s. Time is device time
// (timestamps) via manual timing; every kernel is checked against the reference before timing.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "reference/reference_backend.h"
#include "validate.h"
#include "vulkan/vulkan_backend.h"

namespace tb {
namespace {

Backend& vulkan() {
  static auto b = make_vulkan_backend();
  return *b;
}

void run(benchmark::State& st, const std::string& problem, bool direct_conv = false) {
  const auto p = Problem::parse(problem);
  if (!p) return st.SkipWithError(p.error().message.c_str());
  if (auto s = vulkan().supports(p.value(), 0); !s.supported)
    return st.SkipWithError(s.reason.c_str());
  if (direct_conv) setenv("TB_VULKAN_CONV_DIRECT", "1", 1);
  auto k = vulkan().prepare(p.value(), {});
  unsetenv("TB_VULKAN_CONV_DIRECT");
  if (!k) return st.SkipWithError(k.error().message.c_str());
  const auto in = make_inputs(p.value(), 1);
  if (auto r = k.value()->upload(in); !r) return st.SkipWithError(r.error().message.c_str());
  if (auto r = k.value()->execute(); !r) return st.SkipWithError(r.error().message.c_str());
  auto out = make_outputs(p.value()), ref = make_outputs(p.value());
  if (auto r = k.value()->download(out); !r) return st.SkipWithError(r.error().message.c_str());
  if (auto r = reference_compute(p.value(), in, ref); !r)
    return st.SkipWithError(r.error().message.c_str());
  if (auto c = check_outputs(out, ref, tolerance_for(p.value())); c.status != Status::passed)
    return st.SkipWithError(("wrong result: " + c.message).c_str());
  for (auto _ : st) {
    auto t = k.value()->execute();
    if (!t) return st.SkipWithError(t.error().message.c_str());
    st.SetIterationTime(t->seconds);
  }
  const double it = static_cast<double>(st.iterations());
  if (p->flops() > 0)
    st.counters["GFLOP/s"] =
        benchmark::Counter(p->flops() * 1e-9 * it, benchmark::Counter::kIsRate);
  st.counters["GB/s"] = benchmark::Counter(p->min_bytes() * 1e-9 * it, benchmark::Counter::kIsRate);
  st.SetLabel(problem);
}

const char* kConvs[] = {"conv:n1c64h56w56k64r3s3p1:f32+bias+relu", "conv:n1c128h28w28k128r1s1:f32",
                        "conv:n1c144h56w56k144r3s3p1g144:f32+relu6"};
void BM_conv_direct(benchmark::State& st) {
  run(st, kConvs[st.range(0)], true);
}
void BM_conv_auto(benchmark::State& st) {
  run(st, kConvs[st.range(0)], false);
}

const char* kOps[] = {
    "attn:h8q128s128d64:f32", "attn:h8kv2q1s1024d128:f32", "softmax:m128n1000:f32",
    "lnorm:m512n768:f32",     "rmsnorm:m64n4096:f32",      "add:n1048576:f32",
    "rope:t128h32d128:f32",   "embed:v32000d768t128:f32",  "maxpool:n1c64h112w112r3s3st2p1:f32",
    "gpool:n1c1280h7w7:f32"};
void BM_op(benchmark::State& st) {
  run(st, kOps[st.range(0)]);
}

BENCHMARK(BM_conv_direct)->DenseRange(0, 2)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv_auto)->DenseRange(0, 2)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_op)->DenseRange(0, 9)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tb

BENCHMARK_MAIN();

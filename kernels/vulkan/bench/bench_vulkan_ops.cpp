// Vulkan conv, attention, pool, row ops, binary, rope and embed: device time per run; fused vs
// composed attention.
//
//   ninja -C build/<dir> bench_vulkan_ops
//   build/<dir>/kernels/vulkan/bench_vulkan_ops --benchmark_repetitions=5
//
// conv/direct (one invocation per output element, TB_VULKAN_CONV_DIRECT=1) is the in-run anchor
// of conv/igemm (4 x 4 implicit-GEMM blocks) on the same shape. The other ops report their
// effective bandwidth (compulsory bytes / device time) or GFLOP/s. Time is device time
// (timestamps) via manual timing; every kernel is checked against the reference before timing.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

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

// ---- fused vs composed attention ----------------------------------------------------------
// attn:h8q{S}s{S}d64: the fused online-softmax shader against the same attention composed from
// the backend's own ops, scores = gemm(Q', K^T) (b8, S x S x 64), P = softmax(scores) over
// 8S rows, O = gemm(P, V) (b8, S x 64 x S), with Q' = Q / sqrt(d) folded into the input (as a
// model folds it into the Q projection). Composed time is the sum of the three ops' device
// times; the host round trips between them are not counted (in favour of the composed path).
// Both outputs are checked against the reference attention first.
std::vector<float> tensor_values(const Tensor& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = t.at(i);
  return v;
}

void BM_attn_fused(benchmark::State& st) {
  run(st, "attn:h8q" + std::to_string(st.range(0)) + "s" + std::to_string(st.range(0)) + "d64:f32");
}

void BM_attn_composed(benchmark::State& st) {
  const std::int64_t S = st.range(0), H = 8, D = 64;
  const auto attn =
      Problem::parse("attn:h8q" + std::to_string(S) + "s" + std::to_string(S) + "d64:f32");
  const auto qk =
      Problem::parse("gemm:b8m" + std::to_string(S) + "n" + std::to_string(S) + "k64tb1:f32");
  const auto sm =
      Problem::parse("softmax:m" + std::to_string(H * S) + "n" + std::to_string(S) + ":f32");
  const auto pv =
      Problem::parse("gemm:b8m" + std::to_string(S) + "n64k" + std::to_string(S) + ":f32");
  if (!attn || !qk || !sm || !pv) return st.SkipWithError("problem strings");
  std::vector<std::unique_ptr<PreparedKernel>> k;
  for (const auto* p : {&qk.value(), &sm.value(), &pv.value()}) {
    if (auto s = vulkan().supports(*p, 0); !s.supported) return st.SkipWithError(s.reason.c_str());
    auto r = vulkan().prepare(*p, {});
    if (!r) return st.SkipWithError(r.error().message.c_str());
    k.push_back(std::move(r.value()));
  }
  // Inputs: the attention's Q, K, V; Q scaled on the host.
  const auto in = make_inputs(attn.value(), 1);
  auto ref = make_outputs(attn.value());
  if (auto r = reference_compute(attn.value(), in, ref); !r)
    return st.SkipWithError(r.error().message.c_str());
  std::vector<Tensor> qk_in = {Tensor(DType::f32, {H, S, D}), Tensor(DType::f32, {H, S, D})};
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const auto q = tensor_values(in[0]), kk = tensor_values(in[1]);
  for (std::int64_t i = 0; i < H * S * D; ++i) {
    qk_in[0].set(i, q[static_cast<std::size_t>(i)] * scale);
    qk_in[1].set(i, kk[static_cast<std::size_t>(i)]);
  }
  auto scores = make_outputs(qk.value());
  std::vector<Tensor> sm_in = {Tensor(DType::f32, {H * S, S})};
  auto probs = make_outputs(sm.value());
  std::vector<Tensor> pv_in = {Tensor(DType::f32, {H, S, S}), Tensor(DType::f32, {H, S, D})};
  std::memcpy(pv_in[1].raw(), in[2].raw(), in[2].bytes());  // V [1][8][S][64] as [8][S][64]
  auto out = make_outputs(pv.value());
  auto step = [&](PreparedKernel& kern, std::span<const Tensor> i, std::span<Tensor> o,
                  double* t) -> std::string {
    if (auto r = kern.upload(i); !r) return r.error().message;
    auto e = kern.execute();
    if (!e) return e.error().message;
    *t += e->seconds;
    if (auto r = kern.download(o); !r) return r.error().message;
    return {};
  };
  auto composed = [&](double* t) -> std::string {
    if (auto e = step(*k[0], qk_in, scores, t); !e.empty()) return e;
    std::memcpy(sm_in[0].raw(), scores[0].raw(), scores[0].bytes());
    if (auto e = step(*k[1], sm_in, probs, t); !e.empty()) return e;
    std::memcpy(pv_in[0].raw(), probs[0].raw(), probs[0].bytes());
    return step(*k[2], pv_in, out, t);
  };
  double t = 0;
  if (auto e = composed(&t); !e.empty()) return st.SkipWithError(e.c_str());
  // O [8][S][64] is the attention's output layout.
  std::vector<Tensor> got = {Tensor(DType::f32, ref[0].shape())};
  std::memcpy(got[0].raw(), out[0].raw(), out[0].bytes());
  if (auto c = check_outputs(got, ref, tolerance_for(attn.value())); c.status != Status::passed)
    return st.SkipWithError(("composed attention wrong: " + c.message).c_str());
  for (auto _ : st) {
    // Device time of the three ops only: each op's input stays where the validated run put it
    // (the composed ops do not share device buffers; transfers between them are not timed).
    double ts = 0;
    for (std::size_t i = 0; i < k.size(); ++i) {
      auto e = k[i]->execute();
      if (!e) return st.SkipWithError(e.error().message.c_str());
      ts += e->seconds;
    }
    st.SetIterationTime(ts);
  }
  st.counters["GFLOP/s"] = benchmark::Counter(attn->flops() * 1e-9 * double(st.iterations()),
                                              benchmark::Counter::kIsRate);
  st.SetLabel(attn->str() + " composed: gemm+softmax+gemm");
}

BENCHMARK(BM_attn_fused)
    ->RangeMultiplier(2)
    ->Range(128, 2048)
    ->UseManualTime()
    ->MinTime(0.2)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attn_composed)
    ->RangeMultiplier(2)
    ->Range(128, 2048)
    ->UseManualTime()
    ->MinTime(0.2)
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_conv_direct)->DenseRange(0, 2)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv_auto)->DenseRange(0, 2)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_op)->DenseRange(0, 9)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tb

BENCHMARK_MAIN();

// Fused attention vs the composed path (GEMM + softmax + GEMM) on the same OpenCL device, f32,
// 8 query heads, no mask: prefill at head dim 64, sequence 512 / 1024 / 2048, and decode (q = 1)
// against 1024- to 8192-key caches at head dim 64 and 128, with 8 kv heads (MHA) and with 2 (GQA).
//
//   bench_opencl_attention [google-benchmark flags]
//
// Both are timed with OpenCL profiling events (device time of the launches, first start to last
// end). fused: attn_prep + attn_fwd (+ attn_combine) as the backend runs them. composed: the
// device time of the three kernels only; the host round trips between them are left out and the
// packed GEMM's panel packing (done at upload) is shown apart as "+pack": in a real composed
// attention Q, K, V and P change every call, so "composed+pack" is the honest comparison and
// "composed" a lower bound. Before timing, the fused output is checked against the reference
// (decode) or against the composed output (prefill, the reference is slow at these sizes).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "kernels.h"
#include "opencl/opencl_op.h"
#include "reference/reference_backend.h"

namespace {

using tb::Problem;
using tb::Tensor;

std::map<std::string, std::vector<double>> g_ms;  // per case, one per iteration
std::map<std::string, double> g_pack_ms;

std::shared_ptr<tb::ocl::DeviceCtx> device() {
  static auto d = tb::ocl::open_device(0);
  return d.ok() ? d.value() : nullptr;
}

Problem attn(std::int64_t q, std::int64_t s, std::int64_t d, std::int64_t kv) {
  tb::AttentionDesc a;
  a.h = 8;
  a.kv = kv;
  a.q = q;
  a.s = s;
  a.d = d;
  return Problem{a, tb::DType::f32, {}};
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  double scale = 0, m = 0;
  for (std::int64_t i = 0; i < b.numel(); ++i) scale = std::max(scale, std::fabs(b.at(i)));
  for (std::int64_t i = 0; i < b.numel(); ++i) m = std::max(m, std::fabs(a.at(i) - b.at(i)));
  return m / std::max(scale, 1e-30);
}

// One prepared and uploaded kernel, run once to be checked or timed.
struct Step {
  std::unique_ptr<tb::PreparedKernel> k;
  double pack_s = 0;
};

tb::Result<Step> make_step(std::shared_ptr<tb::ocl::DeviceCtx> d, const Problem& p,
                           const std::vector<Tensor>& in) {
  // The op families return their own kernel types; each is a PreparedKernel.
  const auto prepared = [&]() -> tb::Result<std::unique_ptr<tb::PreparedKernel>> {
    if (p.as<tb::GemmDesc>()) return tb::ocl::prepare_gemm(d, p, tb::ocl::select_gemm_config(*d));
    auto r =
        p.as<tb::RowDesc>() ? tb::ocl::prepare_rowwise(d, p) : tb::ocl::prepare_attention(d, p);
    if (!r) return r.error();
    return std::unique_ptr<tb::PreparedKernel>(std::move(r.value()));
  };
  auto k = prepared();
  if (!k) return k.error();
  if (auto r = k.value()->upload(in); !r) return r.error();
  Step s;
  for (const auto& [name, v] : k.value()->details())
    if (name == "pack_s") s.pack_s = v;
  s.k = std::move(k.value());
  return s;
}

// The composed attention: S = Q' K^T (Q' = Q / sqrt(d), batched over kv heads, K as B^T; the
// query heads of a group are rows of one GEMM, as Q [h][q][d] is [kv][group * q][d]),
// P = softmax(S) row-wise, O = P V. Each step is uploaded with the previous one's output.
struct Composed {
  Step qk, sm, pv;
  std::vector<Tensor> out;
};

tb::Result<Composed> make_composed(std::shared_ptr<tb::ocl::DeviceCtx> d,
                                   const tb::AttentionDesc& a, const std::vector<Tensor>& in) {
  Composed c;
  const auto f32 = tb::DType::f32;
  const std::int64_t rows = (a.h / a.kv) * a.q;
  tb::GemmDesc g1;
  g1.batch = a.kv;
  g1.m = rows;
  g1.n = a.s;
  g1.k = a.d;
  g1.trans_b = true;
  tb::RowDesc r;
  r.kind = tb::RowKind::softmax;
  r.m = a.h * a.q;
  r.n = a.s;
  tb::GemmDesc g2;
  g2.batch = a.kv;
  g2.m = rows;
  g2.n = a.d;
  g2.k = a.s;
  const Problem p1{g1, f32, {}}, p2{r, f32, {}}, p3{g2, f32, {}};
  std::vector<Tensor> x1 = {Tensor(f32, {a.kv, rows, a.d}), Tensor(f32, {a.kv, a.s, a.d})};
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.d));
  for (std::int64_t i = 0; i < x1[0].numel(); ++i) x1[0].set(i, in[0].at(i) * scale);
  std::memcpy(x1[1].raw(), in[1].raw(), x1[1].bytes());
  auto s1 = make_step(d, p1, x1);
  if (!s1) return s1.error();
  c.qk = std::move(s1.value());
  if (auto t = c.qk.k->execute(); !t) return t.error();
  std::vector<Tensor> scores = {Tensor(f32, {a.kv, rows, a.s})};
  if (auto e = c.qk.k->download(scores); !e) return e.error();
  std::vector<Tensor> x2 = {Tensor(f32, {r.m, r.n})};
  std::memcpy(x2[0].raw(), scores[0].raw(), x2[0].bytes());
  auto s2 = make_step(d, p2, x2);
  if (!s2) return s2.error();
  c.sm = std::move(s2.value());
  if (auto t = c.sm.k->execute(); !t) return t.error();
  std::vector<Tensor> probs = {Tensor(f32, {r.m, r.n})};
  if (auto e = c.sm.k->download(probs); !e) return e.error();
  std::vector<Tensor> x3 = {Tensor(f32, {a.kv, rows, a.s}), Tensor(f32, {a.kv, a.s, a.d})};
  std::memcpy(x3[0].raw(), probs[0].raw(), x3[0].bytes());
  std::memcpy(x3[1].raw(), in[2].raw(), x3[1].bytes());
  auto s3 = make_step(d, p3, x3);
  if (!s3) return s3.error();
  c.pv = std::move(s3.value());
  if (auto t = c.pv.k->execute(); !t) return t.error();
  c.out = {Tensor(f32, {a.kv, rows, a.d})};
  if (auto e = c.pv.k->download(c.out); !e) return e.error();
  return c;
}

std::string case_name(std::int64_t q, std::int64_t s, std::int64_t d, std::int64_t kv) {
  std::string n =
      (q == 1 ? "decode s" : "prefill s") + std::to_string(s) + " d" + std::to_string(d);
  return kv == 8 ? n : n + " kv" + std::to_string(kv);
}
std::vector<std::string> g_cases;  // in registration order

void BM_fused(benchmark::State& st) {
  const std::int64_t q = st.range(0), s = st.range(1), hd = st.range(2), kv = st.range(3);
  auto d = device();
  if (!d) return st.SkipWithError("no OpenCL device");
  const Problem p = attn(q, s, hd, kv);
  const auto in = tb::make_inputs(p, 3);
  auto step = make_step(d, p, in);
  if (!step) return st.SkipWithError(step.error().message.c_str());
  auto& k = *step.value().k;
  if (auto t = k.execute(); !t) return st.SkipWithError(t.error().message.c_str());
  auto out = tb::make_outputs(p);
  if (auto r = k.download(out); !r) return st.SkipWithError(r.error().message.c_str());
  // Check: against the reference for decode, against the composed path for prefill.
  auto composed = make_composed(d, *p.as<tb::AttentionDesc>(), in);
  if (!composed) return st.SkipWithError(composed.error().message.c_str());
  const double diff = max_rel_diff(out[0], composed.value().out[0]);
  if (diff > 1e-4) return st.SkipWithError("fused and composed outputs differ");
  if (q == 1) {
    auto ref = tb::make_outputs(p);
    if (!tb::reference_compute(p, in, ref).ok() ||
        tb::check_outputs(out, ref, tb::tolerance_for(p)).status != tb::Status::passed)
      return st.SkipWithError("fused output does not match the reference");
  }
  auto& v = g_ms["fused " + case_name(q, s, hd, kv)];
  for (auto _ : st) {
    auto t = k.execute();
    if (!t) return st.SkipWithError(t.error().message.c_str());
    st.SetIterationTime(t->seconds);
    v.push_back(t->seconds * 1e3);
  }
  st.counters["GFLOP/s"] =
      benchmark::Counter(p.flops(), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_composed(benchmark::State& st) {
  const std::int64_t q = st.range(0), s = st.range(1), hd = st.range(2), kv = st.range(3);
  auto d = device();
  if (!d) return st.SkipWithError("no OpenCL device");
  const Problem p = attn(q, s, hd, kv);
  const auto in = tb::make_inputs(p, 3);
  auto c = make_composed(d, *p.as<tb::AttentionDesc>(), in);
  if (!c) return st.SkipWithError(c.error().message.c_str());
  auto& v = g_ms["composed " + case_name(q, s, hd, kv)];
  g_pack_ms[case_name(q, s, hd, kv)] = (c->qk.pack_s + c->pv.pack_s) * 1e3;
  for (auto _ : st) {
    double sec = 0;
    for (Step* step : {&c->qk, &c->sm, &c->pv}) {
      auto t = step->k->execute();
      if (!t) return st.SkipWithError(t.error().message.c_str());
      sec += t->seconds;
    }
    st.SetIterationTime(sec);
    v.push_back(sec * 1e3);
  }
  st.counters["GFLOP/s"] =
      benchmark::Counter(p.flops(), benchmark::Counter::kIsIterationInvariantRate);
}

void args(benchmark::internal::Benchmark* b) {
  // {q, s, d, kv}
  std::vector<std::vector<std::int64_t>> cases;
  for (std::int64_t s : {512, 1024, 2048}) cases.push_back({s, s, 64, 8});
  for (std::int64_t hd : {64, 128})
    for (std::int64_t s : {1024, 4096, 8192}) cases.push_back({1, s, hd, 8});
  for (std::int64_t hd : {64, 128}) cases.push_back({1, 4096, hd, 2});
  for (const auto& c : cases) {
    b->Args(c);
    const std::string n = case_name(c[0], c[1], c[2], c[3]);
    if (std::find(g_cases.begin(), g_cases.end(), n) == g_cases.end()) g_cases.push_back(n);
  }
  b->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);
}
BENCHMARK(BM_fused)->Apply(args);
BENCHMARK(BM_composed)->Apply(args);

struct Stats {
  double median = 0, p10 = 0, p90 = 0;
  std::size_t n = 0;
};
Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double f) {
    return v[static_cast<std::size_t>(f * static_cast<double>(v.size() - 1))];
  };
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  s.p10 = at(0.1);
  s.p90 = at(0.9);
  s.n = v.size();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\nSummary (device ms per call, median [p10, p90] over n iterations; h8 f32):\n");
  for (const std::string& c : g_cases) {
    const Stats f = stats(g_ms["fused " + c]);
    const Stats k = stats(g_ms["composed " + c]);
    if (!f.n || !k.n) continue;
    const double pack = g_pack_ms[c];
    std::printf(
        "  %-22s fused %.3f [%.3f, %.3f] n=%zu | composed %.3f [%.3f, %.3f] n=%zu, +pack %.3f"
        " | composed/fused %.2fx, (composed+pack)/fused %.2fx\n",
        c.c_str(), f.median, f.p10, f.p90, f.n, k.median, k.p10, k.p90, k.n, k.median + pack,
        k.median / f.median, (k.median + pack) / f.median);
  }
  return 0;
}

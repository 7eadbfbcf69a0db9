// Vulkan GEMM throughput and pipeline-creation cost.
//
//   ninja -C build/<dir> bench_vulkan_gemm
//   build/<dir>/kernels/vulkan/bench_vulkan_gemm --benchmark_repetitions=5
//
// gemm/naive is the in-run anchor; gemm/tuned runs the tuner's winner for the shape (the tuner
// itself runs once, before timing, and is reported as a counter); gemm/reg_* are fixed blocks.
// Time is device time (timestamps) via manual timing. pipeline/cold creates with an emptied
// VkPipelineCache, pipeline/warm with one that already holds the pipeline.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>

#include "validate.h"
#include "vulkan/vulkan_gemm.h"

namespace tb::vulkan {
namespace {

std::shared_ptr<Context> ctx_or_skip(benchmark::State& st) {
  auto c = shared_context(0);
  if (!c) {
    st.SkipWithError(c.error().message.c_str());
    return nullptr;
  }
  return c.value();
}

void run_gemm(benchmark::State& st, const Problem& p, std::optional<GemmConfig> cfg) {
  auto ctx = ctx_or_skip(st);
  if (!ctx) return;
  GemmPrepareOptions po;
  po.config = cfg;
  auto k = prepare_gemm(ctx, p, po);
  if (!k) return st.SkipWithError(k.error().message.c_str());
  const auto in = make_inputs(p, 1);
  if (auto r = k.value()->upload(in); !r) return st.SkipWithError(r.error().message.c_str());
  if (auto r = k.value()->execute(); !r) return st.SkipWithError(r.error().message.c_str());
  for (auto _ : st) {
    auto t = k.value()->execute();
    if (!t) return st.SkipWithError(t.error().message.c_str());
    st.SetIterationTime(t->seconds);
  }
  st.counters["GFLOP/s"] =
      benchmark::Counter(p.flops() * 1e-9 * double(st.iterations()), benchmark::Counter::kIsRate);
  for (auto& [n, v] : k.value()->details())
    if (n == "pipeline_create_s") st.counters["create_ms"] = v * 1e3;
  st.SetLabel(cfg ? cfg->str() : "default");
}

std::optional<GemmConfig> tuned_for(const Problem& p, benchmark::State& st) {
  static std::map<std::string, GemmConfig> memo;
  if (auto it = memo.find(p.str()); it != memo.end()) return it->second;
  auto ctx = ctx_or_skip(st);
  if (!ctx) return std::nullopt;
  TuneOptions o;
  o.budget_s = 20;
  auto r = tune_gemm(ctx, p, o);
  if (!r) {
    st.SkipWithError(r.error().message.c_str());
    return std::nullopt;
  }
  for (auto& e : r->tried)
    std::fprintf(
        stderr, "tune %s %-18s %7.2f GFLOP/s  create %8.1f ms (again %7.1f ms)  score %8.1f ms%s\n",
        p.str().c_str(), e.config.str().c_str(), e.gflops, e.create_s * 1e3, e.create_warm_s * 1e3,
        e.score_s * 1e3, e.config == r->best ? "  <- best" : "");
  memo[p.str()] = r->best;
  return r->best;
}

void BM_gemm_naive(benchmark::State& st) {
  run_gemm(st, make_gemm(st.range(0), st.range(0), st.range(0)), naive_config());
}
void BM_gemm_tuned(benchmark::State& st) {
  const auto p = make_gemm(st.range(0), st.range(0), st.range(0));
  auto cfg = tuned_for(p, st);
  if (!cfg) return;
  run_gemm(st, p, cfg);
}
void BM_gemm_reg(benchmark::State& st) {
  const auto t = static_cast<std::uint32_t>(st.range(1));
  run_gemm(st, make_gemm(st.range(0), st.range(0), st.range(0)),
           GemmConfig{GemmShader::reg, t, t, 8, 1});
}
// f32 loaded 8 k values at a time (u64vec4), TM x TN blocks.
void BM_gemm_wide(benchmark::State& st) {
  run_gemm(st, make_gemm(st.range(0), st.range(0), st.range(0)),
           GemmConfig{GemmShader::wide, static_cast<std::uint32_t>(st.range(1)),
                      static_cast<std::uint32_t>(st.range(2)), 8, 1});
}
// Subgroup-shared A blocks (TM x TN per lane; 8-lane subgroups only).
void BM_gemm_sg(benchmark::State& st) {
  run_gemm(st, make_gemm(st.range(0), st.range(0), st.range(0)),
           GemmConfig{GemmShader::sg, static_cast<std::uint32_t>(st.range(1)),
                      static_cast<std::uint32_t>(st.range(2)), 8, 1});
}
// f16 (f16 storage, f32 accumulation) and u8 x s8 -> s32, default configuration.
void BM_gemm_dtype(benchmark::State& st) {
  const auto dt = st.range(1) == 0 ? DType::f16 : DType::s8;
  run_gemm(st, make_gemm(st.range(0), st.range(0), st.range(0), dt), std::nullopt);
  st.SetLabel(std::string(dtype_name(dt)) + " default");
}

// Pipeline creation through the VkPipelineCache (in-process reuse off).
void pipeline_create(benchmark::State& st, bool warm) {
  auto ctx = ctx_or_skip(st);
  if (!ctx) return;
  const auto p = make_gemm(1024, 1024, 1024);
  GemmPrepareOptions po;
  po.config = GemmConfig{GemmShader::reg, static_cast<std::uint32_t>(st.range(0)),
                         static_cast<std::uint32_t>(st.range(0)), 8, 1};
  po.reuse_pipeline = false;
  double hits = 0;
  for (auto _ : st) {
    if (!warm) {
      if (auto r = ctx->reset_pipeline_cache(); !r)
        return st.SkipWithError(r.error().message.c_str());
    } else if (st.iterations() == 0) {
      (void)prepare_gemm(ctx, p, po);  // fills the cache
    }
    auto k = prepare_gemm(ctx, p, po);
    if (!k) return st.SkipWithError(k.error().message.c_str());
    for (auto& [n, v] : k.value()->details()) {
      if (n == "pipeline_create_s") st.SetIterationTime(v);
      if (n == "pipeline_cache_hit" && v > 0) hits += 1;
    }
  }
  st.counters["driver_cache_hits"] = hits / double(st.iterations());
}
void BM_pipeline_cold(benchmark::State& st) {
  pipeline_create(st, false);
}
void BM_pipeline_warm(benchmark::State& st) {
  pipeline_create(st, true);
}

BENCHMARK(BM_gemm_naive)->Arg(256)->Arg(1024)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm_tuned)->Arg(256)->Arg(1024)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm_reg)
    ->Args({1024, 16})
    ->Args({1024, 32})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm_wide)
    ->Args({1024, 16, 16})
    ->Args({1024, 16, 32})
    ->Args({1024, 32, 32})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm_sg)
    ->Args({1024, 32, 8})
    ->Args({1024, 64, 4})
    ->Args({1024, 32, 16})
    ->Args({1024, 64, 8})
    ->Args({1024, 16, 16})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm_dtype)
    ->Args({1024, 0})
    ->Args({1024, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_pipeline_cold)
    ->Arg(8)
    ->Arg(32)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_pipeline_warm)
    ->Arg(8)
    ->Arg(32)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tb::vulkan

BENCHMARK_MAIN();

// Fused (online softmax, hand-written) vs composed (oneDNN matmul + softmax + matmul) attention
// on the oneDNN backend, interleaved per iteration; composed_over_fused > 1 means fused is faster.
// Prefill: 8 heads, S = 128 .. 4096, head dim 64 and 128. Decode: 1 query against a KV cache of
// 1024 .. 65536 (and a few of each in bf16), reported as GB/s over the compulsory K + V (+ Q, O)
// traffic and as fused_over_bound = time / (bytes / copy bandwidth): 8 MiB and less of KV stays in
// the LLC between iterations, 64 and 128 MiB come from DRAM.
//   --read_gbs=N: the probed read-stream bandwidth, memory.bandwidth.read of `tierbench probe`
//   (default 35 GB/s: 2 threads, this machine), the bound for decode, which only reads K and V
//
//   ninja -C build/<you> bench_attention && build/<you>/kernels/onednn/bench/bench_attention
#include <cstdlib>
#include <string_view>

#include "bench_util.h"

namespace tb::bench {
namespace {

double g_read_gbs = 35.0;

std::unique_ptr<PreparedKernel> prepare_path(benchmark::State& st, Backend& b, const Problem& p,
                                             const char* path) {
  setenv("TB_ONEDNN_ATTENTION", path, 1);
  auto k = prepare_tb(st, b, p);
  unsetenv("TB_ONEDNN_ATTENTION");
  return k;
}

void BM_attention(benchmark::State& st, const std::string& problem) {
  const auto p = Problem::parse(problem).value();
  static auto backends = make_backends();
  Backend* onednn = nullptr;
  for (auto& b : backends)
    if (b->name() == "onednn") onednn = b.get();
  auto fused = prepare_path(st, *onednn, p, "fused");
  if (!fused) return;
  auto composed = prepare_path(st, *onednn, p, "composed");
  if (!composed) return;
  // The fastest iteration of each side next to the medians: on this shared machine it is the
  // one least disturbed by other processes (memory bandwidth included).
  double best_f = 1e30, best_c = 1e30;
  const auto run = [](PreparedKernel& k, double& best) {
    auto t = k.execute();
    const double s = t ? t.value().seconds : -1.0;
    best = s >= 0 && s < best ? s : best;
    return s;
  };
  interleave(
      st, [&] { return run(*fused, best_f); }, [&] { return run(*composed, best_c); }, "fused",
      "composed", 1);
  st.counters["best_composed_over_fused"] = best_c / best_f;
  st.counters["best_fused_GBs"] = p.min_bytes() / best_f / 1e9;
  const double f_s = st.counters["fused_ms"] / 1e3;
  st.counters["fused_GFLOPs"] = p.flops() / f_s / 1e9;
  st.counters["fused_pct_peak"] = 100 * p.flops() / f_s / 1e9 / g_peak_gflops;
  st.counters["fused_GBs"] = p.min_bytes() / f_s / 1e9;
  st.counters["composed_GBs"] = p.min_bytes() / (st.counters["composed_ms"] / 1e3) / 1e9;
  st.counters["fused_over_bound"] = f_s / (p.min_bytes() / (g_read_gbs * 1e9));
}

}  // namespace
}  // namespace tb::bench

int main(int argc, char** argv) {
  tb::bench::parse_flags(argc, argv);
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]).starts_with("--read_gbs=")) {
      tb::bench::g_read_gbs = std::atof(argv[i] + 11);
      for (int j = i--; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
    }
  std::vector<std::string> problems;
  for (int d : {64, 128})
    for (int s : {128, 256, 512, 1024, 2048, 4096})
      problems.push_back("attn:h8q" + std::to_string(s) + "s" + std::to_string(s) + "d" +
                         std::to_string(d) + ":f32");
  for (int d : {64, 128}) problems.push_back("attn:h8q2048s2048d" + std::to_string(d) + "c1:f32");
  for (int d : {64, 128}) problems.push_back("attn:h8q1s1024d" + std::to_string(d) + ":f32");
  problems.push_back("attn:h32kv8q1s4096d128:f32");   // LLM decode with GQA, 32 MiB of KV
  problems.push_back("attn:h32kv8q1s16384d128:f32");  // GQA, 128 MiB of KV: DRAM
  problems.push_back("attn:h1q1s65536d128:f32");      // one head, 64 MiB: split over keys only
  problems.push_back("attn:h8q1s8192d128:f32");       // MHA, 64 MiB
  // bf16 Q, K, V: fused uses bf16 dot products (avx512bf16) for prefill where the CPU has them
  // and widens to f32 otherwise, decode reads half the bytes; composed runs oneDNN's bf16 matmuls.
  for (int s : {128, 512, 2048}) problems.push_back("attn:h8q" + std::to_string(s) + "d64:bf16");
  problems.push_back("attn:h8q2048d128:bf16");
  problems.push_back("attn:h32kv8q1s16384d128:bf16");  // GQA decode, 64 MiB of bf16 KV
  problems.push_back("attn:h8q1s8192d128:bf16");       // MHA decode, 32 MiB
  for (const auto& p : problems)
    benchmark::RegisterBenchmark(p.c_str(), tb::bench::BM_attention, p)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

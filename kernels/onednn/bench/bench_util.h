// Shared by the oneDNN benchmarks: interleaved A/B timing (this 2-core machine is shared and
// noisy, so both sides are timed in the same iteration and compared per iteration), medians
// and spreads as benchmark counters, and the peak anchor.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "kernels.h"

namespace tb::bench {

// f32 FMA peak on this machine, 2 threads (/work/shared/ANCHORS.md); benchmarks that report
// "% of peak" use it. Pass --peak_gflops=N to override for another machine.
extern double g_peak_gflops;
// Threads for both sides (2 = the whole project machine); --threads=N overrides.
extern int g_threads;
// Parses and removes --peak_gflops=N and --threads=N (before benchmark::Initialize).
void parse_flags(int& argc, char** argv);

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v);
// (p75 - p25) / median: the relative spread reported next to each median.
double rel_iqr(std::vector<double> v);

// A prepared and uploaded tierbench kernel; aborts the benchmark (SkipWithError) on failure.
std::unique_ptr<PreparedKernel> prepare_tb(benchmark::State& st, Backend& b, const Problem& p);

// Runs `a` and `b` alternately once per benchmark iteration (after `warmup` untimed pairs),
// with manual time = a's time; sets counters a_ms, b_ms (medians), b_over_a (median of
// per-iteration ratios) and their spreads.
void interleave(benchmark::State& st, const std::function<double()>& a,
                const std::function<double()>& b, const std::string& a_name,
                const std::string& b_name, int warmup = 2);

}  // namespace tb::bench

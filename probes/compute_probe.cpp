// Compute section: effective clock from a dependent add chain, and peak throughput of f32 FMA,
// int8 vpdpbusd and bf16 vdpbf16ps loops, on one thread and on one thread per core.
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "cpu_features.h"
#include "measure.h"
#include "probe_kernels.h"
#include "probe_sections.h"

namespace tb::probe {

namespace {

volatile double g_sink = 0;  // results of the loops land here so that no loop is dead code

using Loop = std::function<void(std::int64_t)>;

struct Settings {
  double trial_s = 0;
  int trials = 0;
  int threads = 1;
  std::vector<int> cpus;  // empty: unpinned
};

double time_once(const Loop& loop, std::int64_t iters) {
  const double t0 = now_seconds();
  loop(iters);
  return now_seconds() - t0;
}

// Iterations for one trial of about target_s seconds on one thread.
std::int64_t calibrate(const Loop& loop, double target_s) {
  std::int64_t iters = 256;
  for (;;) {
    const double t = time_once(loop, iters);
    if (t >= 2e-3 || iters > (std::int64_t{1} << 40)) {
      return std::max<std::int64_t>(1, static_cast<std::int64_t>(iters * target_s / t));
    }
    iters *= 4;
  }
}

// Rate in units per second (ops_per_iter units per iteration per thread), over the trials.
Figure measure_rate(const Loop& loop, std::int64_t iters, double ops_per_iter, int threads,
                    const Settings& s, bool* pinned) {
  std::vector<double> samples;
  std::vector<int> cpus = s.cpus;
  if (threads == 1 && !cpus.empty()) cpus.resize(1);
  for (int t = 0; t < s.trials; ++t) {
    const double wall = run_team(
        threads, cpus, [&](int) { loop(iters); }, pinned);
    samples.push_back(static_cast<double>(threads) * static_cast<double>(iters) * ops_per_iter /
                      wall);
  }
  return summarize(samples);
}

nlohmann::json unsupported(const std::string& reason) {
  return {{"supported", false}, {"reason", reason}};
}

struct PeakKernel {
  std::string name, isa, unit;
  bool supported = false;
  double ops_per_iter = 0, ops_per_instruction = 0;
  Loop loop;
};

}  // namespace

nlohmann::json probe_compute(const SectionOptions& opts, const Topology& topo) {
  namespace k = kern;
  const CpuFeatures& f = cpu_features();
  Settings s;
  s.trial_s = opts.quick ? 0.015 : 0.05;
  s.trials = opts.quick ? 5 : 11;
  const int usable = std::max<int>(1, static_cast<int>(topo.core_cpus.size()));
  s.threads = opts.threads > 0 ? opts.threads : usable;
  if (opts.pin) s.cpus = topo.core_cpus;
  bool pinned = false;

  const bool has_ymm_fma = f.avx2 && f.fma;
  // Warm-up: bring every core up to its sustained vector clock before the first figure.
  {
    Loop warm = f.avx512f ? Loop([](std::int64_t n) { g_sink = k::f32_fma_zmm(n, 0.999f, 1e-3f); })
                : has_ymm_fma
                    ? Loop([](std::int64_t n) { g_sink = k::f32_fma_ymm(n, 0.999f, 1e-3f); })
                    : Loop([](std::int64_t n) { g_sink = static_cast<double>(k::add_chain(n)); });
    const std::int64_t iters = calibrate(warm, opts.quick ? 0.05 : 0.2);
    run_team(s.threads, s.cpus, [&](int) { warm(iters); });
  }

  nlohmann::json out;
  out["threads"] = s.threads;

  // --- effective clock: adds per second of a dependent add chain (1 cycle latency) ---
  struct ClockKernel {
    std::string name;
    bool supported;
    Loop loop;
  };
  const std::vector<ClockKernel> clocks = {
      {"scalar", true, [](std::int64_t n) { g_sink = static_cast<double>(k::add_chain(n)); }},
      {"avx512", f.avx512f,
       [](std::int64_t n) { g_sink = static_cast<double>(k::add_chain_fma_zmm(n)); }},
      {"avx2", has_ymm_fma,
       [](std::int64_t n) { g_sink = static_cast<double>(k::add_chain_fma_ymm(n)); }},
  };
  nlohmann::json clock_json;
  double clock_vec_all = 0, clock_scalar_1t = 0;
  for (const auto& c : clocks) {
    if (!c.supported) {
      clock_json[c.name] = unsupported("ISA not available");
      continue;
    }
    const std::int64_t iters = calibrate(c.loop, s.trial_s);
    const Figure one = measure_rate(c.loop, iters, k::kAddsPerIter * 1e-9, 1, s, &pinned);
    // measure_rate sums over threads; a clock is per core.
    Figure all = measure_rate(c.loop, iters, k::kAddsPerIter * 1e-9, s.threads, s, &pinned);
    const double per_core = 1.0 / std::max(1, s.threads);
    all.median *= per_core;
    all.min *= per_core;
    all.max *= per_core;
    clock_json[c.name] = {
        {"supported", true}, {"single_thread", to_json(one)}, {"all_threads", to_json(all)}};
    if (c.name == "scalar") clock_scalar_1t = one.median;
    // The ceiling uses the best trial: contention only ever slows a trial down.
    if (c.name == f.best_f32_isa()) clock_vec_all = all.max;
  }
  out["clock_ghz"] = clock_json;
  out["clock_method"] =
      "dependent chain of 64-bit register adds (1 cycle each); avx512/avx2: with one independent "
      "FMA of that width beside each add";

  // --- peaks ---
  const double zmm_iter = k::kZmmChains * 1e-9, ymm_iter = k::kYmmChains * 1e-9;
  const std::vector<PeakKernel> kernels = {
      {"f32_fma_zmm", "avx512f", "GFLOP/s", f.avx512f, zmm_iter * 16 * 2, 16 * 2,
       [](std::int64_t n) { g_sink = k::f32_fma_zmm(n, 0.999f, 1e-3f); }},
      {"f32_fma_ymm", "avx2+fma", "GFLOP/s", has_ymm_fma, ymm_iter * 8 * 2, 8 * 2,
       [](std::int64_t n) { g_sink = k::f32_fma_ymm(n, 0.999f, 1e-3f); }},
      {"s8_dpbusd_zmm", "avx512_vnni", "GOP/s", f.avx512_vnni, zmm_iter * 16 * 4 * 2, 16 * 4 * 2,
       [](std::int64_t n) { g_sink = k::s8_dpbusd_zmm(n, 0x01020304, 0x05060708); }},
      {"s8_dpbusd_ymm", "avx_vnni", "GOP/s", f.avx_vnni, ymm_iter * 8 * 4 * 2, 8 * 4 * 2,
       [](std::int64_t n) { g_sink = k::s8_dpbusd_ymm(n, 0x01020304, 0x05060708); }},
      // bf16 0.5 (0x3F00) and 0.001 (0x3A83) in both halves of each 32-bit lane.
      {"bf16_dpbf16_zmm", "avx512_bf16", "GFLOP/s", f.avx512_bf16, zmm_iter * 16 * 2 * 2,
       16 * 2 * 2,
       [](std::int64_t n) { g_sink = k::bf16_dpbf16_zmm(n, 0x3F003F00u, 0x3A833A83u); }},
  };
  nlohmann::json peaks;
  double f32_best_1t = 0, f32_best_all = 0;
  for (const auto& kern : kernels) {
    if (!kern.supported) {
      peaks[kern.name] = unsupported(kern.isa + " not available");
      continue;
    }
    const std::int64_t iters = calibrate(kern.loop, s.trial_s);
    const Figure one = measure_rate(kern.loop, iters, kern.ops_per_iter, 1, s, &pinned);
    const Figure all = measure_rate(kern.loop, iters, kern.ops_per_iter, s.threads, s, &pinned);
    peaks[kern.name] = {{"supported", true},
                        {"isa", kern.isa},
                        {"unit", kern.unit},
                        {"ops_per_instruction", kern.ops_per_instruction},
                        {"single_thread", to_json(one)},
                        {"all_threads", to_json(all)}};
    if (kern.name.rfind("f32_", 0) == 0 && one.median > f32_best_1t) {
      f32_best_1t = one.median;
      f32_best_all = all.median;
    }
  }
  out["peaks"] = peaks;
  out["pinned"] = pinned;

  // --- theoretical f32 ceiling from flags, threads and the measured clock ---
  const int lanes = f.avx512f ? 16 : has_ymm_fma ? 8 : 0;
  nlohmann::json theo;
  theo["lanes"] = lanes;
  theo["fma_pipes_assumed"] = 2;
  theo["clock_ghz"] = clock_vec_all;
  theo["f32_gflops_all_threads"] = s.threads * clock_vec_all * lanes * 2.0 * 2.0;
  theo["basis"] =
      "threads * clock (all threads, widest vector load, best trial) * lanes * 2 flops * 2 pipes";
  // Measured FMA instructions per cycle per core: ~2 on cores with two FMA pipes.
  const double clock_1t =
      clock_json.contains(f.best_f32_isa()) &&
              clock_json[f.best_f32_isa()].value("supported", false)
          ? clock_json[f.best_f32_isa()]["single_thread"]["median"].get<double>()
          : clock_scalar_1t;
  theo["measured_fma_per_cycle"] =
      lanes > 0 && clock_1t > 0 ? f32_best_1t / (clock_1t * lanes * 2.0) : 0.0;
  theo["measured_fraction_all_threads"] =
      theo["f32_gflops_all_threads"].get<double>() > 0
          ? f32_best_all / theo["f32_gflops_all_threads"].get<double>()
          : 0.0;
  out["theoretical"] = theo;
  return out;
}

}  // namespace tb::probe

// Compute section: effective clock from a dependent add chain, and peak throughput of f32 FMA,
// int8 vpdpbusd and bf16 vdpbf16ps loops, on one thread and on one thread per core.
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <thread>
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

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
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

// One member's part of a trial: its own start and end (CLOCK_MONOTONIC) and the CPU time it got.
struct Span {
  double start = 0, end = 0, cpu = 0;
};

// A team of threads kept alive over every trial of one figure, each pinned to its own core and
// warmed up once, released together for each trial. The calling thread is member 0 (pinned for
// the team's lifetime, its affinity restored after), so no extra thread competes for a core.
//
// Why (issue 16): the all-thread figure used to start a fresh team per trial and divide the work
// by the wall time from the release to the last thread's end. A member that started late (a
// thread created on an idle vCPU, a core woken from a deep C-state, the spawning thread itself
// holding the core) or that was preempted mid-trial stretched the wall time, and a trial that
// ran the two halves one after the other measured one core: medians of one thread's rate with a
// maximum of two. Now every member times itself, a trial counts only when the members ran
// together (their spans overlap) and undisturbed (CPU time close to elapsed time), and the rate
// is the sum of the members' own rates.
class Team {
 public:
  Team(int n, const std::vector<int>& cpus)
      : n_(std::max(1, n)), spans_(n_), pinning_(!cpus.empty()) {
    if (!cpus.empty()) {
      CPU_ZERO(&saved_);
      had_affinity_ = sched_getaffinity(0, sizeof(saved_), &saved_) == 0;
      pin_ok_ = pin_current_thread(cpus[0]);
    }
    for (int i = 1; i < n_; ++i)
      workers_.emplace_back([this, i, cpus] {
        if (!cpus.empty() && !pin_current_thread(cpus[static_cast<std::size_t>(i) % cpus.size()]))
          pin_ok_ = false;
        std::uint64_t seen = 0;
        for (;;) {
          std::uint64_t g;
          while ((g = gen_.load(std::memory_order_acquire)) == seen) std::this_thread::yield();
          seen = g;
          if (stop_.load(std::memory_order_acquire)) return;
          member(i);
          done_.fetch_add(1, std::memory_order_acq_rel);
        }
      });
  }
  ~Team() {
    stop_.store(true, std::memory_order_release);
    gen_.fetch_add(1, std::memory_order_acq_rel);
    for (auto& t : workers_) t.join();
    if (had_affinity_) sched_setaffinity(0, sizeof(saved_), &saved_);
  }
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  // Runs fn on every member at once; each member's span.
  const std::vector<Span>& run(const std::function<void()>& fn) {
    fn_ = &fn;
    done_.store(0, std::memory_order_release);
    gen_.fetch_add(1, std::memory_order_acq_rel);
    member(0);
    while (done_.load(std::memory_order_acquire) < n_ - 1) std::this_thread::yield();
    return spans_;
  }
  // Every member pinned to its core (known once each member has run).
  bool pinned() const { return pinning_ && pin_ok_.load(); }

 private:
  void member(int i) {
    Span& s = spans_[static_cast<std::size_t>(i)];
    const double c0 = thread_cpu_seconds();
    s.start = now_seconds();
    (*fn_)();
    s.end = now_seconds();
    s.cpu = thread_cpu_seconds() - c0;
  }

  int n_;
  std::vector<Span> spans_;
  std::vector<std::thread> workers_;
  const std::function<void()>* fn_ = nullptr;
  std::atomic<std::uint64_t> gen_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false}, pin_ok_{true};
  bool pinning_;
  cpu_set_t saved_{};
  bool had_affinity_ = false;
};

// A trial counts when every member ran for at least 90% of its span (CPU time / elapsed) and
// the members' spans overlap for at least 90% of the longest one.
constexpr double kMinShare = 0.9;

bool converged(const std::vector<Span>& spans) {
  double latest_start = 0, earliest_end = 1e300, longest = 0;
  for (const Span& s : spans) {
    const double e = s.end - s.start;
    if (e <= 0 || s.cpu < kMinShare * e) return false;
    latest_start = std::max(latest_start, s.start);
    earliest_end = std::min(earliest_end, s.end);
    longest = std::max(longest, e);
  }
  return earliest_end - latest_start >= kMinShare * longest;
}

struct Rate {
  Figure figure;
  int rejected = 0;       // trials that did not converge
  bool cpu_time = false;  // too few trials converged: the figure is from the members' CPU time
};

// Rate in units per second (ops_per_iter units per iteration per thread): the sum of the
// members' own rates, per trial. After one untimed warm-up trial, trials run until s.trials
// have converged or 4 * s.trials were tried. When none converged (a busy machine: the members
// took turns on the cores), the figure is the sum of ops / CPU time of each member, the rate of
// each pinned core while it ran, labelled as such; a ceiling, not what a busy machine delivers.
// The same when fewer than half of s.trials converged.
Rate measure_rate(const Loop& loop, std::int64_t iters, double ops_per_iter, int threads,
                  const Settings& s, bool* pinned) {
  std::vector<int> cpus = s.cpus;
  if (threads == 1 && !cpus.empty()) cpus.resize(1);
  Team team(threads, cpus);
  const std::function<void()> body = [&] { loop(iters); };
  team.run(body);  // warm-up: threads started, cores at their vector clock, pages touched
  if (pinned) *pinned = team.pinned();
  const double ops = static_cast<double>(iters) * ops_per_iter;
  std::vector<double> good, by_cpu;
  Rate r;
  for (int t = 0; t < 4 * s.trials && static_cast<int>(good.size()) < s.trials; ++t) {
    const auto& spans = team.run(body);
    double rate = 0, cpu_rate = 0;
    for (const Span& sp : spans) {
      rate += ops / std::max(1e-9, sp.end - sp.start);
      cpu_rate += ops / std::max(1e-9, sp.cpu);
    }
    by_cpu.push_back(cpu_rate);
    if (converged(spans))
      good.push_back(rate);
    else
      ++r.rejected;
  }
  // Fewer than half the trials converged: too few for a median, take the CPU-time rates.
  r.cpu_time = 2 * static_cast<int>(good.size()) < s.trials;
  r.figure = summarize(r.cpu_time ? by_cpu : good);
  return r;
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
    const Figure one = measure_rate(c.loop, iters, k::kAddsPerIter * 1e-9, 1, s, &pinned).figure;
    // measure_rate sums over threads; a clock is per core.
    Figure all = measure_rate(c.loop, iters, k::kAddsPerIter * 1e-9, s.threads, s, &pinned).figure;
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
    const Rate one_r = measure_rate(kern.loop, iters, kern.ops_per_iter, 1, s, &pinned);
    const Rate all_r = measure_rate(kern.loop, iters, kern.ops_per_iter, s.threads, s, &pinned);
    const Figure &one = one_r.figure, &all = all_r.figure;
    peaks[kern.name] = {
        {"supported", true},
        {"isa", kern.isa},
        {"unit", kern.unit},
        {"ops_per_instruction", kern.ops_per_instruction},
        {"single_thread", to_json(one)},
        {"all_threads", to_json(all)},
        // Trials left out: members not running together, or preempted.
        {"rejected_trials", {{"single_thread", one_r.rejected}, {"all_threads", all_r.rejected}}},
        // How each figure was timed: "spans" (the members' own wall times, every trial
        // converged) or "cpu-time" (a busy machine: fewer than half converged).
        {"method",
         {{"single_thread", one_r.cpu_time ? "cpu-time" : "spans"},
          {"all_threads", all_r.cpu_time ? "cpu-time" : "spans"}}}};
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

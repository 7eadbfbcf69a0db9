// Memory section: STREAM-style read (loads only), copy (plain and non-temporal stores) and
// triad over arrays well beyond the last-level cache, on one thread and one thread per core;
// load-to-use latency per cache level and DRAM by chasing pointers around a random cycle of lines.
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu_features.h"
#include "last_level_cache.h"
#include "measure.h"
#include "probe_kernels.h"
#include "probe_sections.h"

namespace tb::probe {

namespace {

constexpr std::size_t kHuge = std::size_t{2} << 20;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<char, FreeDeleter>;

// 2 MiB-aligned, with transparent huge pages requested (fewer TLB misses in the latency chase
// and in the streams). Pages are not touched here.
Buffer alloc_buffer(std::size_t bytes) {
  bytes = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, bytes);
  if (p) madvise(p, bytes, MADV_HUGEPAGE);  // advisory: failure only means small pages
  return Buffer(static_cast<char*>(p));
}

using ReadFn = float (*)(const float*, std::size_t);
using CopyFn = void (*)(float*, const float*, std::size_t);
using TriadFn = void (*)(float*, const float*, const float*, float, std::size_t);

struct StreamIsa {
  std::string isa;
  ReadFn read;
  CopyFn copy, copy_nt;
  TriadFn triad;
};

StreamIsa pick_stream_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f)
    return {"avx512f", kern::read_zmm, kern::copy_zmm, kern::copy_nt_zmm, kern::triad_zmm};
  if (f.avx2 && f.fma)
    return {"avx2", kern::read_ymm, kern::copy_ymm, kern::copy_nt_ymm, kern::triad_ymm};
  return {"sse2", kern::read_xmm, kern::copy_xmm, kern::copy_nt_xmm, kern::triad_xmm};
}

// Contiguous chunk of thread i out of n, in floats, aligned to 64 floats (256 bytes).
std::pair<std::size_t, std::size_t> chunk(std::size_t n, int threads, int i) {
  const std::size_t blocks = n / 64;
  const std::size_t b0 = blocks * static_cast<std::size_t>(i) / static_cast<std::size_t>(threads);
  const std::size_t b1 =
      blocks * static_cast<std::size_t>(i + 1) / static_cast<std::size_t>(threads);
  return {b0 * 64, (b1 - b0) * 64};
}

// --- latency ---

// Links the cache lines of buf (lines of 64 bytes) into one random cycle (Sattolo's
// algorithm), so that hardware prefetchers cannot predict the next line.
void build_cycle(char* buf, std::size_t lines, std::uint64_t seed) {
  std::vector<std::size_t> order(lines);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(seed);
  for (std::size_t i = lines - 1; i > 0; --i) {
    std::uniform_int_distribution<std::size_t> pick(0, i - 1);
    std::swap(order[i], order[pick(rng)]);
  }
  for (std::size_t i = 0; i < lines; ++i) {
    char* from = buf + order[i] * 64;
    char* to = buf + order[(i + 1) % lines] * 64;
    std::memcpy(from, &to, sizeof(to));
  }
}

// noipa: GCC must not infer the function pure and move or merge calls across the timers.
__attribute__((noipa)) const void* chase(const void* p, std::int64_t steps) {
  for (std::int64_t i = 0; i < steps; i += 8) {
    p = *static_cast<const void* const*>(p);
    p = *static_cast<const void* const*>(p);
    p = *static_cast<const void* const*>(p);
    p = *static_cast<const void* const*>(p);
    p = *static_cast<const void* const*>(p);
    p = *static_cast<const void* const*>(p);
    p = *static_cast<const void* const*>(p);
    p = *static_cast<const void* const*>(p);
  }
  return p;
}

volatile const void* g_chase_sink = nullptr;

Figure chase_latency_ns(std::size_t working_set, bool quick, int cpu) {
  if (cpu >= 0) pin_current_thread(cpu);
  const std::size_t lines = std::max<std::size_t>(working_set / 64, 16);
  Buffer buf = alloc_buffer(lines * 64);
  if (!buf) return {};
  build_cycle(buf.get(), lines, 0x7b5eedULL + lines);
  const void* p = buf.get();
  // Warm: every line once (bounded: beyond the caches warming changes nothing).
  p = chase(p,
            static_cast<std::int64_t>(std::min<std::size_t>(lines, std::size_t{1} << 18)) / 8 * 8);
  // Steps for ~target seconds, from a short estimate.
  const double target = quick ? 0.01 : 0.04;
  const std::int64_t probe_steps = 1 << 14;
  double t0 = now_seconds();
  p = chase(p, probe_steps);
  const double est = (now_seconds() - t0) / probe_steps;
  const std::int64_t steps = std::max<std::int64_t>(
      1 << 14, static_cast<std::int64_t>(target / std::max(est, 1e-10)) / 8 * 8);
  std::vector<double> samples;
  const int trials = quick ? 3 : 7;
  for (int t = 0; t < trials; ++t) {
    t0 = now_seconds();
    p = chase(p, steps);
    samples.push_back((now_seconds() - t0) / static_cast<double>(steps) * 1e9);
  }
  g_chase_sink = p;
  return summarize(samples);
}

}  // namespace

bool chase_hits_cache(double ns, double near_ns, double dram_ns) {
  return ns > 0 && dram_ns > near_ns && ns < near_ns + 0.4 * (dram_ns - near_ns);
}

std::uint64_t plausible_last_level_bytes(std::uint64_t reported, std::uint64_t per_core) {
  constexpr std::uint64_t kTrusted = 64ull << 20;
  if (reported <= kTrusted) return reported;
  per_core = std::max<std::uint64_t>(per_core, 64 << 10);
  // DRAM's chase over twice the claim, at most 256 MiB (beyond it the page walks of a guest add
  // more: 208 ns there, 294 at 512 MiB, on the bhyve guest), within a quarter of what is free.
  const long long avail = meminfo_bytes("MemAvailable");
  const std::uint64_t cap = std::min<std::uint64_t>(
      256ull << 20, avail > 0 ? static_cast<std::uint64_t>(avail) / 4 : 256ull << 20);
  const double dram = chase_latency_ns(std::min(2 * reported, cap), true, -1).median;
  const double near = chase_latency_ns(per_core / 2, true, -1).median;
  if (!(dram > near) || !(near > 0)) return reported;
  const std::uint64_t first = std::min(reported, cap);
  for (std::uint64_t size = first; size >= 2 * per_core; size /= 2)
    if (chase_hits_cache(chase_latency_ns(size / 2, true, -1).median, near, dram))
      return size == first ? reported : size;
  return per_core;
}

nlohmann::json probe_memory(const SectionOptions& opts, const Topology& topo, double clock_ghz) {
  nlohmann::json out;
  const int usable = std::max<int>(1, static_cast<int>(topo.core_cpus.size()));
  const int threads = opts.threads > 0 ? opts.threads : usable;
  const std::vector<int> cpus = opts.pin ? topo.core_cpus : std::vector<int>{};
  std::vector<int> cpus1 = cpus;
  if (!cpus1.empty()) cpus1.resize(1);

  // Last-level cache in the whole machine: every instance of the highest data cache level.
  std::uint64_t llc_total = 0, llc_one = 0;
  int llc_level = 0;
  for (const auto& c : topo.caches) {
    if (c.type != "instruction" && c.level >= llc_level) {
      llc_level = c.level;
      llc_one = c.size_bytes;
      llc_total = c.size_bytes * static_cast<std::uint64_t>(std::max(c.instances, 1));
    }
  }
  if (llc_total == 0) llc_total = llc_one = 32ull << 20;  // unknown: assume a large one

  // What the section may allocate at once: a quarter of the available memory (1 GiB where
  // /proc/meminfo does not say), and in quick mode at most 384 MiB (three arrays of 4 x a 32 MiB
  // L3, as before the bound). The sizes below follow the last-level cache, and a hypervisor may
  // report its host's: a 2-vCPU bhyve guest read an L3 of 508 MiB per vCPU, and 4 x that in
  // three arrays asked for 12.8 GB of its 24.
  const long long avail = meminfo_bytes("MemAvailable");
  std::uint64_t budget = avail > 0 ? static_cast<std::uint64_t>(avail) / 4 : 1ull << 30;
  if (opts.quick) budget = std::min<std::uint64_t>(budget, 384ull << 20);
  budget = std::max<std::uint64_t>(budget, 48ull << 20);
  nlohmann::json notes = nlohmann::json::array();

  // --- bandwidth ---
  const std::uint64_t array_wanted = std::max<std::uint64_t>(4 * llc_total, 64ull << 20);
  const std::size_t array_bytes = static_cast<std::size_t>(std::min(array_wanted, budget / 3));
  if (array_bytes < array_wanted)
    notes.push_back("stream arrays of " + std::to_string(array_bytes >> 20) +
                    " MiB, not 4 x LLC (" + std::to_string(array_wanted >> 20) +
                    " MiB): bounded by the memory budget of " + std::to_string(budget >> 20) +
                    " MiB");
  const std::size_t n = array_bytes / sizeof(float) / 64 * 64;
  Buffer a = alloc_buffer(n * sizeof(float)), b = alloc_buffer(n * sizeof(float)),
         c = alloc_buffer(n * sizeof(float));
  const StreamIsa isa = pick_stream_isa();
  out["array_bytes"] = n * sizeof(float);
  out["threads"] = threads;
  out["isa"] = isa.isa;
  if (!a || !b || !c) {
    out["bandwidth"] = {{"error", "allocation of 3 x " + std::to_string(array_bytes) + " failed"}};
  } else {
    float* pa = reinterpret_cast<float*>(a.get());
    float* pb = reinterpret_cast<float*>(b.get());
    float* pc = reinterpret_cast<float*>(c.get());
    // First touch by the threads that will stream each chunk (NUMA placement).
    run_team(threads, cpus, [&](int i) {
      auto [off, len] = chunk(n, threads, i);
      for (std::size_t j = off; j < off + len; ++j) {
        pa[j] = 1.0f;
        pb[j] = 2.0f;
        pc[j] = 0.5f;
      }
    });
    const int trials = opts.quick ? 6 : 20;
    struct Op {
      std::string name;
      double bytes_per_float;
      std::function<void(std::size_t, std::size_t)> run;
    };
    // read: a load-only stream, the bound for work that streams weights or a KV cache (decode).
    std::atomic<float> sink{0};
    const std::vector<Op> ops = {
        {"read", 4,
         [&](std::size_t o, std::size_t l) {
           sink.fetch_add(isa.read(pb + o, l), std::memory_order_relaxed);
         }},
        {"copy", 8, [&](std::size_t o, std::size_t l) { isa.copy(pa + o, pb + o, l); }},
        {"copy_nt", 8, [&](std::size_t o, std::size_t l) { isa.copy_nt(pa + o, pb + o, l); }},
        {"triad", 12,
         [&](std::size_t o, std::size_t l) { isa.triad(pa + o, pb + o, pc + o, 3.0f, l); }},
    };
    nlohmann::json bw;
    for (const auto& op : ops) {
      nlohmann::json entry = {{"unit", "GB/s"}};
      for (int cfg = 0; cfg < 2; ++cfg) {
        const int t = cfg == 0 ? 1 : threads;
        const std::vector<int>& cp = cfg == 0 ? cpus1 : cpus;
        auto pass = [&](int i) {
          auto [off, len] = chunk(n, t, i);
          op.run(off, len);
        };
        run_team(t, cp, pass);  // warm-up pass
        std::vector<double> samples;
        for (int r = 0; r < trials; ++r) {
          const double wall = run_team(t, cp, pass);
          samples.push_back(op.bytes_per_float * static_cast<double>(n) / wall * 1e-9);
        }
        entry[cfg == 0 ? "single_thread" : "all_threads"] = to_json(summarize(samples));
      }
      bw[op.name] = entry;
    }
    out["bandwidth"] = bw;
    out["bandwidth_bytes_counted"] =
        "STREAM convention: read 4 bytes per element, copy 2 x 4, triad 3 x 4; write-allocate "
        "traffic "
        "of plain stores is not counted";
  }
  a.reset();
  b.reset();
  c.reset();

  // --- latency: half of each data cache level (one instance), and DRAM ---
  struct Level {
    std::string name;
    std::uint64_t cache_bytes, working_set;
  };
  std::vector<Level> levels;
  for (const auto& cl : topo.caches) {
    if (cl.type == "instruction") continue;
    levels.push_back({"L" + std::to_string(cl.level), cl.size_bytes, cl.size_bytes / 2});
  }
  // The chase's buffer and its shuffled line order (8 bytes per 64-byte line) within the budget.
  const std::uint64_t dram_wanted = opts.quick
                                        ? std::max<std::uint64_t>(4 * llc_total, 64ull << 20)
                                        : std::max<std::uint64_t>(8 * llc_total, 512ull << 20);
  const std::uint64_t dram_ws = std::min(dram_wanted, budget / 9 * 8);
  if (dram_ws < dram_wanted)
    notes.push_back("DRAM latency over " + std::to_string(dram_ws >> 20) + " MiB, not " +
                    std::to_string(dram_wanted >> 20) + " MiB: bounded by the memory budget");
  for (auto& lv : levels) lv.working_set = std::min(lv.working_set, dram_ws);
  levels.push_back({"DRAM", 0, dram_ws});
  nlohmann::json lat = nlohmann::json::array();
  const int cpu = cpus.empty() ? -1 : cpus.front();
  // Chase on a separate pinned thread so that the caller's affinity is left alone.
  for (const auto& lv : levels) {
    Figure fig;
    run_team(1, {}, [&](int) { fig = chase_latency_ns(lv.working_set, opts.quick, cpu); });
    nlohmann::json e = {{"level", lv.name},
                        {"cache_bytes", lv.cache_bytes},
                        {"working_set_bytes", lv.working_set},
                        {"ns", to_json(fig)}};
    if (clock_ghz > 0) e["cycles"] = fig.median * clock_ghz;
    lat.push_back(e);
  }
  out["latency"] = lat;
  // A cache level whose chase at half its size misses (chase_hits_cache, near = the next smaller
  // level's chase) is not what this machine gives a core: its size came from a hypervisor
  // (above) or a cache shared by other guests. probe_report turns the notes into warnings.
  if (lat.size() >= 3) {
    const double dram = lat.back()["ns"].value("median", 0.0);
    for (std::size_t i = 1; i + 1 < lat.size(); ++i) {
      const double ns = lat[i]["ns"].value("median", 0.0);
      const double near = lat[i - 1]["ns"].value("median", 0.0);
      if (ns > 0 && dram > near && !chase_hits_cache(ns, near, dram))
        out["cache_implausible"].push_back(
            lat[i]["level"].get<std::string>() + " reported as " +
            std::to_string(lat[i]["cache_bytes"].get<std::uint64_t>() >> 20) +
            " MiB, but a chase over " +
            std::to_string(lat[i]["working_set_bytes"].get<std::uint64_t>() >> 20) +
            " MiB of it took " + std::to_string(static_cast<int>(ns)) + " ns, DRAM's " +
            std::to_string(static_cast<int>(dram)) +
            " ns: the reported size is not what this machine's cores see");
    }
  }
  if (!notes.empty()) out["bounded"] = notes;
  out["memory_budget_bytes"] = budget;
  out["latency_method"] =
      "pointer chase over a random cycle of 64-byte lines (Sattolo), working set = half the "
      "cache level (one instance); DRAM = max(4 x LLC, 64 MiB) quick, max(8 x LLC, 512 MiB) full; "
      "2 MiB pages requested";
  return out;
}

}  // namespace tb::probe

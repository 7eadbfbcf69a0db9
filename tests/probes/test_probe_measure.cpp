// Checks of the measured figures of one quick probe run (correctness and consistency, never
// speed): the report matches the schema, every figure is positive, f32 peaks do not exceed the
// ceiling computed from the flags, the core count and the clock measured in the same run, L1
// latency is below DRAM latency.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "cpu_features.h"
#include "last_level_cache.h"
#include "probe_report.h"
#include "probe_table.h"
#include "schema_check.h"

namespace {

// ctest runs every TEST of a gtest binary as its own process (gtest_discover_tests), so the
// probe runs once, in the one TEST below, and each check is a function over its report.

// Best clock trial over every clock kernel, 1 thread and all: contention only slows a trial,
// so this is the figure least likely to understate the real clock.
double best_clock_ghz(const nlohmann::json& report) {
  double best = 0;
  for (const auto& [_, c] : report["compute"]["clock_ghz"].items()) {
    if (!c.value("supported", false)) continue;
    best = std::max(
        {best, c["single_thread"]["max"].get<double>(), c["all_threads"]["max"].get<double>()});
  }
  return best;
}

void expect_positive_figure(const nlohmann::json& f, const std::string& what) {
  ASSERT_TRUE(f.is_object()) << what;
  EXPECT_GT(f["median"].get<double>(), 0) << what;
  EXPECT_LE(f["min"].get<double>(), f["median"].get<double>()) << what;
  EXPECT_LE(f["median"].get<double>(), f["max"].get<double>()) << what;
  EXPECT_GE(f["trials"].get<int>(), 1) << what;
}

void CheckReportMatchesSchema(const nlohmann::json& report) {
  const auto errs = tb::test::validate_schema(report, tb::test::load_probe_schema());
  EXPECT_TRUE(errs.empty()) << errs.size() << " violations, first: " << errs.front();
  for (const char* s : {"cpu", "compute", "memory", "storage", "accelerators", "environment"})
    EXPECT_TRUE(report.contains(s)) << s;
}

void CheckClockIsPlausible(const nlohmann::json& report) {
  const double clock = best_clock_ghz(report);
  EXPECT_GT(clock, 0.3);
  EXPECT_LT(clock, 8.0) << "no x86 core runs a dependent add chain faster than 8 GHz";
}

void CheckPeaksArePositiveAndBelowTheCeiling(const nlohmann::json& report) {
  const nlohmann::json& c = report["compute"];
  const tb::CpuFeatures& f = tb::cpu_features();
  const double clock = best_clock_ghz(report);
  const int threads = c["threads"].get<int>();
  // Margin for the clock measurement error and for trials the scheduler interrupted.
  const double margin = 1.25;
  struct Expect {
    const char* name;
    bool present;
    double ops_per_cycle_per_core;  // lanes x ops per lane x 2 pipes
  };
  const Expect expects[] = {
      {"f32_fma_zmm", f.avx512f, 16 * 2 * 2},
      {"f32_fma_ymm", f.avx2 && f.fma, 8 * 2 * 2},
      {"s8_dpbusd_zmm", f.avx512_vnni, 16 * 4 * 2 * 2},
      {"s8_dpbusd_ymm", f.avx_vnni, 8 * 4 * 2 * 2},
      {"bf16_dpbf16_zmm", f.avx512_bf16, 16 * 2 * 2 * 2},
  };
  for (const auto& e : expects) {
    const nlohmann::json& p = c["peaks"][e.name];
    ASSERT_EQ(p["supported"].get<bool>(), e.present) << e.name;
    if (!e.present) continue;
    expect_positive_figure(p["single_thread"], e.name);
    expect_positive_figure(p["all_threads"], e.name);
    const double ceiling_1 = clock * e.ops_per_cycle_per_core * margin;
    EXPECT_LE(p["single_thread"]["median"].get<double>(), ceiling_1) << e.name;
    EXPECT_LE(p["all_threads"]["median"].get<double>(), ceiling_1 * threads) << e.name;
  }
  // The report's own ceiling agrees: the f32 all-thread median is not above it (plus margin).
  const nlohmann::json& t = c["theoretical"];
  EXPECT_GT(t["f32_gflops_all_threads"].get<double>(), 0);
  EXPECT_LE(t["measured_fraction_all_threads"].get<double>(), margin);
}

void CheckBandwidthPositive(const nlohmann::json& report) {
  const nlohmann::json& m = report["memory"];
  ASSERT_FALSE(m["bandwidth"].contains("error")) << m["bandwidth"].dump();
  for (const char* op : {"read", "copy", "copy_nt", "triad"}) {
    expect_positive_figure(m["bandwidth"][op]["single_thread"], op);
    expect_positive_figure(m["bandwidth"][op]["all_threads"], op);
  }
}

void CheckLatencyL1BelowDram(const nlohmann::json& report) {
  const nlohmann::json& lat = report["memory"]["latency"];
  ASSERT_GE(lat.size(), 2u);
  EXPECT_EQ(lat.front()["level"], "L1");
  EXPECT_EQ(lat.back()["level"], "DRAM");
  for (const auto& l : lat) expect_positive_figure(l["ns"], l["level"].get<std::string>());
  EXPECT_LT(lat.front()["ns"]["median"].get<double>(), lat.back()["ns"]["median"].get<double>());
  // Working sets grow with the level.
  for (std::size_t i = 1; i < lat.size(); ++i) {
    EXPECT_GT(lat[i]["working_set_bytes"].get<double>(),
              lat[i - 1]["working_set_bytes"].get<double>());
  }
}

void CheckStoragePositive(const nlohmann::json& report) {
  const nlohmann::json& s = report["storage"];
  ASSERT_TRUE(s["available"].get<bool>()) << s.dump();
  EXPECT_EQ(s["file_bytes"].get<std::uint64_t>(), 16u << 20);
  expect_positive_figure(s["cold_read"], "cold_read");
  expect_positive_figure(s["warm_read"], "warm_read");
}

void CheckAcceleratorsReportEachApi(const nlohmann::json& report) {
  const nlohmann::json& a = report["accelerators"];
  EXPECT_EQ(a["opencl"]["api"], "opencl");
  EXPECT_EQ(a["vulkan"]["api"], "vulkan");
  for (const char* api : {"opencl", "vulkan"}) {
    if (!a[api]["available"].get<bool>()) {
      EXPECT_FALSE(a[api].value("reason", std::string()).empty()) << api;
    }
  }
}

void CheckTableShowsEverySection(const nlohmann::json& report) {
  const std::string t = tb::format_probe_table(report);
  for (const char* s : {"CPU", "Compute", "Memory", "Storage", "Accelerators", "Environment"})
    EXPECT_NE(t.find(s), std::string::npos) << s;
  EXPECT_NE(t.find("f32_fma"), std::string::npos);
  EXPECT_NE(t.find("latency L1"), std::string::npos);
}

// A claimed last-level cache that no machine has (16 GiB) is measured down to what a core sees;
// a claim of at most 64 MiB is taken as it is.
TEST(ProbeMeasure, ImplausibleLastLevelCacheIsMeasuredDown) {
  EXPECT_EQ(tb::probe::plausible_last_level_bytes(32ull << 20, 1ull << 20), 32ull << 20);
  const std::uint64_t seen = tb::probe::plausible_last_level_bytes(16ull << 30, 1ull << 20);
  EXPECT_LE(seen, 512ull << 20);
  EXPECT_GE(seen, 1ull << 20);
}

// One test decides whether a chase hit a cache, for the probe's warning and for calibrate's
// buffer sizes: the bhyve guest's 16 MiB chase (102 ns between 6.5 and 208) missed, a server L3
// (40 ns between 5 and 120) hits, and no figure hits when DRAM is not slower than the near cache.
TEST(ProbeMeasure, ChaseHitsCacheSharesOneLine) {
  EXPECT_TRUE(tb::probe::chase_hits_cache(19, 6.5, 208));
  EXPECT_FALSE(tb::probe::chase_hits_cache(102, 6.5, 208));
  EXPECT_TRUE(tb::probe::chase_hits_cache(40, 5, 120));
  EXPECT_FALSE(tb::probe::chase_hits_cache(181, 6.5, 184));
  EXPECT_FALSE(tb::probe::chase_hits_cache(10, 20, 20));
  EXPECT_FALSE(tb::probe::chase_hits_cache(0, 5, 120));
}

TEST(ProbeMeasure, QuickProbeReport) {
  tb::ProbeOptions o;
  o.quick = true;
  o.storage_bytes = 16 << 20;
  const nlohmann::json report = tb::run_probe(o);
  {
    SCOPED_TRACE("ReportMatchesSchema");
    CheckReportMatchesSchema(report);
  }
  {
    SCOPED_TRACE("ClockIsPlausible");
    CheckClockIsPlausible(report);
  }
  {
    SCOPED_TRACE("PeaksArePositiveAndBelowTheCeiling");
    CheckPeaksArePositiveAndBelowTheCeiling(report);
  }
  {
    SCOPED_TRACE("BandwidthPositive");
    CheckBandwidthPositive(report);
  }
  {
    SCOPED_TRACE("MemoryWithinBudget");  // quick: 384 MiB at most, the three arrays within it
    const auto& m = report["memory"];
    ASSERT_TRUE(m.contains("memory_budget_bytes"));
    EXPECT_LE(m["memory_budget_bytes"].get<std::uint64_t>(), 384ull << 20);
    EXPECT_LE(3 * m["array_bytes"].get<std::uint64_t>(),
              m["memory_budget_bytes"].get<std::uint64_t>());
  }
  {
    SCOPED_TRACE("LatencyL1BelowDram");
    CheckLatencyL1BelowDram(report);
  }
  {
    SCOPED_TRACE("StoragePositive");
    CheckStoragePositive(report);
  }
  {
    SCOPED_TRACE("AcceleratorsReportEachApi");
    CheckAcceleratorsReportEachApi(report);
  }
  {
    SCOPED_TRACE("TableShowsEverySection");
    CheckTableShowsEverySection(report);
  }
}

}  // namespace

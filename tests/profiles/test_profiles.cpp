// The profiles built from a store: ceilings (the best ISA's all-thread figure), the cross-check
// against achieved kernel figures, tiers, classes, provenance, and no identifiers or raw figures
// in the shareable profile.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "privacy.h"
#include "profiles.h"
#include "store_fixture.h"

namespace tb::profiles {
namespace {

using test::FixtureStore;

TEST(Profiles, NoProbeIsAnError) {
  test::TempDir dir;
  auto s = Store::open((dir.path() / "r.db").string());
  ASSERT_TRUE(s.ok());
  const auto p = build_profiles(**s);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("tierbench probe"), std::string::npos);
}

TEST(Profiles, CeilingIsTheBestIsaAllThreadFigure) {
  // The case: an all-thread zmm figure that lost a thread (117) below the ymm one (226).
  FixtureStore f(test::fixture_probe(/*zmm all*/ 117.0, /*ymm all*/ 226.0));
  const auto c = ceilings_from_probe(test::fixture_probe(117.0, 226.0));
  EXPECT_DOUBLE_EQ(c["f32_gflops"]["value"].get<double>(), 226.0);
  EXPECT_EQ(c["f32_gflops"]["source"], "compute.peaks.f32_fma_ymm.all_threads.max");
  const auto ok = ceilings_from_probe(test::fixture_probe());
  EXPECT_DOUBLE_EQ(ok["f32_gflops"]["value"].get<double>(), 455.5);
  EXPECT_EQ(ok["f32_gflops"]["source"], "compute.peaks.f32_fma_zmm.all_threads.max");
  EXPECT_DOUBLE_EQ(ok["int8_gops"]["value"].get<double>(), 1843.9);
  EXPECT_DOUBLE_EQ(ok["memory_bandwidth_gbps"]["value"].get<double>(), 34.02);
  EXPECT_EQ(ok["accelerator"]["value"], false) << "llvmpipe is a CPU behind a GPU API";
}

TEST(Profiles, F32CeilingBelowAnAchievedKernelIsFlagged) {
  // The run: the profile said 64-128 GFLOP/s while oneDNN's GEMM reached 216.
  FixtureStore f(test::fixture_probe(117.0, 112.0));
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 216.0);
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 900.0, "vulkan", "NVIDIA real GPU");
  auto p = build_profiles(*f.store);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->inconsistencies.size(), 1u);
  EXPECT_NE(p->inconsistencies[0].find("f32_gflops ceiling 117.0"), std::string::npos)
      << p->inconsistencies[0];
  EXPECT_NE(p->inconsistencies[0].find("216.0"), std::string::npos);
  ASSERT_EQ(p->local["cross_check"].size(), 1u) << "a kernel on a real GPU is not CPU-bound";
  EXPECT_EQ(p->local["cross_check"][0]["ok"], false);
}

// A stored result is read by the device it names against the store's probe, not by whether its
// backend is built here: a host-CPU result (under the probe's cpu.brand) of a backend this build
// lacks is still CPU-bound, and a device the probe does not list is not taken for the CPU.
TEST(Profiles, AResultIsReadByItsDeviceNotByTheBackendsThisBuildHas) {
  FixtureStore f(test::fixture_probe(117.0, 112.0));
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 216.0, "a-backend-this-build-lacks");
  f.add_kernel("gemm:m512n512k512:f32", "f32", 900.0, "reference", "a device no probe lists");
  auto p = build_profiles(*f.store);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->inconsistencies.size(), 1u);
  EXPECT_NE(p->inconsistencies[0].find("216.0"), std::string::npos) << p->inconsistencies[0];
  ASSERT_EQ(p->local["cross_check"].size(), 1u);
  EXPECT_EQ(p->local["cross_check"][0]["ok"], false);
}

TEST(Profiles, CeilingAboveOrWithinToleranceOfKernelsIsConsistent) {
  FixtureStore f;
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 216.0);
  f.add_kernel("gemm:m512n512k512:f32", "f32", 470.0);  // 3% above the 455.5 ceiling: noise
  f.add_kernel("gemm:m1024n1024k1024:s8", "s8", 1200.0);
  f.add_kernel("gemm:m64n64k64:f32", "f32", 5000.0, "opencl", "NVIDIA GeForce");  // not CPU
  auto p = build_profiles(*f.store);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->inconsistencies.empty()) << p->inconsistencies.front();
  EXPECT_EQ(p->local["cross_check"].size(), 2u);
  // A CPU behind a GPU API (llvmpipe) is bound by the CPU ceiling.
  f.add_kernel("gemm:m64n64k64:f32", "f32", 600.0, "vulkan", "llvmpipe (LLVM 15.0.6, 256 bits)");
  p = build_profiles(*f.store);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->inconsistencies.size(), 1u);
  ProfileOptions o;
  o.tolerance = 0.5;
  p = build_profiles(*f.store, o);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->inconsistencies.empty());
}

TEST(Profiles, ReMeasuredComputeReplacesTheStoredOne) {
  FixtureStore f(test::fixture_probe(117.0, 112.0));
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 216.0);
  const nlohmann::json compute = test::fixture_probe()["compute"];
  ProfileOptions o;
  o.compute_override = &compute;
  auto p = build_profiles(*f.store, o);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->inconsistencies.empty());
  EXPECT_EQ(p->local["provenance"]["compute_remeasured"], true);
}

TEST(Profiles, TiersClassesAndProvenance) {
  FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.0456, "vulkan");
  f.add_workload("llm-1b:decode:kv1024:f32", "f32", "skipped", 0, "onednn",
                 "does not fit: needs 9.1 GiB, has 3.2 GiB");
  f.add_workload("person-detect:b1:int8", "int8", "unsupported", 0, "opencl");
  f.add_workload("llm-135m:prefill:s512:f32", "f32", "passed", 12.5);
  ProfileOptions o;
  o.k = 0;  // the default granularity's classes, not generalised
  auto p = build_profiles(*f.store, o);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto& s = p->shareable;
  EXPECT_EQ(s["device"]["compute"], "<1000 GFLOP/s");
  EXPECT_EQ(s["device"]["bandwidth"], "<100 GB/s");
  EXPECT_EQ(s["device"]["memory_gib"], 32) << "23.5 GiB rounds to 32 like deviceMemory";
  EXPECT_EQ(s["device"]["storage"], ">=1 GB/s");
  EXPECT_EQ(s["device"]["accelerator"], false);
  const auto& m = s["tiers"]["mobilenetv2:b1:f32"];
  EXPECT_EQ(m["feasibility"], "runs");
  EXPECT_EQ(m["latency"], "<16 ms") << "the best backend (onednn, 12.3 ms)";
  EXPECT_EQ(m["cold_start"], "<1000 ms");
  EXPECT_EQ(m["memory"], "<256 MiB");
  EXPECT_EQ(s["tiers"]["llm-1b:decode:kv1024:f32"]["feasibility"], "does-not-fit");
  EXPECT_EQ(s["tiers"]["llm-1b:decode:kv1024:f32"]["latency"], "none");
  EXPECT_EQ(s["tiers"]["person-detect:b1:int8"]["feasibility"], "unsupported");
  EXPECT_EQ(s["tiers"]["llm-135m:prefill:s512:f32"]["feasibility"], "too-slow");
  EXPECT_EQ(s["tiers"]["llm-135m:prefill:s512:f32"]["latency"], "10000-30000 ms");

  const auto& l = p->local;
  EXPECT_EQ(l["provenance"]["probe_run_id"], f.run);
  EXPECT_EQ(l["provenance"]["workload_run_ids"], nlohmann::json::array({f.run}));
  EXPECT_EQ(l["tiers"].size(), 5u) << "every tier x backend is kept locally";
  int best = 0;
  for (const auto& t : l["tiers"]) {
    best += t["best"].get<bool>();
    EXPECT_EQ(t["run_id"], f.run);
    if (t["workload"] == "mobilenetv2:b1:f32" && t["backend"] == "onednn") {
      EXPECT_TRUE(t["best"].get<bool>());
      EXPECT_DOUBLE_EQ(t["latency_s"]["median"].get<double>(), 0.01234);
      EXPECT_NEAR(t["cold_start_s"]["total"].get<double>(), 0.0123 + 0.0456 + 0.0011 + 0.01851,
                  1e-9);
      EXPECT_GT(t["efficiency"].get<double>(), 0);
      EXPECT_LE(t["efficiency"].get<double>(), 1.0);
    }
  }
  EXPECT_EQ(best, 2) << "one best backend per tier that runs";
  EXPECT_EQ(l["shareable"], s);
  EXPECT_EQ(s["granularity"], "daop");
  EXPECT_EQ(l["classes_at_default"], s);
}

TEST(Profiles, ShareableIsSharedByAtLeastKCatalogueDevices) {
  FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  f.add_workload("llm-1b:decode:kv1024:f32", "f32", "skipped", 0, "onednn", "does not fit: x");
  auto p = build_profiles(*f.store);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const int k = buckets().k_anonymity;
  ASSERT_GE(k, 5);
  // The same procedure over the catalogue plus this device: this device's profile is the one
  // emitted, and at least k members share it.
  std::vector<Projection> pop;
  for (const auto& d : builtin_catalogue()) pop.push_back(project(p->local, d));
  pop.push_back({device_figures(p->local), tier_figures(p->local)});
  const auto all = k_anonymise(pop, buckets().default_name, k);
  EXPECT_EQ(all.back(), p->shareable);
  EXPECT_GE(std::count(all.begin(), all.end(), p->shareable), k);
  std::map<std::string, int> groups;
  for (const auto& s : all) ++groups[s.dump()];
  for (const auto& [s, n] : groups) EXPECT_GE(n, k) << s;
}

TEST(Profiles, ShareableHoldsNoIdentifiersNoRawFigures) {
  FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 216.0);
  auto p = build_profiles(*f.store);
  ASSERT_TRUE(p.ok());
  const std::string text = p->shareable.dump();
  for (const char* leak : {"Secret", "SN-12345", "AuthenticAMD", "host-7f3a9c", "6.18", "XZ-4411",
                           "llvmpipe", "Mesa", "6d657361", "secret", "455", "231", "34.02", "12.34",
                           "41234567", "25276166144", "onednn", "vulkan", "216"})
    EXPECT_EQ(text.find(leak), std::string::npos) << leak << " leaked into " << text;
  EXPECT_NE(p->local.dump().find("Secret CPU 9000"), std::string::npos)
      << "the local profile keeps the device names";
}

TEST(Profiles, RandomisedResponseKeepsTheSchemaAndStatesEpsilon) {
  FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  ProfileOptions o;
  o.k = 0;
  auto p = build_profiles(*f.store, o);
  ASSERT_TRUE(p.ok());
  const int n = class_count(p->shareable);
  EXPECT_EQ(n, 5 + 4);
  const auto kept = randomise(p->shareable, 20, 1);
  EXPECT_TRUE(validate_profile(kept).ok());
  EXPECT_EQ(kept["randomised_response"]["epsilon"], 20);
  EXPECT_EQ(kept["device"], p->shareable["device"]) << "epsilon 20 keeps every class";
  // Epsilon 0: each class is uniform over its domain, so most change.
  int changed = 0, total = 0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const auto r = randomise(p->shareable, 0, seed);
    ASSERT_TRUE(validate_profile(r).ok()) << validate_profile(r).error().message;
    changed += r["device"]["compute"] != p->shareable["device"]["compute"];
    ++total;
  }
  // Uniform over the compute enum of the schema: kept with probability 1 / its size.
  const double k = static_cast<double>(
      shareable_schema()["properties"]["device"]["properties"]["compute"]["enum"].size());
  EXPECT_NEAR(static_cast<double>(changed) / total, 1 - 1 / k, 0.08);
}

}  // namespace
}  // namespace tb::profiles

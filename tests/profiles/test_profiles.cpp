#include <gtest/gtest.h>

#include "cli_helpers.h"
#include "profiles.h"

namespace tb::profiles {
namespace {

TEST(Profiles, PowerOfTwoBuckets) {
  EXPECT_EQ(pow2_bucket(231.7, "GFLOP/s"), "128-256 GFLOP/s");
  EXPECT_EQ(pow2_bucket(256, "GFLOP/s"), "256-512 GFLOP/s");
  EXPECT_EQ(pow2_bucket(0.3, "ms"), "0.25-0.5 ms");
  EXPECT_EQ(pow2_bucket(0, "ms"), "0 ms");
  EXPECT_EQ(pow2_bucket(-1, "ms"), "unknown");
  EXPECT_EQ(pow2_bucket(NAN, "ms"), "unknown");
}

TEST(Profiles, HoldsBucketsOnlyNoIdentifiersNoRawNumbers) {
  test::TempDir dir;
  auto s = Store::open((dir.path() / "r.db").string());
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(capability_profile(**s).ok()) << "no probe yet";
  auto run = (*s)->begin_run("probe", "x", {});
  ResultRecord probe;
  probe.run_id = run.value();
  probe.kind = "probe";
  probe.name = "probe:quick";
  probe.status = "passed";
  const auto fig = [](double v) {
    return nlohmann::json{{"single_thread", {{"max", v / 2}}}, {"all_threads", {{"max", v}}}};
  };
  nlohmann::json zmm = fig(234.38);
  zmm["supported"] = true;
  nlohmann::json device = {{"name", "llvmpipe UUID-6d657361"}, {"type", "cpu"}};
  probe.metrics["cpu"]["model"] = "Secret CPU 9000 SN-12345";
  probe.metrics["compute"]["peaks"]["f32_fma_zmm"] = zmm;
  probe.metrics["memory"]["bandwidth"]["copy_nt"] = fig(51.4);
  probe.metrics["accelerators"]["vulkan"]["devices"] = nlohmann::json::array({device});
  ASSERT_TRUE((*s)->add_result(probe).ok());
  ResultRecord w;
  w.run_id = run.value();
  w.kind = "workload";
  w.name = "mobilenetv2:b1:f32";
  w.backend = "onednn";
  w.device = "Secret CPU 9000 SN-12345";
  w.status = "passed";
  w.median_s = 0.01234;
  ASSERT_TRUE((*s)->add_result(w).ok());
  auto p = capability_profile(**s);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const std::string text = p->dump();
  EXPECT_EQ(p.value()["compute"]["f32_gflops"], "128-256 GFLOP/s");
  EXPECT_EQ(p.value()["memory"]["bandwidth_gbps"], "32-64 GB/s");
  EXPECT_EQ(p.value()["tiers"]["mobilenetv2:b1:f32"]["p50"], "8-16 ms");
  EXPECT_EQ(p.value()["accelerators"]["vulkan"], 1);
  for (const char* leak : {"Secret", "SN-12345", "UUID", "llvmpipe", "234.38", "12.34", "51.4"})
    EXPECT_EQ(text.find(leak), std::string::npos) << leak << " leaked into " << text;
}

}  // namespace
}  // namespace tb::profiles

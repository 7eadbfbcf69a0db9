// tierbench decide and tierbench validate-decisions as a user runs them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "evaluate.h"
#include "hand_checked.h"
#include "json_schema.h"
#include "predictor.h"
#include "profiles.h"
#include "store_fixture.h"

namespace tb::profiles {
namespace {

using json = nlohmann::json;
using test::run_tierbench;

json scenario(std::size_t i) {
  return test::hand_checked_scenarios()[i];
}

std::string write(const std::filesystem::path& p, const json& j) {
  std::ofstream(p) << j.dump(1);
  return p.string();
}

TEST(DecideCli, DecidesARequestFile) {
  test::TempDir d;
  const json s = scenario(1);  // private, cold start: int8 now, f32 later
  const auto r = run_tierbench("decide --request " + write(d.path() / "r.json", s["request"]));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  EXPECT_TRUE(validate(out, decide_response_schema()).empty());
  EXPECT_EQ(out["placements"][0]["workload"], s["expect"]["first"]["workload"]);
  EXPECT_NE(r.err.find("plan: run cnn:b1:int8 on the device"), std::string::npos) << r.err;
}

TEST(DecideCli, BadRequestsAreInputErrorsNamingTheField) {
  test::TempDir d;
  json req = scenario(0)["request"];
  req["network"]["up_mbps"] = -3;
  auto r = run_tierbench("decide --request " + write(d.path() / "r.json", req));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/network/up_mbps"), std::string::npos) << r.err;
  r = run_tierbench("decide --request " + (d.path() / "missing.json").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
  // A profile that fails its schema is refused before any decision.
  req = scenario(0)["request"];
  const auto p = write(d.path() / "p.json", json{{"schema", "tierbench.profile.shareable"}});
  r = run_tierbench("decide --request " + write(d.path() / "r.json", req) + " --profile " + p);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("p.json"), std::string::npos) << r.err;
}

// A profile from a store: the figures come from it, and a variant it says does not fit never
// runs on the device.
TEST(DecideCli, UsesTheProfileGiven) {
  test::FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.012);
  f.add_workload("mobilenetv2:b1:int8", "int8", "skipped", 0, "onednn",
                 "does not fit: needs 9 GiB, has 8 GiB");
  const auto local = f.dir.path() / "l.json";
  auto r = run_tierbench("--db " + f.db + " profile --local " + local.string() + " -o " +
                         (f.dir.path() / "s.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json req = scenario(0)["request"];
  req.erase("estimates");
  req["models"] = {{{"workload", "mobilenetv2:b1:f32"}, {"compiled", true}},
                   {{"workload", "mobilenetv2:b1:int8"}, {"compiled", true}, {"fidelity", 0.97}}};
  req["request"]["may_leave_device"] = false;
  r = run_tierbench("decide --request " + write(f.dir.path() / "r.json", req) + " --profile " +
                    local.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  ASSERT_EQ(out["placements"].size(), 1u) << out.dump(1);
  EXPECT_EQ(out["placements"][0]["workload"], "mobilenetv2:b1:f32");
  EXPECT_NEAR(out["placements"][0]["latency_ms"]["total"].get<double>(), 12, 1e-6);
  bool int8_excluded = false;
  for (const auto& x : out["excluded"])
    int8_excluded =
        int8_excluded || (x["workload"] == "mobilenetv2:b1:int8" && x["target"] == "device" &&
                          x["why"].get<std::string>().find("does not fit") != std::string::npos);
  EXPECT_TRUE(int8_excluded) << out["excluded"].dump();
}

TEST(DecideCli, ValidateDecisionsReportsBothProfiles) {
  test::FixtureStore f;
  f.add_workload("person-detect:b1:f32", "f32", "passed", 0.0008);
  f.add_workload("person-detect:b1:int8", "int8", "passed", 0.0005);
  f.add_workload("person-detect:b1:f32", "f32", "passed", 0.02, "vulkan");
  const auto r = run_tierbench("--db " + f.db + " --json validate-decisions");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  // The local profile, the shareable one, and the classes at every granularity of the ladder.
  ASSERT_EQ(out.size(), 2 + buckets().ladder.size());
  const json& grid = decide_scenario_grid();
  const std::size_t per_config = grid["networks"].size() * grid["objectives_ms"].size() *
                                 grid["delays"].size() * grid["cache_states"].size() *
                                 grid["edge_loads"].size() * grid["may_leave_device"].size();
  EXPECT_EQ(out[0]["profile"], "local profile (measured figures)");  // no calibration here
  EXPECT_EQ(out[0]["scenarios"], 2 * per_config);  // person-detect on onednn and on vulkan
  EXPECT_EQ(out[1]["profile"], "shareable profile");
  EXPECT_EQ(out[1]["scenarios"], per_config);  // the best backend only
  for (const auto& e : out) {
    EXPECT_EQ(e["constraint_violations"], 0);
    EXPECT_GE(e["agreement"].get<double>(), 0.0);
    EXPECT_LE(e["agreement"].get<double>(), 1.0);
    EXPECT_GE(e["median_regret"].get<double>(), 0.0);
    int kinds = 0;
    for (const auto& [k, n] : e["oracle_kinds"].items()) kinds += n.get<int>();
    EXPECT_EQ(kinds, e["scenarios"]);
    EXPECT_LE(e["contested"]["scenarios"], e["scenarios"]);
    EXPECT_GT(e["contested"]["scenarios"], 0);  // some decisions are not forced by a constraint
    EXPECT_GT(e["oracle_kinds"]["none"], 0);    // offline with nothing cached
  }
  // The local profile's figures are the measured ones here: on the device the engine and the
  // oracle see the same figures, so offline and private scenarios always agree.
  EXPECT_EQ(out[0]["by_network"]["offline"]["agree"], out[0]["by_network"]["offline"]["scenarios"]);
}

// A local profile with a calibration: the engine's device figures come from the predictor.
TEST(DecideCli, ValidateDecisionsUsesThePredictorWhenCalibrated) {
  test::FixtureStore f;
  f.add_workload("person-detect:b1:f32", "f32", "passed", 0.0008);
  const auto local = f.dir.path() / "l.json";
  auto r = run_tierbench("--db " + f.db + " profile --local " + local.string() + " -o " +
                         (f.dir.path() / "s.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json l = json::parse(std::ifstream(local));
  BackendCalibration e;
  e.backend = "onednn", e.dtype = "f32";
  const Problem p = Problem::parse("conv:n1c16h48w48k16r3s3p1:f32+bias+relu").value();
  e.points = {{"conv", p.str(), p.flops(), p.min_bytes(), 5e-5, 1e-3, 0.3}};
  e.graph_s = 1e-5, e.transfer_gbps = 10, e.host_gbps = 10, e.upload_gbps = 10;
  e.peak_gflops = 400, e.bandwidth_gbps = 30;
  Calibration cal;
  cal.storage_read_gbps = 1;
  cal.entries = {e};
  l["calibration"] = to_json(cal);
  ASSERT_TRUE(validate_profile(l).ok()) << validate_profile(l).error().message;
  r = run_tierbench("--json validate-decisions --local " + write(f.dir.path() / "c.json", l));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  EXPECT_EQ(out[0]["profile"], "local profile (predictor)");
  EXPECT_EQ(out[1]["profile"], "local profile (measured figures)");
  EXPECT_EQ(out[0]["scenarios"], out[1]["scenarios"]);
  EXPECT_EQ(out[0]["constraint_violations"], 0);
}

TEST(DecideCli, SplitPointsFollowTheGraph) {
  test::FixtureStore f;
  const json local = json::parse(R"({"ceilings": {"f32_gflops": {"value": 400},
      "bf16_gflops": {"value": 800}, "int8_gops": {"value": 1600},
      "memory_bandwidth_gbps": {"value": 30}}})");
  auto layers = split_points("mobilenetv2:b1:f32", 10.0, local["ceilings"]);
  ASSERT_TRUE(layers.ok()) << layers.error().message;
  ASSERT_GT(layers->size(), 20u);
  double total = 0;
  for (const auto& l : *layers) total += l.latency_ms;
  EXPECT_NEAR(total, 10.0, 1e-9);
  auto io = workload_io("mobilenetv2:b1:f32");
  ASSERT_TRUE(io.ok());
  EXPECT_EQ(io->input_bytes, 224u * 224 * 3 * 4);
  EXPECT_EQ(io->output_bytes, 1000u * 4);
  // After the last layer only the output crosses; the first layers' activations are larger than
  // the input (MobileNetV2's stem widens 3 channels to 32 at half resolution).
  EXPECT_EQ(layers->back().output_bytes, io->output_bytes);
  EXPECT_GT(layers->front().output_bytes, io->input_bytes);
  EXPECT_FALSE(split_points("nosuch:b1:f32", 1, local["ceilings"]).ok());
}

}  // namespace
}  // namespace tb::profiles

// probe_opencl: schema of the report, positive figures, and a well-formed "unavailable" report
// when the ICD loader finds no vendor (checked in a child process with an empty OCL_ICD_VENDORS).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "accel_probe.h"

namespace tb {
namespace {

using nlohmann::json;

void expect_stat(const json& s, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(s.is_object());
  for (const char* k : {"median", "min", "max", "trials"}) ASSERT_TRUE(s.contains(k)) << k;
  EXPECT_GT(s["median"].get<double>(), 0.0);
  EXPECT_LE(s["min"].get<double>(), s["median"].get<double>());
  EXPECT_LE(s["median"].get<double>(), s["max"].get<double>());
  EXPECT_GT(s["trials"].get<int>(), 0);
}

void expect_top_level(const json& r) {
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r.value("api", ""), "opencl");
  ASSERT_TRUE(r.contains("available") && r["available"].is_boolean());
  ASSERT_TRUE(r.contains("reason") && r["reason"].is_string());
  ASSERT_TRUE(r.contains("devices") && r["devices"].is_array());
}

TEST(OpenclProbe, PropertiesOnly) {
  const json r = probe_opencl({.quick = true, .measure = false});
  expect_top_level(r);
  if (!r["available"].get<bool>()) GTEST_SKIP() << r["reason"];
  ASSERT_FALSE(r["devices"].empty());
  for (const auto& d : r["devices"]) {
    for (const char* k :
         {"name", "type", "vendor", "driver_version", "api_version", "compute_units",
          "global_memory_bytes", "max_workgroup_size", "subgroup_size", "fp16", "int8_dot"})
      EXPECT_TRUE(d.contains(k)) << k;
    EXPECT_FALSE(d["name"].get<std::string>().empty());
    EXPECT_GT(d["compute_units"].get<int>(), 0);
    EXPECT_GT(d["global_memory_bytes"].get<double>(), 0);
    EXPECT_FALSE(d.contains("measured"));
  }
}

TEST(OpenclProbe, QuickMeasurementsArePositive) {
  const json r = probe_opencl({.quick = true, .measure = true});
  expect_top_level(r);
  if (!r["available"].get<bool>()) GTEST_SKIP() << r["reason"];
  for (const auto& d : r["devices"]) {
    ASSERT_FALSE(d.contains("error")) << d["error"];
    ASSERT_TRUE(d.contains("measured"));
    const json& m = d["measured"];
    expect_stat(m["peak_f32_gflops"], "peak_f32_gflops");
    ASSERT_TRUE(m["peak_f32_gflops"].contains("by_width"));
    for (const char* w : {"1", "2", "4", "8", "16"})
      expect_stat(m["peak_f32_gflops"]["by_width"][w], std::string("peak width ") + w);
    for (const char* k : {"global_bw_gbps", "h2d_gbps", "d2h_gbps", "dispatch_latency_us"})
      expect_stat(m[k], k);
  }
}

TEST(OpenclProbe, UnavailableWithoutDriverIsWellFormed) {
  if (std::getenv("TB_OPENCL_PROBE_CHILD")) {
    const json r = probe_opencl({.quick = true, .measure = true});
    std::printf("%s\n", r.dump().c_str());
    return;
  }
  namespace fs = std::filesystem;
  const fs::path empty =
      fs::temp_directory_path() / ("tb_ocl_probe_noicd_" + std::to_string(getpid()));
  fs::create_directories(empty);
  const std::string cmd = "TB_OPENCL_PROBE_CHILD=1 OCL_ICD_VENDORS=" + empty.string() + " /proc/" +
                          std::to_string(getpid()) +
                          "/exe --gtest_filter=OpenclProbe.UnavailableWithoutDriverIsWellFormed";
  std::FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  const int rc = pclose(f);
  fs::remove_all(empty);
  EXPECT_EQ(rc, 0) << out;
  const auto start = out.find("{\"api\"");
  ASSERT_NE(start, std::string::npos) << out;
  const json r = json::parse(out.substr(start, out.find('\n', start) - start));
  expect_top_level(r);
  EXPECT_FALSE(r["available"].get<bool>());
  EXPECT_FALSE(r["reason"].get<std::string>().empty());
  EXPECT_TRUE(r["devices"].empty());
}

}  // namespace
}  // namespace tb

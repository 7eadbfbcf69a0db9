// Tiers end to end: person-detect on the reference and on oneDNN (validated against the
// reference before timing), the "does not fit" and "unsupported" paths, and unknown names.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "kernels.h"
#include "weights.h"
#include "workload_runner.h"

namespace tb {
namespace {

class WorkloadRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tb_wl_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    ::setenv("XDG_CACHE_HOME", dir_.c_str(), 1);
    auto s = Store::open((dir_ / "results.db").string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s.value());
    run_ = store_->begin_run("test", "", {}).value();
    for (auto& b : make_backends()) backends_.push_back(std::move(b));
    opts_.sampling = {0, 3, 5, 2.0, 0.05};  // 2 s: the reference tier under ctest -j load
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Backend* backend(std::string_view name) {
    for (auto& b : backends_)
      if (b->name() == name) return b.get();
    return nullptr;
  }
  std::vector<ResultRecord> run(std::string_view backend_name, const std::string& workload) {
    auto w = workloads::parse_workload(workload);
    EXPECT_TRUE(w.ok());
    return run_workload(*store_, run_, *backend(backend_name), *w, opts_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::int64_t run_ = 0;
  std::vector<std::unique_ptr<Backend>> backends_;
  WorkloadOptions opts_;
};

TEST_F(WorkloadRun, PersonDetectMatchesTheReference) {
  for (const char* wl : {"person-detect:b1:f32", "person-detect:b1:int8"}) {
    for (const char* be : {"reference", "onednn"}) {
      if (!backend(be) || !backend(be)->availability().available) continue;  // not built
      const auto rs = run(be, wl);
      ASSERT_EQ(rs.size(), 1u);
      const auto& r = rs[0];
      EXPECT_EQ(r.status, Status::passed) << wl << " on " << be << ": " << r.message;
      EXPECT_EQ(r.kind, "workload");
      EXPECT_EQ(r.name, wl);
      EXPECT_GE(r.n, 3);
      ASSERT_TRUE(r.median_s.has_value());
      EXPECT_GT(*r.median_s, 0);
      EXPECT_GT(r.metrics["load"]["prepare_first_s"].get<double>(), 0);
      EXPECT_GT(r.metrics["load"]["read_cold_s"].get<double>(), 0);
      EXPECT_TRUE(r.metrics["load"].contains("first_inference_s"));
      EXPECT_EQ(r.metrics["figures"]["params"].get<std::int64_t>(), 391650);
      if (std::string_view(be) == "onednn") {
        EXPECT_EQ(r.metrics["validation"]["scope"], "validated on the full graph");
        EXPECT_LT(r.metrics["validation"]["max_rel_err"].get<double>(),
                  r.metrics["validation"]["rtol"].get<double>());
      }
    }
  }
  // Stored as measured, and the weights file was written to the cache.
  auto stored = store_->results(run_, true);
  ASSERT_TRUE(stored.ok());
  EXPECT_GE(stored->size(), 2u);
  EXPECT_TRUE(
      std::filesystem::exists(dir_ / "tierbench/models/person-detect-int8-seed42.safetensors"));
}

// A tier's peak memory does not depend on what ran before it in the process: the memory an
// earlier, larger tier freed is not counted as free capacity (it read 0.9 MB for a bf16
// MobileNetV2 after two other tiers). Every tier holds at least its weights while it loads.
TEST_F(WorkloadRun, PeakMemoryDoesNotReuseWhatAnEarlierTierFreed) {
  if (!backend("onednn") || !backend("onednn")->availability().available)
    GTEST_SKIP() << "onednn: not built";
  opts_.validate = false;  // memory is the subject here; validation has its own tests
  for (const char* wl : {"mobilenetv2:b1:f32", "person-detect:b1:f32"}) {
    const auto rs = run("onednn", wl);
    ASSERT_EQ(rs.size(), 1u);
    const auto& r = rs[0];
    ASSERT_EQ(r.status, Status::passed) << wl << ": " << r.message;
    const auto& mem = r.metrics["memory"];
    if (!mem.contains("peak_rss_added_bytes")) GTEST_SKIP() << "VmHWM cannot be reset here";
    EXPECT_GE(mem["peak_rss_added_bytes"].get<double>(), mem["weight_bytes"].get<double>())
        << wl << ": " << mem.dump();
  }
}

TEST_F(WorkloadRun, DoesNotFitIsAResultNotACrash) {
  opts_.memory_limit_bytes = 1 << 20;
  const auto rs = run("reference", "mobilenetv2:b1:f32");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, Status::skipped);
  EXPECT_EQ(rs[0].message.rfind("does not fit: needs ", 0), 0u) << rs[0].message;
  EXPECT_NE(rs[0].message.find("has 1.0 MiB"), std::string::npos) << rs[0].message;
  EXPECT_EQ(rs[0].metrics["figures"]["params"].get<std::int64_t>(), 3487816);
}

TEST_F(WorkloadRun, AUserFileOfTheWrongArchitectureIsAnError) {
  auto g = workloads::build_tier("person-detect", "int8");
  ASSERT_TRUE(g.ok());
  const auto p = (dir_ / "mine.safetensors").string();
  ASSERT_TRUE(workloads::ensure_weights_file(*g, p, 1).ok());
  opts_.weights_path = p;
  const auto rs = run("reference", "person-detect:b1:f32");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, Status::error);
  EXPECT_NE(rs[0].message.find("the architecture needs F32"), std::string::npos) << rs[0].message;
}

TEST_F(WorkloadRun, SuitesNameValidWorkloads) {
  for (const auto& s : workload_suites()) {
    EXPECT_FALSE(s.workloads.empty()) << s.name;
    for (const auto& w : s.workloads) EXPECT_TRUE(workloads::parse_workload(w).ok()) << w;
  }
  EXPECT_NE(find_workload_suite("quick"), nullptr);
  EXPECT_EQ(find_workload_suite("nope"), nullptr);
}

}  // namespace
}  // namespace tb

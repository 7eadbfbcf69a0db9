// compare / export / import / baseline as CI uses them, on runs with known samples.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "store.h"

namespace tb {
namespace {

using test::run_tierbench;

// A run whose benchmarks have log-normal samples around the given medians (seconds).
std::int64_t make_run(Store& s, const std::map<std::string, double>& medians, std::uint64_t seed,
                      const nlohmann::json& env = nlohmann::json::object()) {
  auto run = s.begin_run("synthetic", "abc", env);
  EXPECT_TRUE(run.ok());
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.01);
  for (const auto& [name, med] : medians) {
    ResultRecord r;
    r.run_id = run.value();
    r.name = name;
    r.backend = "onednn";
    r.status = Status::passed;
    for (int i = 0; i < 30; ++i) r.samples.push_back(med * std::exp(noise(rng)));
    r.n = 30;
    r.median_s = med;
    EXPECT_TRUE(s.add_result(r).ok());
  }
  EXPECT_TRUE(s.finish_run(run.value(), "ok").ok());
  return run.value();
}

class CompareCli : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = (dir_.path() / "r.db").string();
    auto s = Store::open(db_);
    ASSERT_TRUE(s.ok());
    base_ = make_run(**s, {{"gemm:m64n64k64:f32", 1e-3}, {"gemm:m128n128k128:f32", 4e-3}}, 1);
    same_ = make_run(**s, {{"gemm:m64n64k64:f32", 1e-3}, {"gemm:m128n128k128:f32", 4e-3}}, 2);
    slow_ = make_run(**s, {{"gemm:m64n64k64:f32", 1.10e-3}, {"gemm:m128n128k128:f32", 4e-3}}, 3);
    missing_ = make_run(**s, {{"gemm:m64n64k64:f32", 1e-3}}, 4);
  }
  std::string db() const { return "--db " + db_ + " "; }
  test::TempDir dir_;
  std::string db_;
  std::int64_t base_ = 0, same_ = 0, slow_ = 0, missing_ = 0;
};

TEST_F(CompareCli, SameDistributionPassesShiftFails) {
  auto r = run_tierbench(db() + "compare " + std::to_string(base_) + " " + std::to_string(same_));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_tierbench(db() + "compare " + std::to_string(base_) + " " + std::to_string(slow_) +
                    " --format json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  int regressions = 0;
  for (const auto& row : j["benchmarks"]) {
    if (row["verdict"] == "regression") {
      ++regressions;
      EXPECT_EQ(row["key"], "gemm:m64n64k64:f32@onednn");
    }
  }
  EXPECT_EQ(regressions, 1);
  // A looser per-pattern threshold lets the same change through.
  r = run_tierbench(db() + "compare " + std::to_string(base_) + " " + std::to_string(slow_) +
                    " --rule 'gemm:m64*=0.2'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(CompareCli, MissingBenchmarksAreReportedNotFatal) {
  auto r = run_tierbench(db() + "compare " + std::to_string(base_) + " " +
                         std::to_string(missing_) + " --format markdown");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("missing"), std::string::npos) << r.out;
  r = run_tierbench(db() + "compare " + std::to_string(base_) + " " + std::to_string(missing_) +
                    " --fail-on-missing");
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(CompareCli, JUnitMarksRegressionsAsFailures) {
  const auto xml = (dir_.path() / "junit.xml").string();
  auto r = run_tierbench(db() + "compare " + std::to_string(base_) + " " + std::to_string(slow_) +
                         " --format junit -o " + xml);
  EXPECT_EQ(r.exit_code, 1);
  std::ifstream f(xml);
  std::string s((std::istreambuf_iterator<char>(f)), {});
  EXPECT_NE(s.find("<testsuite"), std::string::npos);
  EXPECT_NE(s.find("<failure"), std::string::npos);
}

TEST_F(CompareCli, ExportImportRoundTripAndFileSides) {
  const auto file = (dir_.path() / "base.json").string();
  auto r = run_tierbench(db() + "export --run " + std::to_string(base_) + " -o " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A file against a run id: same samples, nothing flagged.
  r = run_tierbench(db() + "compare " + file + " " + std::to_string(base_));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_tierbench(db() + "compare " + file + " " + std::to_string(slow_));
  EXPECT_EQ(r.exit_code, 1);
  r = run_tierbench(db() + "--json import " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto id = nlohmann::json::parse(r.out)["run_id"].get<std::int64_t>();
  auto s = Store::open(db_);
  auto a = (*s)->results(base_, true), b = (*s)->results(id, true);
  ASSERT_EQ(a->size(), b->size());
  for (std::size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].samples, (*b)[i].samples);
}

TEST_F(CompareCli, GbenchExportHasIterationsAndAggregates) {
  auto r = run_tierbench(db() + "export --format gbench --run " + std::to_string(base_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("context"));
  int iterations = 0, medians = 0;
  for (const auto& b : j["benchmarks"]) {
    iterations += b["run_type"] == "iteration";
    medians += b.value("aggregate_name", "") == "median";
    EXPECT_EQ(b["time_unit"], "ns");
  }
  EXPECT_EQ(iterations, 60);
  EXPECT_EQ(medians, 2);
}

TEST_F(CompareCli, BaselinesSaveAndCheck) {
  auto r = run_tierbench(db() + "baseline save main --run " + std::to_string(base_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_tierbench(db() + "baseline check main --run " + std::to_string(same_));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  r = run_tierbench(db() + "baseline check main --run " + std::to_string(slow_));
  EXPECT_EQ(r.exit_code, 1);
  r = run_tierbench(db() + "baseline check nosuch");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nosuch"), std::string::npos);
  r = run_tierbench(db() + "baseline list");
  EXPECT_NE(r.out.find("main"), std::string::npos);
}

// Three runs of one GEMM: a sets TB_ONEDNN_ATTENTION=fused, b and c set no switch.
struct SwitchRuns {
  std::string a, b, c;
};
SwitchRuns make_switch_runs(const std::string& db) {
  auto s = Store::open(db);
  EXPECT_TRUE(s.ok());
  if (!s) return {};
  const std::map<std::string, double> m = {{"gemm:m64n64k64:f32", 1e-3}};
  const nlohmann::json fused = {{"switches", {{"TB_ONEDNN_ATTENTION", "fused"}}}};
  const nlohmann::json none = {{"switches", nlohmann::json::object()}};
  return {std::to_string(make_run(**s, m, 5, fused)), std::to_string(make_run(**s, m, 6, none)),
          std::to_string(make_run(**s, m, 7, none))};
}

// Two runs that set a switch differently: compare names it above the table and in its JSON,
// also when one side is an exported file; runs that set none the same say nothing.
TEST_F(CompareCli, SwitchesTheRunsSetDifferentlyAreShown) {
  const auto [a, b, c] = make_switch_runs(db_);
  ASSERT_FALSE(a.empty());
  auto r = run_tierbench(db() + "compare " + a + " " + b);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;  // a switch alone gates nothing
  EXPECT_EQ(r.out.rfind("switch differs: TB_ONEDNN_ATTENTION: base 'fused', current unset\n", 0),
            0u)
      << r.out;
  r = run_tierbench(db() + "compare " + a + " " + b + " --format json");
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["switches"]["differ"], true);
  ASSERT_EQ(j["switches"]["differences"].size(), 1u);
  EXPECT_EQ(j["switches"]["differences"][0]["name"], "TB_ONEDNN_ATTENTION");
  EXPECT_EQ(j["switches"]["differences"][0]["base"], "fused");
  EXPECT_TRUE(j["switches"]["differences"][0]["current"].is_null());
  r = run_tierbench(db() + "compare " + b + " " + c + " --format json");
  EXPECT_EQ(nlohmann::json::parse(r.out)["switches"]["differ"], false);
  r = run_tierbench(db() + "compare " + b + " " + c);
  EXPECT_EQ(r.out.find("switch"), std::string::npos) << r.out;
  r = run_tierbench(db() + "compare " + b + " " + a + " --format markdown");
  EXPECT_NE(r.out.find("> switch differs: TB_ONEDNN_ATTENTION: base unset, current 'fused'"),
            std::string::npos)
      << r.out;
  const auto file = (dir_.path() / "fused.json").string();
  ASSERT_EQ(run_tierbench(db() + "export --run " + a + " -o " + file).exit_code, 0);
  r = run_tierbench(db() + "compare " + file + " " + b);
  EXPECT_NE(r.out.find("switch differs: TB_ONEDNN_ATTENTION"), std::string::npos) << r.out;
  // Runs that recorded no switches (older stores): said, not guessed.
  r = run_tierbench(db() + "compare " + std::to_string(base_) + " " + b + " --format json");
  EXPECT_EQ(nlohmann::json::parse(r.out)["switches"]["comparable"], false);
}

// `report --compare` shows the same switch lines as `compare` (its comparison section).
TEST_F(CompareCli, ReportCompareShowsTheSwitchesToo) {
  const auto [a, b, c] = make_switch_runs(db_);
  ASSERT_FALSE(a.empty());
  auto r = run_tierbench(db() + "report --compare " + a + " " + b + " --format md");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("> switch differs: TB_ONEDNN_ATTENTION: base 'fused', current unset\n"),
            std::string::npos)
      << r.out;
  r = run_tierbench(db() + "report --compare " + a + " " + b + " --format html");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("<li>switch differs: TB_ONEDNN_ATTENTION: base &apos;fused&apos;"),
            std::string::npos)
      << r.out.substr(0, 2000);
  r = run_tierbench(db() + "report --compare " + a + " " + b + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["comparison"]["switches"]["differ"], true);
  EXPECT_EQ(j["comparison"]["switches"]["differences"][0]["name"], "TB_ONEDNN_ATTENTION");
  r = run_tierbench(db() + "report --compare " + b + " " + c + " --format md");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("switch differs"), std::string::npos) << r.out;
}

TEST_F(CompareCli, BadInputIsExitTwo) {
  const auto corrupt = (dir_.path() / "corrupt.json").string();
  std::ofstream(corrupt) << "{\"schema\": \"tierbench.results/1\", \"results\": [{\"nam";
  const auto foreign = (dir_.path() / "foreign.json").string();
  std::ofstream(foreign) << "{\"hello\": 1}";
  struct Case {
    std::string args, expect;
  } cases[] = {
      {"compare 1 999", "unknown run id 999"},
      {"compare 1 /nonexistent/file.json", "/nonexistent/file.json"},
      {"compare 1 " + corrupt, "not valid JSON"},
      {"compare 1 " + foreign, "not a tierbench results file"},
      {"compare 1", "CURRENT"},
      {"export --run 12345", "12345"},
      {"export --format xml", "--format"},
      {"import " + corrupt, "not valid JSON"},
      {"compare 1 2 --rule nonsense", "--rule"},
  };
  for (const auto& c : cases) {
    const auto r = run_tierbench(db() + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << " -> " << r.err;
  }
}

}  // namespace
}  // namespace tb

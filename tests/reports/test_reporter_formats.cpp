// Every reporter's output is a contract: byte for byte, each format is compared with a golden
// file in data/golden/, rendered from the fixture store of real measurements (report_fixture.h)
// or, for the machine-independent listings, from the tierbench binary. A change to a format must
// change its golden file in the same commit (TB_UPDATE_GOLDEN=1 rewrites them, for review).
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compare.h"
#include "compare_format.h"
#include "gbench_export.h"
#include "probe_table.h"
#include "report_fixture.h"
#include "reporter.h"
#include "reports.h"
#include "results_io.h"

namespace tb {
namespace {

using nlohmann::json;

using test::expect_golden;

class ReporterFormats : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fx_) fx_ = new test::ReportStore();
  }
  static void TearDownTestSuite() { delete fx_, fx_ = nullptr; }
  static compare::Comparison comparison() {
    auto b = fx_->store->results(fx_->base_run, true);
    auto c = fx_->store->results(fx_->current_run, true);
    EXPECT_TRUE(b.ok() && c.ok());
    return compare::compare(io::sample_set(*b), io::sample_set(*c));
  }
  static inline test::ReportStore* fx_ = nullptr;
};

TEST_F(ReporterFormats, ComparisonTerminalMarkdownJunitJson) {
  const auto c = comparison();
  expect_golden("compare.txt", compare::format_terminal(c));
  expect_golden("compare.md", compare::format_markdown(c));
  expect_golden("compare.junit.xml", compare::format_junit(c));
  expect_golden("compare.json", compare::format_json(c));
}

TEST_F(ReporterFormats, GoogleBenchmarkExport) {
  auto doc = io::export_gbench(*fx_->store, fx_->current_run);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  // The date is the run's start, which the import sets: checked here, fixed in the golden file.
  EXPECT_EQ((*doc)["context"]["date"], fx_->store->run(fx_->current_run)->started_at);
  (*doc)["context"]["date"] = "(the run's started_at)";
  expect_golden("gbench.json", doc->dump(2) + "\n");
}

TEST_F(ReporterFormats, RunResultsTable) {
  auto results = fx_->store->results(fx_->current_run);
  ASSERT_TRUE(results.ok());
  std::ostringstream os;
  reports::print_results_table(os, *results);
  expect_golden("results_table.txt", os.str());
  json lines = json::array();
  for (const auto& r : *results) lines.push_back(reports::result_json(r));
  expect_golden("results.json", lines.dump(2) + "\n");
}

TEST_F(ReporterFormats, ProbeTable) {
  auto probe = fx_->store->latest_result("probe");
  ASSERT_TRUE(probe.ok() && probe->has_value());
  expect_golden("probe_table.txt", format_probe_table((*probe)->metrics));
  // Absent sections are tolerated.
  expect_golden("probe_table_empty.txt", format_probe_table(json::object()));
}

// The reporter families: every format they list has a reporter that says so, an unknown one has
// none, and each reporter writes exactly its renderer's pinned output.
TEST_F(ReporterFormats, EveryFamilyFormatIsItsPinnedRenderer) {
  EXPECT_EQ(reports::comparison_formats(),
            (std::vector<std::string>{"terminal", "markdown", "junit", "json"}));
  EXPECT_EQ(reports::run_formats(), (std::vector<std::string>{"table", "json", "gbench", "csv"}));
  EXPECT_EQ(reports::probe_formats(), (std::vector<std::string>{"table", "json"}));
  for (const auto& f : reports::comparison_formats())
    EXPECT_EQ(reports::comparison_reporter(f)->format(), f);
  for (const auto& f : reports::run_formats()) EXPECT_EQ(reports::run_reporter(f)->format(), f);
  for (const auto& f : reports::probe_formats()) EXPECT_EQ(reports::probe_reporter(f)->format(), f);
  EXPECT_EQ(reports::comparison_reporter("html"), nullptr);
  EXPECT_EQ(reports::run_reporter("xml"), nullptr);
  EXPECT_EQ(reports::probe_reporter("markdown"), nullptr);
  EXPECT_EQ(reports::listing_formats(), (std::vector<std::string>{"table", "json"}));
  for (const auto& f : reports::listing_formats())
    EXPECT_EQ(reports::listing_reporter(f)->format(), f);
  std::ostringstream unknown;
  EXPECT_FALSE(reports::listing_reporter("table")->report(unknown, {"models", json::array()}).ok());

  const auto render = [](const auto& reporter, const auto& doc) {
    std::ostringstream os;
    const auto r = reporter->report(os, doc);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return os.str();
  };
  const auto c = comparison();
  expect_golden("compare.txt", render(reports::comparison_reporter("terminal"), c));
  expect_golden("compare.md", render(reports::comparison_reporter("markdown"), c));
  expect_golden("compare.junit.xml", render(reports::comparison_reporter("junit"), c));
  expect_golden("compare.json", render(reports::comparison_reporter("json"), c));
  const reports::StoredRun run{*fx_->store, fx_->current_run};
  expect_golden("results_table.txt", render(reports::run_reporter("table"), run));
  json gb = json::parse(render(reports::run_reporter("gbench"), run));
  gb["context"]["date"] = "(the run's started_at)";
  expect_golden("gbench.json", gb.dump(2) + "\n");
  auto exported = io::export_run(*fx_->store, fx_->current_run);
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(render(reports::run_reporter("json"), run), exported->dump(2) + "\n");
  auto probe = fx_->store->latest_result("probe");
  ASSERT_TRUE(probe.ok() && probe->has_value());
  expect_golden("probe_table.txt", render(reports::probe_reporter("table"), (*probe)->metrics));
  expect_golden("probe.json", render(reports::probe_reporter("json"), (*probe)->metrics));
  // A run that is not in the store: an error, nothing written.
  std::ostringstream os;
  EXPECT_FALSE(reports::run_reporter("gbench")->report(os, {*fx_->store, 999}).ok());
  EXPECT_EQ(os.str(), "");
}

// CSV (RFC 4180): a header, then one line of 15 fields per stored result of the run.
TEST_F(ReporterFormats, RunCsv) {
  std::ostringstream os;
  ASSERT_TRUE(reports::run_reporter("csv")->report(os, {*fx_->store, fx_->current_run}).ok());
  expect_golden("run.csv", os.str());
  auto results = fx_->store->results(fx_->current_run);
  ASSERT_TRUE(results.ok());
  std::istringstream in(os.str());
  std::string line;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    std::size_t fields = 1;
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"') quoted = !quoted;
      fields += ch == ',' && !quoted;
    }
    EXPECT_EQ(fields, 15u) << line;
    ++lines;
  }
  EXPECT_EQ(lines, results->size() + 1);
}

// The model tiers and suites do not depend on the machine: their listings are pinned whole.
TEST(ReporterFormatsCli, WorkloadAndSuiteListings) {
  for (const std::string what : {"workloads", "suites"})
    for (const std::string format : {"txt", "json"}) {
      const auto r = test::run_tierbench("list --" + what + (format == "json" ? " --json" : ""));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      expect_golden("list_" + what + "." + format, r.out);
    }
}

// The backends and devices depend on the machine: the text listing is pinned against the JSON
// listing of the same machine, line by line.
TEST(ReporterFormatsCli, BackendListingIsTheJsonListingAsText) {
  const auto t = test::run_tierbench("list");
  const auto j = test::run_tierbench("list --json");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  ASSERT_EQ(j.exit_code, 0) << j.err;
  std::string want;
  const json listing = json::parse(j.out);
  for (const auto& b : listing["backends"]) {
    if (!b["available"].get<bool>()) {
      want += fmt::format("{:<10} unavailable: {}\n", b["name"].get<std::string>(),
                          b["reason"].get<std::string>());
      continue;
    }
    want += fmt::format("{:<10} available   {}\n", b["name"].get<std::string>(),
                        b["version"].get<std::string>());
    for (const auto& d : b["devices"])
      want += fmt::format(
          "  [{}] {} ({}, {} compute units{})\n", d["index"].get<int>(),
          d["name"].get<std::string>(), d["type"].get<std::string>(),
          d["compute_units"].get<std::int64_t>(),
          d["global_memory_bytes"].get<std::uint64_t>() > 0
              ? fmt::format(", {:.1f} GiB", d["global_memory_bytes"].get<double>() / (1 << 30))
              : "");
  }
  EXPECT_EQ(t.out, want);
}

}  // namespace
}  // namespace tb

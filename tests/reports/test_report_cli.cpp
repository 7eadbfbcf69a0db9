// `tierbench report` as a user runs it: formats, files, run selection, and exit 2 with a one-line
// message for a bad run id or flag.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report_fixture.h"

namespace tb {
namespace {

using test::run_tierbench;

class ReportCli : public ::testing::Test {
 protected:
  // Built by the first test, in SetUp: a fixture that cannot be built fails the tests (in
  // SetUpTestSuite, gtest would report them as skipped).
  void SetUp() override {
    if (!fx_) fx_ = new test::ReportStore();
  }
  static void TearDownTestSuite() { delete fx_, fx_ = nullptr; }
  static std::string db() { return "--db " + fx_->db + " "; }
  static inline test::ReportStore* fx_ = nullptr;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST_F(ReportCli, WritesHtmlForTheLatestRunAndSaysWhere) {
  test::TempDir out;
  const auto file = out.path() / "report.html";
  const auto r = run_tierbench(db() + "report -o " + file.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("report written to " + file.string()), std::string::npos);
  const std::string html = slurp(file);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("tierbench report: run " + std::to_string(fx_->current_run)),
            std::string::npos);
}

TEST_F(ReportCli, FormatsAndRunSelection) {
  const auto md =
      run_tierbench(db() + "report --run " + std::to_string(fx_->base_run) + " --format md");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_EQ(md.out.rfind("# tierbench report: run " + std::to_string(fx_->base_run) + "\n", 0), 0u);
  const auto js =
      run_tierbench(db() + "report --compare " + std::to_string(fx_->base_run) + " latest --json");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  const auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["schema"], "tierbench.report/1");
  EXPECT_EQ(j["run"]["id"], fx_->current_run);
  EXPECT_EQ(j["comparison"]["base_run_id"], fx_->base_run);
  // The format follows -o's extension when --format is not given.
  test::TempDir out;
  const auto file = out.path() / "r.json";
  ASSERT_EQ(run_tierbench(db() + "report -o " + file.string()).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(slurp(file))["schema"], "tierbench.report/1");
}

TEST_F(ReportCli, BadInputExitsTwoWithOneLine) {
  struct Case {
    std::string args, says;
  };
  for (const Case& c : std::vector<Case>{
           {"report --run 999", "--run: unknown run id 999"},
           {"report --run abc", "--run: 'abc' is not a run id"},
           {"report --compare 1", "--compare"},
           {"report --compare 1 777", "--compare CURRENT: unknown run id 777"},
           {"report --compare x 1", "--compare BASE: 'x' is not a run id"},
           {"report --run 1 --compare 1 2", "--run and --compare exclude each other"},
           {"report --format pdf", "--format"},
           {"report --colour", "--colour"},
           {"report -o /nonexistent-dir/r.html", "-o: cannot write /nonexistent-dir/r.html"}}) {
    const auto r = run_tierbench(db() + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
  }
  test::TempDir empty;
  const auto r = run_tierbench("--db " + (empty.path() / "e.db").string() + " report");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the store has no runs"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tb

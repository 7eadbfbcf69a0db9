// Fault injection (TB_TEST_FAULT, harness/runner.h): in isolation mode a backend that runs out
// of memory or computes wrong results is recorded with its reason, and every other backend's
// results are complete; a crash inside an item costs that item only. (Crash and hang after a
// result: test_cli.)
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "kernels.h"

namespace tb {
namespace {

// status counts per backend of an isolated run of two small GEMMs under `fault`.
struct Outcome {
  int exit_code = -1;
  std::map<std::string, std::map<std::string, int>> statuses;
  std::vector<std::string> onednn_messages;
};

Outcome run_with_fault(const std::string& fault, const std::string& sizes = "--size 8 --size 9") {
  test::TempDir dir;
  const auto r = test::run_tierbench("--db " + (dir.path() / "r.db").string() +
                                         " --json run --backend reference,onednn " + sizes +
                                         " --max-time 0.05",
                                     "TB_TEST_FAULT=" + fault);
  Outcome o;
  o.exit_code = r.exit_code;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << fault << ": no JSON out: " << r.err;
    return o;
  }
  for (const auto& res : j["results"]) {
    const auto backend = res["backend"].get<std::string>();
    ++o.statuses[backend][res["status"].get<std::string>()];
    if (backend == "onednn") o.onednn_messages.push_back(res["message"].get<std::string>());
  }
  return o;
}

TEST(Faults, BackendExceedingMemoryIsRecordedAndOthersFinish) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";

  const auto o = run_with_fault("oom:onednn");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.statuses.at("reference").at("passed"), 2);
  EXPECT_EQ(o.statuses.at("onednn").at("passed"), 1) << "committed before the fault: kept";
  ASSERT_EQ(o.statuses.at("onednn").at("error"), 1);
  // bad_alloc ends the child (exit 1) in a release build; under ASan its allocator aborts it.
  const auto& m = o.onednn_messages.back();
  EXPECT_TRUE(m.find("exited with code") != std::string::npos ||
              m.find("signal") != std::string::npos)
      << m;
}

// A crash inside an item blames that item alone: a new child runs the items after it.
TEST(Faults, CrashInsideAnItemIsRecordedAndTheRestStillRun) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";

  const auto o = run_with_fault("crash-second:onednn", "--size 8 --size 9 --size 10");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.statuses.at("reference").at("passed"), 3);
  EXPECT_EQ(o.statuses.at("onednn").at("passed"), 2) << "the first, and the one after the crash";
  ASSERT_EQ(o.statuses.at("onednn").at("error"), 1);
  int blamed = 0;
  for (const auto& m : o.onednn_messages) blamed += m.find("signal 11") != std::string::npos;
  EXPECT_EQ(blamed, 1);
}

TEST(Faults, BackendComputingWrongResultsFailsValidation) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";

  const auto o = run_with_fault("wrong:onednn");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.statuses.at("reference").at("passed"), 2);
  ASSERT_EQ(o.statuses.at("onednn").at("failed"), 2) << "never timed, never passed";
  for (const auto& m : o.onednn_messages) EXPECT_FALSE(m.empty()) << "says what differs";
}

}  // namespace
}  // namespace tb

// The CLI as a user meets it: exit codes, messages, discovery, the store it writes, isolation of
// crashing and hanging backends, and durability of an interrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "kernels.h"
#include "store.h"

extern char** environ;

namespace tb {
namespace {

using test::run_tierbench;

TEST(Cli, VersionAndHelp) {
  auto r = run_tierbench("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("tierbench"), std::string::npos);
  EXPECT_NE(r.out.find("commit"), std::string::npos);
  r = run_tierbench("run --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--backend"), std::string::npos);
}

TEST(Cli, UsageErrorsExitTwoWithOneLineNamingTheArgument) {
  struct Case {
    const char* args;
    const char* expect;
  } cases[] = {
      {"frobnicate", "frobnicate"},
      {"", "command is required"},
      {"run --size -3", "--size"},
      {"run --size abc", "--size"},
      {"run --backend nosuch", "nosuch"},
      {"run --problem gemm:m0n1k1:f32", "--problem"},
      {"run --problem conv2x:m1:f32", "unknown op"},
      {"run --bogus-flag", "--bogus-flag"},
      {"run --min-reps 10 --max-reps 2", "--max-reps"},
  };
  for (const auto& c : cases) {
    const auto r = run_tierbench(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << " -> " << r.err;
    EXPECT_NE(r.err.find("tierbench: error:"), std::string::npos) << c.args;
  }
  const auto r = run_tierbench("run --backend nosuch");
  EXPECT_NE(r.err.find("reference"), std::string::npos) << "lists the valid backends";
}

TEST(Cli, UnusableStoreIsAnInputError) {
  test::TempDir dir;
  const auto bad = (dir.path() / "bad.db").string();
  std::system(("echo 'not a database at all, definitely not sqlite....' > " + bad).c_str());
  auto r = run_tierbench("--db " + bad + " run --backend reference --size 8");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.db"), std::string::npos) << r.err;
}

TEST(Cli, ListJsonShowsAllFourBackendsAvailable) {
  // CI has lavapipe (Vulkan) and PoCL (OpenCL), so every backend must be found there.
  const auto r = run_tierbench("list --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  std::map<std::string, bool> avail;
  for (const auto& b : j["backends"]) {
    avail[b["name"]] = b["available"];
    if (b["available"]) {
      EXPECT_FALSE(b["devices"].empty()) << b["name"];
    } else {
      EXPECT_FALSE(b["reason"].get<std::string>().empty()) << b["name"];
    }
  }
  // Every backend this build has (TB_BACKEND_<NAME>=OFF leaves one out).
  for (const char* name : {"reference", "onednn", "opencl", "vulkan"}) {
    if (find_backend_traits(name)) {
      EXPECT_TRUE(avail[name]) << name << " should be available here:\n" << r.out;
    }
  }
}

TEST(Cli, MissingDriversAreUnavailableNotFatal) {
  // No Vulkan ICD and no OpenCL vendors: those backends say why, the command still succeeds.
  test::TempDir dir;
  const auto r =
      run_tierbench("list --json", "VK_ICD_FILENAMES=" + (dir.path() / "none.json").string() +
                                       " VK_DRIVER_FILES=" + (dir.path() / "none.json").string() +
                                       " OCL_ICD_VENDORS=" + dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const auto& b : j["backends"]) {
    if (b["name"] == "opencl" || b["name"] == "vulkan") {
      EXPECT_FALSE(b["available"].get<bool>()) << b.dump();
      EXPECT_FALSE(b["reason"].get<std::string>().empty());
    }
  }
}

TEST(Cli, RunStoresValidatedResultsOnEveryBackend) {
  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  const auto r = run_tierbench("--db " + db +
                               " run --json --size 17 --problem gemm:m33n9k65:f32 --max-time 0.2");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto j = nlohmann::json::parse(r.out);
  std::set<std::string> passed;
  for (const auto& res : j["results"]) {
    EXPECT_EQ(res["status"], "passed") << res.dump();
    EXPECT_GT(res["median_s"].get<double>(), 0);
    EXPECT_GE(res["n"].get<int>(), 5);
    passed.insert(res["backend"]);
  }
  EXPECT_EQ(passed.size(), built_backends().size());
  auto s = Store::open(db);
  ASSERT_TRUE(s.ok());
  auto results = (*s)->results(j["run_id"].get<std::int64_t>(), true);
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->size(), j["results"].size());
  for (const auto& res : *results) EXPECT_EQ(static_cast<std::int64_t>(res.samples.size()), res.n);
  EXPECT_EQ((*s)->run(j["run_id"].get<std::int64_t>())->status, "ok");
}

// The switches set when the run starts are stored with it (harness/switches.h): a known one, an
// unknown TB_* one and a library variable; an unrelated variable is not.
TEST(Cli, RunRecordsTheSwitchesItRanWith) {
  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  const auto r = run_tierbench("--db " + db +
                                   " run --json --backend reference --size 8"
                                   " --max-time 0.05",
                               "TB_ONEDNN_LAYOUT=nhwc TB_NOT_A_SWITCH=7 OMP_WAIT_POLICY=passive "
                               "TIERBENCH_UNRELATED=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = Store::open(db);
  ASSERT_TRUE(s.ok());
  const auto run = (*s)->run(nlohmann::json::parse(r.out)["run_id"].get<std::int64_t>());
  ASSERT_TRUE(run.ok());
  const auto& sw = run->env["switches"];
  EXPECT_EQ(sw["TB_ONEDNN_LAYOUT"], "nhwc") << sw.dump();
  EXPECT_EQ(sw["TB_NOT_A_SWITCH"], "7") << sw.dump();
  EXPECT_EQ(sw["OMP_WAIT_POLICY"], "passive") << sw.dump();
  EXPECT_FALSE(sw.contains("TIERBENCH_UNRELATED")) << sw.dump();
}

TEST(Cli, CrashingBackendIsRecordedAndOthersFinish) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";

  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  const auto r = run_tierbench("--db " + db +
                                   " run --json --backend reference --backend onednn --size 8"
                                   " --size 9 --max-time 0.05",
                               "TB_TEST_FAULT=crash:onednn");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  int ref_passed = 0, onednn_passed = 0, onednn_crashed = 0;
  for (const auto& res : j["results"]) {
    if (res["backend"] == "reference" && res["status"] == "passed") ++ref_passed;
    if (res["backend"] == "onednn" && res["status"] == "passed") ++onednn_passed;
    if (res["backend"] == "onednn" && res["status"] == "error" &&
        res["message"].get<std::string>().find("signal") != std::string::npos)
      ++onednn_crashed;
  }
  EXPECT_EQ(ref_passed, 2);
  EXPECT_EQ(onednn_passed, 1) << "the result committed before the crash is kept";
  EXPECT_EQ(onednn_crashed, 1);
}

TEST(Cli, HangingBackendTimesOut) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";

  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_tierbench("--db " + db +
                                   " run --json --backend onednn --size 8 --size 9 --timeout 3"
                                   " --max-time 0.05",
                               "TB_TEST_FAULT=hang:onednn");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["status"], "passed");
  EXPECT_EQ(j["results"][1]["status"], "error");
  EXPECT_NE(j["results"][1]["message"].get<std::string>().find("timed out"), std::string::npos);
}

TEST(Cli, KilledRunKeepsCommittedResults) {
  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  // Small problems first, then one that takes far longer than we wait.
  std::vector<std::string> args = {test::tierbench_path(),
                                   "--db",
                                   db,
                                   "run",
                                   "--no-isolate",
                                   "--backend",
                                   "reference",
                                   "--size",
                                   "8",
                                   "--size",
                                   "16",
                                   "--size",
                                   "3000",
                                   "--max-time",
                                   "0.05"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  // Wait until two results are committed, then kill -9 mid-run.
  std::size_t committed = 0;
  for (int i = 0; i < 600 && committed < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (auto s = Store::open(db); s.ok())
      if (auto id = (*s)->latest_run_id(); id.ok())
        if (auto res = (*s)->results(id.value()); res.ok()) committed = res->size();
  }
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_GE(committed, 2u);
  auto s = Store::open(db);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto id = (*s)->latest_run_id();
  ASSERT_TRUE(id.ok());
  EXPECT_EQ((*s)->run(id.value())->status, "running") << "never finished";
  auto res = (*s)->results(id.value(), true);
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->size(), 2u);
  for (const auto& r : *res) {
    EXPECT_EQ(r.status, Status::passed);
    EXPECT_EQ(static_cast<std::int64_t>(r.samples.size()), r.n);
  }
}

TEST(Cli, ProbeIsStoredAndBadSectionsAreUsageErrors) {
  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  auto r =
      run_tierbench("--db " + db + " --json probe --quick --sections storage --storage-size 4" +
                    " --storage-dir " + dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.contains("cpu"));
  EXPECT_TRUE(j.contains("storage"));
  auto s = Store::open(db);
  ASSERT_TRUE(s.ok());
  auto res = (*s)->results((*s)->latest_run_id().value());
  ASSERT_EQ(res->size(), 1u);
  EXPECT_EQ(res->front().kind, "probe");
  EXPECT_TRUE(res->front().metrics.contains("cpu"));
  r = run_tierbench("--db " + db + " probe --sections bogus");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--sections"), std::string::npos) << r.err;
}

TEST(Cli, WorkloadRunsValidatedAndUnknownNamesAreListed) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";

  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  auto r = run_tierbench("--db " + db +
                             " --json run --backend onednn --workload person-detect:b1:f32 "
                             "--max-time 0.3 --profile-layers",
                         "XDG_CACHE_HOME=" + dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 1u);
  const auto& w = j["results"][0];
  EXPECT_EQ(w["kind"], "workload");
  EXPECT_EQ(w["status"], "passed") << w.dump();
  EXPECT_GT(w["median_s"].get<double>(), 0);
  EXPECT_TRUE(w["metrics"]["load"].contains("read_cold_s"));
  // --profile-layers: every layer of the tier's one resident graph (52 convolutions, the pool
  // and the classifier) timed, adding up to no more than an inference.
  const auto& lp = w["metrics"]["layers"];
  ASSERT_TRUE(lp.is_object()) << w["metrics"].dump();
  EXPECT_GE(lp["runs"].get<int>(), 3);
  EXPECT_TRUE(lp["all_timed"].get<bool>());
  ASSERT_EQ(lp["rows"].size(), 54u) << lp.dump();
  for (const auto& row : lp["rows"]) {
    EXPECT_GT(row[2].get<double>(), 0) << row.dump();  // median
    EXPECT_GT(row[3].get<double>(), 0) << row.dump();  // mean
  }
  EXPECT_LE(lp["layers_sum_s"].get<double>(), lp["latency_median_s"].get<double>() * 1.05);
  // The means add up: every layer is inside an inference, so their sum stays under its mean.
  EXPECT_LE(lp["layers_mean_sum_s"].get<double>(), lp["latency_mean_s"].get<double>());
  // The device backends run the whole tier too (layers mixing upload_input and full uploads).
  std::string device_backends;  // those this build has (TB_BACKEND_<NAME>)
  for (const char* b : {"opencl", "vulkan"})
    if (find_backend_traits(b)) device_backends += std::string(" --backend ") + b;
  if (!device_backends.empty()) {
    r = run_tierbench("--db " + db + " --json run" + device_backends +
                          " --workload person-detect:b1:f32 --max-time 0.3 --profile-layers",
                      "XDG_CACHE_HOME=" + dir.path().string());
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    // Held in a variable: a range-for over a member of the temporary that parse returns reads
    // freed memory (the temporary dies before the loop; ASan found it).
    auto out = nlohmann::json::parse(r.out);
    for (const auto& res : out["results"]) {
      EXPECT_EQ(res["status"], "passed") << res.dump();
      // The isolated child got the flag; the device timed every layer (events, timestamps).
      EXPECT_EQ(res["metrics"]["layers"]["rows"].size(), 54u) << res.dump();
    }
  }
  r = run_tierbench("--db " + db + " run --workload resnet51");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("resnet50"), std::string::npos) << "lists the valid tiers: " << r.err;
  r = run_tierbench("--db " + db + " run --workload mobilenetv2 --dtype f64");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace tb

// `tierbench tune` and the tuning table: winners round-trip through the store (and migrate from
// the v1 kv entries), `run` runs a stored winner and says so, `tune` reuses what is stored, bad
// flags exit 2, `--list` prints what is stored, and the budget holds against a candidate that
// hangs or crashes.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <map>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "kernels.h"
#include "store.h"
#include "store_tune.h"

namespace tb {
namespace {

using test::run_tierbench;

TuneWinner winner(const std::string& shape, const std::string& config) {
  TuneWinner w;
  w.key = {"vulkan", "dev A", "driver 1", "gemm@abc", shape};
  w.config = config;
  w.gflops = 48.5;
  w.default_config = "reg:tm16tn16:8x1";
  w.default_gflops = 17.25;
  w.problem = "gemm:m1024n1024k1024:f32";
  w.tune_s = 12.5;
  return w;
}

TEST(TuneStore, WinnersRoundTripThroughTheStore) {
  test::TempDir dir;
  const auto path = (dir.path() / "r.db").string();
  {
    auto s = Store::open(path);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ((*s)->schema_version(), 2);
    ASSERT_TRUE((*s)->put_tuning(winner("m1024n1024k1024:f32", "wide:tm32tn32:8x1")).ok());
    ASSERT_TRUE((*s)->put_tuning(winner("m256n256k256:f32", "reg:tm8tn8:8x1")).ok());
    // The same key again replaces.
    ASSERT_TRUE((*s)->put_tuning(winner("m1024n1024k1024:f32", "wide:tm16tn32:8x1")).ok());
  }
  auto ts = StoreTuneStore::open(path);  // a fresh connection: what a later process sees
  ASSERT_NE(ts, nullptr);
  auto w = ts->get(winner("m1024n1024k1024:f32", "").key);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->config, "wide:tm16tn32:8x1");
  EXPECT_DOUBLE_EQ(w->gflops, 48.5);
  EXPECT_EQ(w->default_config, "reg:tm16tn16:8x1");
  EXPECT_DOUBLE_EQ(w->default_gflops, 17.25);
  EXPECT_EQ(w->problem, "gemm:m1024n1024k1024:f32");
  EXPECT_DOUBLE_EQ(w->tune_s, 12.5);
  EXPECT_FALSE(w->tuned_at.empty());
  auto other = winner("m1024n1024k1024:f32", "").key;
  other.driver = "driver 2";  // a new driver is tuned afresh
  EXPECT_FALSE(ts->get(other).has_value());
  auto all = ts->list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key.shape_class, "m1024n1024k1024:f32");
  EXPECT_EQ((*all)[1].config, "reg:tm8tn8:8x1");
}

// A v1 store kept the OpenCL winner in kv ("opencl-gemm-f32|device|driver|source hash"); the
// migration to v2 moves it into the tuning table, for every shape.
TEST(TuneStore, MigratesVersion1Winners) {
  test::TempDir dir;
  const auto path = (dir.path() / "r.db").string();
  ASSERT_TRUE(Store::open(path).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* to_v1 =
      "DROP TABLE tuning; UPDATE schema_version SET version=1;"
      "INSERT INTO kv VALUES ('tune', 'opencl-gemm-f32|pthread-cpu|3.1+debian|00ff00ff00ff00ff',"
      " 'packed:mr6nv2kc512rb1o1', '2026-01-02T03:04:05.000Z');"
      "INSERT INTO kv VALUES ('baseline', 'main', '{}', '2026-01-02T03:04:05.000Z');";
  ASSERT_EQ(sqlite3_exec(db, to_v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::open(path);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), 2);
  auto w = (*s)->get_tuning(
      {"opencl", "pthread-cpu", "3.1+debian", "gemm-packed@00ff00ff00ff00ff", "*"});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->has_value());
  EXPECT_EQ((*w)->config, "packed:mr6nv2kc512rb1o1");
  EXPECT_EQ((*w)->tuned_at, "2026-01-02T03:04:05.000Z");
  EXPECT_TRUE((*s)->list("tune")->empty());
  EXPECT_EQ((*s)->list("baseline")->size(), 1u);  // other kv state stays
}

TEST(TuneCli, BadFlagsExitTwoNamingTheArgument) {
  struct Case {
    const char* args;
    const char* expect;
  } cases[] = {
      {"tune --budget -5", "--budget"},
      {"tune --budget abc", "--budget"},
      {"tune --backend nosuch", "nosuch"},
      {"tune --suite nosuch", "--suite"},
      {"tune --problem gemm:m0n1k1:f32", "--problem"},
      {"tune --workload nosuch", "--workload"},
      {"tune --list --problem gemm:m8n8k8:f32", "--problem"},
  };
  test::TempDir dir;
  const std::string db = "--db " + (dir.path() / "r.db").string() + " ";
  for (const auto& c : cases) {
    const auto r = run_tierbench(db + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << " -> " << r.err;
    EXPECT_NE(r.err.find("tierbench: error:"), std::string::npos) << c.args;
  }
}

TEST(TuneCli, ListShowsStoredWinners) {
  test::TempDir dir;
  const auto path = (dir.path() / "r.db").string();
  auto r = run_tierbench("--db " + path + " tune --list");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no tuned winners"), std::string::npos) << r.out;
  {
    auto s = Store::open(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->put_tuning(winner("m1024n1024k1024:f32", "wide:tm32tn32:8x1")).ok());
    auto o = winner("*", "packed:mr6nv2kc512rb1o1");
    o.key.backend = "opencl";
    ASSERT_TRUE((*s)->put_tuning(o).ok());
  }
  r = run_tierbench("--db " + path + " tune --list");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* want :
       {"vulkan | dev A | driver 1 | gemm@abc", "m1024n1024k1024:f32", "wide:tm32tn32:8x1", "48.5",
        "reg:tm16tn16:8x1", "17.2", "packed:mr6nv2kc512rb1o1", "shape class"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " in\n" << r.out;
  // The filter and the default configuration need the backend (TB_BACKEND_VULKAN).
  if (!find_backend_traits("vulkan")) GTEST_SKIP() << "vulkan: not built";
  r = run_tierbench("--db " + path + " tune --list --backend vulkan --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["config"], "wide:tm32tn32:8x1");
  EXPECT_EQ(j[0]["shape_class"], "m1024n1024k1024:f32");
  EXPECT_EQ(j[0]["default_config"], "reg:tm16tn16:8x1");
}

Backend* available(const std::string& name, std::vector<std::unique_ptr<Backend>>& keep) {
  for (auto& b : make_backends())
    if (b->name() == name && b->availability().available) {
      keep.push_back(std::move(b));
      return keep.back().get();
    }
  return nullptr;
}

// `run` runs the stored winner of the problem's shape class, validated like any kernel, and says
// so in the stored result and in the table; without one it runs the default and says that.
TEST(TuneCli, RunPicksTheStoredWinnerAndReportsIt) {
  struct Case {
    const char* backend;
    const char* problem;
    const char* config;
  } cases[] = {{"vulkan", "gemm:m40n72k24:f32+bias", "reg:tm4tn8:8x1"},
               {"opencl", "gemm:m40n72k24:f32+bias", "packed:mr6nv2kc512rb1o1"}};
  std::vector<std::unique_ptr<Backend>> keep;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.backend);
    Backend* b = available(c.backend, keep);
    if (!b) continue;
    const auto p = Problem::parse(c.problem).value();
    const auto key = b->tune_key(p, 0);
    if (!key) continue;  // e.g. an OpenCL GPU: its kernel is not tunable
    test::TempDir dir;
    const auto path = (dir.path() / "r.db").string();
    const std::string run = "--db " + path + " run --backend " + c.backend + " --problem " +
                            c.problem + " --min-reps 3 --max-reps 3 --max-time 0.2 --no-counters";
    // The stored result of the latest run: passed, with the configuration that ran.
    const auto latest_config = [&] {
      auto s = Store::open(path);
      auto rs = (*s)->results((*s)->latest_run_id().value());
      EXPECT_EQ(rs->at(0).status, Status::passed);
      return rs->at(0).metrics.value("config", nlohmann::json::object());
    };
    auto r = run_tierbench(run);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(" (default)"), std::string::npos) << r.out;
    auto cfg = latest_config();
    EXPECT_EQ(cfg["source"], "default") << cfg.dump();
    EXPECT_NE(cfg["name"], c.config);
    {
      auto s = Store::open(path);
      ASSERT_TRUE(s.ok());
      TuneWinner w;
      w.key = *key;
      w.config = c.config;
      ASSERT_TRUE((*s)->put_tuning(w).ok());
    }
    r = run_tierbench(run);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(std::string("config ") + c.config + " (tuned)"), std::string::npos)
        << r.out;
    cfg = latest_config();
    EXPECT_EQ(cfg["name"], c.config) << cfg.dump();
    EXPECT_EQ(cfg["source"], "tuned");
  }
}

// A tune stores a validated winner per shape class; the second tune reuses it (0 s tuning).
TEST(TuneCli, SecondTuneReusesTheWinner) {
  std::vector<std::unique_ptr<Backend>> keep;
  if (!available("vulkan", keep)) GTEST_SKIP() << "no Vulkan device";
  test::TempDir dir;
  // A tiny budget: the default candidate only (the first always runs), validated and timed.
  const std::string tune = "--db " + (dir.path() / "r.db").string() +
                           " tune --backend vulkan --problem gemm:m24n40k8:f32 "
                           "--problem gemm:m20n33k7:f32 --budget 0.01 --json";
  auto r = run_tierbench(tune);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tuned"].size(), 1u) << "both problems are one shape class: " << r.out;
  EXPECT_EQ(j["reused"].size(), 0u);
  EXPECT_EQ(j["tuned"][0]["shape_class"], "m32n64k8:f32");
  EXPECT_GT(j["tuned"][0]["gflops"].get<double>(), 0);
  const auto config = j["tuned"][0]["config"];
  r = run_tierbench(tune);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tuned"].size(), 0u);
  ASSERT_EQ(j["reused"].size(), 1u);
  EXPECT_EQ(j["reused"][0]["config"], config);
}

// The budget holds against a candidate that never ends: the backend's tuner child is stopped
// when its share has run out, and the class keeps the best candidate it had validated and timed
// (the default, the first to run), said to be cut short; a crash keeps it too and fails the job.
TEST(TuneCli, ACandidateInFlightIsStoppedAtTheBudgetAndTheBestSoFarKept) {
  std::vector<std::unique_ptr<Backend>> keep;
  if (!available("vulkan", keep)) GTEST_SKIP() << "no Vulkan device";
  struct Case {
    const char* fault;
    int exit_code;
    const char* cut;
  } cases[] = {{"hang:tune-vulkan", 0, "the budget ended while candidate "},
               {"crash:tune-vulkan", 1, "signal 11"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fault);
    test::TempDir dir;
    const std::string db = "--db " + (dir.path() / "r.db").string();
    constexpr double kBudget = 10;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = run_tierbench(db + " tune --backend vulkan --problem gemm:m24n40k8:f32 --budget " +
                               std::to_string(kBudget) + " --json",
                           std::string("TB_TEST_FAULT=") + c.fault);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(r.exit_code, c.exit_code) << r.err << r.out;
    // The hang is stopped half a second after the share (plus the child's device opening).
    EXPECT_LT(took, kBudget + 20) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["tuned"].size(), 1u) << r.out;
    const auto& t = j["tuned"][0];
    EXPECT_NE(t.value("cut_short", "").find(c.cut), std::string::npos) << t.dump();
    EXPECT_EQ(t["config"], t["default_config"]) << "the first candidate is the default";
    EXPECT_GT(t["gflops"].get<double>(), 0);
    // Kept in the store like any winner: a later tune reuses it.
    r = run_tierbench(db + " tune --list --backend vulkan --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto l = nlohmann::json::parse(r.out);
    ASSERT_EQ(l.size(), 1u) << r.out;
    EXPECT_EQ(l[0]["config"], t["config"]);
  }
}

// Every class ends the first tune with a stored winner, so that the second tune of the same
// selection tunes nothing: the defaults are measured first, and a class the budget did not leave
// time for keeps its default, said so. Here the first class's second candidate hangs until the
// budget ends (cut short, best kept); the second class never gets past its default.
TEST(TuneCli, EveryClassKeepsAWinnerAndTheSecondTuneReusesThemAll) {
  std::vector<std::unique_ptr<Backend>> keep;
  if (!available("vulkan", keep)) GTEST_SKIP() << "no Vulkan device";
  test::TempDir dir;
  const std::string tune = "--db " + (dir.path() / "r.db").string() +
                           " tune --backend vulkan --problem gemm:m24n40k8:f32 "
                           "--problem gemm:m100n200k50:f32 --budget 10 --json";
  auto r = run_tierbench(tune, "TB_TEST_FAULT=hang:tune-vulkan");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["not_tuned"].size(), 0u) << r.out;
  ASSERT_EQ(j["tuned"].size(), 2u) << r.out;
  std::map<std::string, nlohmann::json> by;
  for (const auto& t : j["tuned"]) by[t["shape_class"].get<std::string>()] = t;
  ASSERT_EQ(by.count("m32n64k8:f32"), 1u) << r.out;
  ASSERT_EQ(by.count("m128n256k64:f32"), 1u) << r.out;
  EXPECT_NE(by["m32n64k8:f32"].value("cut_short", "").find("the budget ended while candidate "),
            std::string::npos)
      << by["m32n64k8:f32"].dump();
  const auto& kept = by["m128n256k64:f32"];
  EXPECT_EQ(kept.value("default_kept", ""), "the budget ended before its other candidates")
      << kept.dump();
  EXPECT_EQ(kept["config"], kept["default_config"]);
  EXPECT_GT(kept["gflops"].get<double>(), 0) << "validated and timed";

  r = run_tierbench(tune);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tuned"].size(), 0u) << r.out;
  EXPECT_EQ(j["not_tuned"].size(), 0u) << r.out;
  EXPECT_EQ(j["reused"].size(), 2u) << r.out;
}

}  // namespace
}  // namespace tb

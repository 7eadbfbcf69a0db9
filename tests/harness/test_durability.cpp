// Durability of the store: runs killed with SIGKILL at many seeded random points (mid-sample,
// mid-transaction) leave an intact database holding every result committed before the kill;
// several processes writing one store at once lose nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "cli_helpers.h"
#include "store.h"

extern char** environ;

namespace tb {
namespace {

// A run of many tiny reference GEMMs in this process (no isolation), committing a result every
// few milliseconds: a kill lands between, inside or just after transactions.
pid_t spawn_run(const std::string& db, int sizes) {
  std::vector<std::string> args = {test::tierbench_path(),
                                   "--db",
                                   db,
                                   "run",
                                   "--no-isolate",
                                   "--backend",
                                   "reference",
                                   "--max-time",
                                   "0.002",
                                   "--warmup",
                                   "0",
                                   "--min-reps",
                                   "2",
                                   "--no-counters"};
  for (int i = 0; i < sizes; ++i) args.insert(args.end(), {"--size", std::to_string(4 + i)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

std::string integrity(const std::string& db) {
  sqlite3* h = nullptr;
  std::string out = "cannot open";
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    out = "no answer";
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

// The latest run and the result ids committed to it so far (read by another connection).
struct Committed {
  std::int64_t run_id = 0;
  std::vector<std::int64_t> ids;
};

Committed committed(const std::string& db) {
  Committed c;
  if (auto s = Store::open(db); s.ok())
    if (auto id = (*s)->latest_run_id(); id.ok())
      if (auto res = (*s)->results(id.value()); res.ok()) {
        c.run_id = id.value();
        for (const auto& r : *res) c.ids.push_back(r.id);
      }
  return c;
}

TEST(Durability, RunsKilledAtRandomPointsKeepEveryCommittedResult) {
  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  std::mt19937 rng(20);
  // The kills spread from 20 ms to 600 ms past the first commit of a run timed here, so that a
  // slower build still gets kills before, during and after the results (under ASan, 20-600 ms
  // after the start landed before the first commit every time: 0 of 12 mid-run).
  int first_ms = 0;
  {
    const pid_t pid = spawn_run(db, 40);
    ASSERT_GT(pid, 0);
    const auto t0 = std::chrono::steady_clock::now();
    while (committed(db).ids.empty() && first_ms < 60000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      first_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - t0)
                                      .count());
    }
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
  }
  std::uniform_int_distribution<int> delay_ms(20, first_ms + 600);
  int mid_run = 0;  // kills that landed after some results were committed
  for (int kill_no = 0; kill_no < 12; ++kill_no) {
    const pid_t pid = spawn_run(db, 40);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    const auto before = committed(db);  // everything here was committed before the kill
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_EQ(integrity(db), "ok") << "kill " << kill_no;
    auto s = Store::open(db);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto res = (*s)->results(before.run_id, true);
    ASSERT_TRUE(res.ok());
    std::vector<std::int64_t> after;
    for (const auto& r : *res) {
      after.push_back(r.id);
      EXPECT_EQ(static_cast<std::int64_t>(r.samples.size()), r.n) << "a result is whole or absent";
    }
    for (const auto id : before.ids)
      EXPECT_NE(std::find(after.begin(), after.end(), id), after.end())
          << "kill " << kill_no << ": result " << id << " was committed, then lost";
    mid_run += !before.ids.empty();
  }
  EXPECT_GE(mid_run, 3) << "too few kills landed mid-run to prove anything";
}

TEST(Durability, ConcurrentWritersLoseNothing) {
  test::TempDir dir;
  const auto db = (dir.path() / "r.db").string();
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) pids.push_back(spawn_run(db, 12));
  for (const pid_t pid : pids) {
    ASSERT_GT(pid, 0);
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "writer " << pid << " status " << st;
  }
  ASSERT_EQ(integrity(db), "ok");
  auto s = Store::open(db);
  ASSERT_TRUE(s.ok());
  auto runs = (*s)->runs(10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 3u);
  for (const auto& r : *runs) {
    EXPECT_EQ(r.status, "ok");
    EXPECT_EQ((*s)->results(r.id)->size(), 12u) << "run " << r.id;
  }
}

}  // namespace
}  // namespace tb

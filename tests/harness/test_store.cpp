#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "cli_helpers.h"
#include "store.h"

namespace tb {
namespace {

// The status is an enum in the record and the same text as ever in the file; a text no
// tierbench writes reads back as an error saying so, never as a pass.
TEST(Store, StatusIsStoredAsItsNameAndUnknownNamesReadAsErrors) {
  test::TempDir dir;
  const auto path = (dir.path() / "s.db").string();
  auto s = Store::open(path);
  ASSERT_TRUE(s.ok());
  auto run = (*s)->begin_run("t", "abc", {});
  ASSERT_TRUE(run.ok());
  ResultRecord r;
  r.run_id = run.value();
  r.name = "gemm:m8n8k8:f32";
  r.status = Status::mistrusted;
  ASSERT_TRUE((*s)->add_result(r).ok());
  r.status = Status::passed;
  ASSERT_TRUE((*s)->add_result(r).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT status FROM results ORDER BY id", -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "mistrusted");
  sqlite3_finalize(q);
  ASSERT_EQ(
      sqlite3_exec(db, "UPDATE results SET status='bogus' WHERE id=2", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto back = (*s)->results(run.value());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].status, Status::mistrusted);
  EXPECT_EQ((*back)[1].status, Status::error);
  EXPECT_NE((*back)[1].message.find("unknown status 'bogus'"), std::string::npos);
  EXPECT_EQ(nlohmann::json(Status::skipped), "skipped");
}

TEST(Store, MigratesAnEmptyFileAndRoundTrips) {
  test::TempDir dir;
  const auto path = (dir.path() / "sub" / "results.db").string();
  std::int64_t result_id = 0;
  {
    auto s = Store::open(path);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ((*s)->schema_version(), Store::kSchemaVersion);
    auto run = (*s)->begin_run("tierbench run", "abc123", {{"cpu", "test"}});
    ASSERT_TRUE(run.ok());
    ResultRecord r;
    r.run_id = run.value();
    r.name = "gemm:m2n2k2:f32";
    r.backend = "reference";
    r.status = Status::passed;
    r.median_s = 1.5e-3;
    r.gflops = 12.0;
    r.samples = {1.4e-3, 1.5e-3, 1.6e-3};
    r.metrics = {{"load", {{"prepare_s", 0.25}}}};
    auto id = (*s)->add_result(r);
    ASSERT_TRUE(id.ok()) << id.error().message;
    result_id = id.value();
    ASSERT_TRUE((*s)->finish_run(run.value(), "ok").ok());
    ASSERT_TRUE((*s)->put("tuner", "dev1", "{\"tile\":8}").ok());
    ASSERT_TRUE((*s)->put("tuner", "dev1", "{\"tile\":16}").ok());
  }
  auto s = Store::open(path);  // reopen: no migration needed, data intact
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto latest = (*s)->latest_run_id();
  ASSERT_TRUE(latest.ok());
  auto run = (*s)->run(latest.value());
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status, "ok");
  EXPECT_EQ(run->git_commit, "abc123");
  EXPECT_EQ(run->env["cpu"], "test");
  EXPECT_FALSE(run->finished_at.empty());
  auto results = (*s)->results(latest.value(), /*with_samples=*/true);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 1u);
  const auto& r = results->front();
  EXPECT_EQ(r.id, result_id);
  EXPECT_EQ(r.name, "gemm:m2n2k2:f32");
  EXPECT_DOUBLE_EQ(*r.median_s, 1.5e-3);
  EXPECT_FALSE(r.p10_s.has_value());
  EXPECT_EQ(r.samples, (std::vector<double>{1.4e-3, 1.5e-3, 1.6e-3}));
  EXPECT_DOUBLE_EQ(r.metrics["load"]["prepare_s"].get<double>(), 0.25);
  auto v = (*s)->get("tuner", "dev1");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), std::optional<std::string>("{\"tile\":16}"));
  EXPECT_FALSE((*s)->get("tuner", "nope")->has_value());
  EXPECT_FALSE((*s)->run(999).ok());
}

TEST(Store, RefusesForeignAndCorruptFiles) {
  test::TempDir dir;
  const auto garbage = (dir.path() / "garbage.db").string();
  std::ofstream(garbage) << "this is not a database, just some text that is long enough........";
  EXPECT_FALSE(Store::open(garbage).ok());

  const auto foreign = (dir.path() / "foreign.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::open(foreign);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not a tierbench results store"), std::string::npos);
}

TEST(Store, RefusesANewerSchema) {
  test::TempDir dir;
  const auto path = (dir.path() / "r.db").string();
  ASSERT_TRUE(Store::open(path).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version=999", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::open(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("newer"), std::string::npos);
}

TEST(Store, DefaultPathFollowsXdg) {
  setenv("XDG_DATA_HOME", "/tmp/xdg-test", 1);
  EXPECT_EQ(Store::default_path(), "/tmp/xdg-test/tierbench/results.db");
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(Store::default_path(), "/home/someone/.local/share/tierbench/results.db");
}

}  // namespace
}  // namespace tb

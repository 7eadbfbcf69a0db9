#include "store.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <thread>

namespace tb {

namespace {

// Schema migrations: entry i takes the store from version i to i+1. Never edit a shipped entry;
// append a new one and bump Store::kSchemaVersion.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  command TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'running',
  git_commit TEXT,
  env_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE results (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  backend TEXT NOT NULL DEFAULT '',
  device TEXT NOT NULL DEFAULT '',
  dtype TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  prepare_s REAL, first_s REAL,
  n INTEGER NOT NULL DEFAULT 0,
  median_s REAL, mean_s REAL, min_s REAL, max_s REAL, p10_s REAL, p90_s REAL, p99_s REAL,
  stddev_s REAL, cv REAL, ci_lo_s REAL, ci_hi_s REAL,
  gflops REAL, gbps REAL, max_rel_err REAL,
  timing_source TEXT NOT NULL DEFAULT '',
  metrics_json TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE INDEX results_by_run ON results(run_id);
CREATE INDEX results_by_name ON results(name, backend);
CREATE TABLE samples (
  result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  seconds REAL NOT NULL,
  PRIMARY KEY (result_id, idx)
) WITHOUT ROWID;
CREATE TABLE kv (
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (ns, key)
) WITHOUT ROWID;
)sql",
    // 2: tuning winners get a table of their own (one row per backend, device, driver, kernel
    // and shape class); the OpenCL tuner's kv entries ("opencl-gemm-f32|device|driver|hash",
    // every shape) move into it.
    R"sql(
CREATE TABLE tuning (
  backend TEXT NOT NULL,
  device TEXT NOT NULL,
  driver TEXT NOT NULL,
  kernel TEXT NOT NULL,
  shape_class TEXT NOT NULL,
  config TEXT NOT NULL,
  gflops REAL,
  default_config TEXT NOT NULL DEFAULT '',
  default_gflops REAL,
  problem TEXT NOT NULL DEFAULT '',
  tune_s REAL,
  tuned_at TEXT NOT NULL,
  PRIMARY KEY (backend, device, driver, kernel, shape_class)
) WITHOUT ROWID;
INSERT OR REPLACE INTO tuning(backend, device, driver, kernel, shape_class, config, tuned_at)
  SELECT 'opencl', substr(rest, 1, instr(rest, '|') - 1),
         substr(tail, 1, instr(tail, '|') - 1),
         'gemm-packed@' || substr(tail, instr(tail, '|') + 1), '*', value, updated_at
  FROM (SELECT value, updated_at, substr(key, 17) AS rest,
               substr(substr(key, 17), instr(substr(key, 17), '|') + 1) AS tail
        FROM kv WHERE ns = 'tune' AND key LIKE 'opencl-gemm-f32|%|%|%');
DELETE FROM kv WHERE ns = 'tune';
)sql",
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion);

// RAII prepared statement with typed binds and column reads.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return s_ != nullptr; }
  std::string error() const { return sqlite3_errmsg(db_); }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, const std::optional<double>& v) {
    if (v && std::isfinite(*v))
      sqlite3_bind_double(s_, i, *v);
    else
      sqlite3_bind_null(s_, i);
  }
  void bind(int i, double v) { sqlite3_bind_double(s_, i, v); }
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  std::string text(int c) {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  std::optional<double> opt(int c) {
    if (sqlite3_column_type(s_, c) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(s_, c);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

Error db_error(sqlite3* db, const std::string& what) {
  return make_error("results store: " + what + ": " + sqlite3_errmsg(db));
}

nlohmann::json parse_json_or_empty(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

}  // namespace

std::optional<Status> status_from_name(std::string_view name) {
  for (Status s : {Status::passed, Status::failed, Status::mistrusted, Status::unsupported,
                   Status::unavailable, Status::skipped, Status::error})
    if (status_name(s) == name) return s;
  return std::nullopt;
}

std::string utc_now_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

std::string Store::default_path() {
  namespace fs = std::filesystem;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    return (fs::path(x) / "tierbench" / "results.db").string();
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".local" / "share" / "tierbench" / "results.db")
      .string();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec)
    return make_error("results store: cannot create " + parent.string() + ": " + ec.message());
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error("results store: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<Store> s(new Store(db, path));
  sqlite3_busy_timeout(db, 10000);
  // WAL: readers never block the writer; synchronous=NORMAL keeps every committed transaction
  // across a process crash (only a power loss may drop the last ones). Switching a new file to
  // WAL while another process does the same can fail with SQLITE_BUSY at once, without the busy
  // handler: one of three writers starting on one new store exited 2 ("database is locked")
  // about once in 80 tries on a loaded 2-core machine. It is tried again, within the same 10 s.
  const char* pragmas =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
  auto r = s->exec(pragmas);
  for (int waited_ms = 0; !r && (sqlite3_errcode(db) & 0xff) == SQLITE_BUSY && waited_ms < 10000;
       waited_ms += 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r = s->exec(pragmas);
  }
  if (!r)
    return make_error("results store: " + path + " is not a usable SQLite database (" +
                      r.error().message + ")");
  if (auto r = s->migrate(); !r) return r.error();
  return s;
}

Store::~Store() {
  sqlite3_close(db_);
}

Result<void> Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return make_error(msg);
  }
  return {};
}

int Store::schema_version() const {
  Stmt q(db_, "SELECT version FROM schema_version");
  if (!q.ok() || q.step() != SQLITE_ROW) return 0;
  return static_cast<int>(q.i64(0));
}

Result<void> Store::migrate() {
  if (auto r = exec("BEGIN IMMEDIATE"); !r)
    return make_error("results store: " + r.error().message);
  const auto rollback = [this](const std::string& msg) -> Result<void> {
    (void)exec("ROLLBACK");
    return make_error("results store " + path_ + ": " + msg);
  };
  // A non-empty database without our version table is somebody else's file: refuse to touch it.
  Stmt has_version(db_, "SELECT count(*) FROM sqlite_master WHERE name='schema_version'");
  if (!has_version.ok() || has_version.step() != SQLITE_ROW) return rollback(has_version.error());
  if (has_version.i64(0) == 0) {
    Stmt tables(db_, "SELECT count(*) FROM sqlite_master");
    if (!tables.ok() || tables.step() != SQLITE_ROW) return rollback(tables.error());
    if (tables.i64(0) != 0) return rollback("not a tierbench results store (unknown tables)");
    if (auto r = exec("CREATE TABLE schema_version(version INTEGER NOT NULL);"
                      "INSERT INTO schema_version VALUES (0);");
        !r)
      return rollback(r.error().message);
  }
  int v = schema_version();
  if (v > kSchemaVersion)
    return rollback("schema version " + std::to_string(v) + " is newer than this tierbench (" +
                    std::to_string(kSchemaVersion) + ")");
  for (; v < kSchemaVersion; ++v) {
    if (auto r = exec(kMigrations[v]); !r)
      return rollback("migration to version " + std::to_string(v + 1) + ": " + r.error().message);
    const std::string bump = "UPDATE schema_version SET version=" + std::to_string(v + 1);
    if (auto r = exec(bump.c_str()); !r) return rollback(r.error().message);
  }
  if (auto r = exec("COMMIT"); !r) return rollback(r.error().message);
  return {};
}

Result<std::int64_t> Store::begin_run(const std::string& command, const std::string& git_commit,
                                      const nlohmann::json& env) {
  Stmt q(db_,
         "INSERT INTO runs(started_at, command, status, git_commit, env_json) "
         "VALUES (?, ?, 'running', ?, ?)");
  if (!q.ok()) return db_error(db_, "begin_run");
  q.bind(1, utc_now_iso8601());
  q.bind(2, command);
  q.bind(3, git_commit);
  q.bind(4, env.dump());
  if (q.step() != SQLITE_DONE) return db_error(db_, "begin_run");
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<void> Store::finish_run(std::int64_t run_id, const std::string& status) {
  Stmt q(db_, "UPDATE runs SET finished_at=?, status=? WHERE id=?");
  if (!q.ok()) return db_error(db_, "finish_run");
  q.bind(1, utc_now_iso8601());
  q.bind(2, status);
  q.bind(3, run_id);
  if (q.step() != SQLITE_DONE) return db_error(db_, "finish_run");
  return {};
}

Result<void> Store::update_run_env(std::int64_t run_id, const nlohmann::json& env) {
  Stmt q(db_, "UPDATE runs SET env_json=? WHERE id=?");
  if (!q.ok()) return db_error(db_, "update_run_env");
  q.bind(1, env.dump());
  q.bind(2, run_id);
  if (q.step() != SQLITE_DONE) return db_error(db_, "update_run_env");
  return {};
}

Result<std::int64_t> Store::add_result(const ResultRecord& r) {
  if (auto e = exec("BEGIN IMMEDIATE"); !e) return make_error("add_result: " + e.error().message);
  Stmt q(db_,
         "INSERT INTO results(run_id, kind, name, backend, device, dtype, status, message, "
         "prepare_s, first_s, n, median_s, mean_s, min_s, max_s, p10_s, p90_s, p99_s, stddev_s, "
         "cv, ci_lo_s, ci_hi_s, gflops, gbps, max_rel_err, timing_source, metrics_json, "
         "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!q.ok()) {
    (void)exec("ROLLBACK");
    return db_error(db_, "add_result");
  }
  int i = 1;
  q.bind(i++, r.run_id);
  q.bind(i++, r.kind);
  q.bind(i++, r.name);
  q.bind(i++, r.backend);
  q.bind(i++, r.device);
  q.bind(i++, r.dtype);
  q.bind(i++, std::string(status_name(r.status)));
  q.bind(i++, r.message);
  q.bind(i++, r.prepare_s);
  q.bind(i++, r.first_s);
  q.bind(i++, r.n);
  for (const auto* v :
       {&r.median_s, &r.mean_s, &r.min_s, &r.max_s, &r.p10_s, &r.p90_s, &r.p99_s, &r.stddev_s,
        &r.cv, &r.ci_lo_s, &r.ci_hi_s, &r.gflops, &r.gbps, &r.max_rel_err})
    q.bind(i++, *v);
  q.bind(i++, r.timing_source);
  q.bind(i++, r.metrics.dump());
  q.bind(i++, r.created_at.empty() ? utc_now_iso8601() : r.created_at);
  if (q.step() != SQLITE_DONE) {
    auto err = db_error(db_, "add_result");
    (void)exec("ROLLBACK");
    return err;
  }
  const std::int64_t id = sqlite3_last_insert_rowid(db_);
  Stmt s(db_, "INSERT INTO samples(result_id, idx, seconds) VALUES (?,?,?)");
  for (std::size_t k = 0; k < r.samples.size(); ++k) {
    s.bind(1, id);
    s.bind(2, static_cast<std::int64_t>(k));
    s.bind(3, r.samples[k]);
    if (s.step() != SQLITE_DONE) {
      auto err = db_error(db_, "add_result samples");
      (void)exec("ROLLBACK");
      return err;
    }
    s.reset();
  }
  if (auto e = exec("COMMIT"); !e) return make_error("add_result: " + e.error().message);
  return id;
}

namespace {
RunRecord read_run(Stmt& q) {
  RunRecord r;
  r.id = q.i64(0);
  r.started_at = q.text(1);
  r.finished_at = q.text(2);
  r.command = q.text(3);
  r.status = q.text(4);
  r.git_commit = q.text(5);
  r.env = parse_json_or_empty(q.text(6));
  return r;
}
constexpr const char* kRunCols =
    "SELECT id, started_at, coalesce(finished_at,''), command, status, coalesce(git_commit,''), "
    "env_json FROM runs ";
}  // namespace

Result<std::vector<RunRecord>> Store::runs(int limit) {
  const std::string sql = std::string(kRunCols) + "ORDER BY id DESC LIMIT ?";
  Stmt q(db_, sql.c_str());
  if (!q.ok()) return db_error(db_, "runs");
  q.bind(1, static_cast<std::int64_t>(limit));
  std::vector<RunRecord> v;
  while (q.step() == SQLITE_ROW) v.push_back(read_run(q));
  return v;
}

Result<RunRecord> Store::run(std::int64_t id) {
  const std::string sql = std::string(kRunCols) + "WHERE id=?";
  Stmt q(db_, sql.c_str());
  if (!q.ok()) return db_error(db_, "run");
  q.bind(1, id);
  if (q.step() != SQLITE_ROW) return make_error("no run with id " + std::to_string(id));
  return read_run(q);
}

Result<std::int64_t> Store::latest_run_id() {
  Stmt q(db_, "SELECT max(id) FROM runs");
  if (!q.ok() || q.step() != SQLITE_ROW || !q.opt(0)) return make_error("the store has no runs");
  return q.i64(0);
}

Result<std::vector<ResultRecord>> Store::results(std::int64_t run_id, bool with_samples) {
  Stmt q(db_,
         "SELECT id, run_id, kind, name, backend, device, dtype, status, message, prepare_s, "
         "first_s, n, median_s, mean_s, min_s, max_s, p10_s, p90_s, p99_s, stddev_s, cv, "
         "ci_lo_s, ci_hi_s, gflops, gbps, max_rel_err, timing_source, metrics_json, created_at "
         "FROM results WHERE run_id=? ORDER BY id");
  if (!q.ok()) return db_error(db_, "results");
  q.bind(1, run_id);
  std::vector<ResultRecord> v;
  while (q.step() == SQLITE_ROW) {
    ResultRecord r;
    int c = 0;
    r.id = q.i64(c++);
    r.run_id = q.i64(c++);
    r.kind = q.text(c++);
    r.name = q.text(c++);
    r.backend = q.text(c++);
    r.device = q.text(c++);
    r.dtype = q.text(c++);
    const std::string status = q.text(c++);
    r.message = q.text(c++);
    if (const auto s = status_from_name(status)) {
      r.status = *s;
    } else {  // written by something else: kept readable, never taken for a pass
      r.status = Status::error;
      r.message = "unknown status '" + status + "' in the store" +
                  (r.message.empty() ? "" : ": " + r.message);
    }
    r.prepare_s = q.opt(c++);
    r.first_s = q.opt(c++);
    r.n = q.i64(c++);
    for (auto* f : {&r.median_s, &r.mean_s, &r.min_s, &r.max_s, &r.p10_s, &r.p90_s, &r.p99_s,
                    &r.stddev_s, &r.cv, &r.ci_lo_s, &r.ci_hi_s, &r.gflops, &r.gbps, &r.max_rel_err})
      *f = q.opt(c++);
    r.timing_source = q.text(c++);
    r.metrics = parse_json_or_empty(q.text(c++));
    r.created_at = q.text(c++);
    v.push_back(std::move(r));
  }
  if (with_samples) {
    Stmt s(db_, "SELECT seconds FROM samples WHERE result_id=? ORDER BY idx");
    for (auto& r : v) {
      s.bind(1, r.id);
      while (s.step() == SQLITE_ROW) r.samples.push_back(*s.opt(0));
      s.reset();
    }
  }
  return v;
}

Result<void> Store::put(const std::string& ns, const std::string& key, const std::string& value) {
  Stmt q(db_,
         "INSERT INTO kv(ns, key, value, updated_at) VALUES (?,?,?,?) "
         "ON CONFLICT(ns, key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at");
  if (!q.ok()) return db_error(db_, "put");
  q.bind(1, ns);
  q.bind(2, key);
  q.bind(3, value);
  q.bind(4, utc_now_iso8601());
  if (q.step() != SQLITE_DONE) return db_error(db_, "put");
  return {};
}

Result<std::optional<std::string>> Store::get(const std::string& ns, const std::string& key) {
  Stmt q(db_, "SELECT value FROM kv WHERE ns=? AND key=?");
  if (!q.ok()) return db_error(db_, "get");
  q.bind(1, ns);
  q.bind(2, key);
  if (q.step() == SQLITE_ROW) return std::optional<std::string>(q.text(0));
  return std::optional<std::string>();
}

Result<std::vector<std::pair<std::string, std::string>>> Store::list(const std::string& ns) {
  Stmt q(db_, "SELECT key, value FROM kv WHERE ns=? ORDER BY key");
  if (!q.ok()) return db_error(db_, "list");
  q.bind(1, ns);
  std::vector<std::pair<std::string, std::string>> v;
  while (q.step() == SQLITE_ROW) v.emplace_back(q.text(0), q.text(1));
  return v;
}

Result<std::optional<ResultRecord>> Store::latest_result(const std::string& kind) {
  Stmt q(db_, "SELECT run_id, id FROM results WHERE kind=? ORDER BY id DESC LIMIT 1");
  if (!q.ok()) return db_error(db_, "latest_result");
  q.bind(1, kind);
  if (q.step() != SQLITE_ROW) return std::optional<ResultRecord>();
  const std::int64_t run_id = q.i64(0), id = q.i64(1);
  auto all = results(run_id);
  if (!all) return all.error();
  for (auto& r : all.value())
    if (r.id == id) return std::optional<ResultRecord>(std::move(r));
  return std::optional<ResultRecord>();
}

Result<void> Store::put_tuning(const TuneWinner& w) {
  Stmt q(db_,
         "INSERT OR REPLACE INTO tuning(backend, device, driver, kernel, shape_class, config, "
         "gflops, default_config, default_gflops, problem, tune_s, tuned_at) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return db_error(db_, "put_tuning");
  const TuneKey& k = w.key;
  int i = 0;
  for (const std::string* s :
       {&k.backend, &k.device, &k.driver, &k.kernel, &k.shape_class, &w.config})
    q.bind(++i, *s);
  q.bind(++i, std::optional<double>(w.gflops));
  q.bind(++i, w.default_config);
  q.bind(++i, w.default_gflops > 0 ? std::optional<double>(w.default_gflops) : std::nullopt);
  q.bind(++i, w.problem);
  q.bind(++i, std::optional<double>(w.tune_s));
  q.bind(++i, w.tuned_at.empty() ? utc_now_iso8601() : w.tuned_at);
  if (q.step() != SQLITE_DONE) return db_error(db_, "put_tuning");
  return {};
}

namespace {
constexpr const char* kTuningColumns =
    "SELECT backend, device, driver, kernel, shape_class, config, gflops, default_config, "
    "default_gflops, problem, tune_s, tuned_at FROM tuning";

TuneWinner read_winner(Stmt& q) {
  TuneWinner w;
  w.key = {q.text(0), q.text(1), q.text(2), q.text(3), q.text(4)};
  w.config = q.text(5);
  w.gflops = q.opt(6).value_or(0);
  w.default_config = q.text(7);
  w.default_gflops = q.opt(8).value_or(0);
  w.problem = q.text(9);
  w.tune_s = q.opt(10).value_or(0);
  w.tuned_at = q.text(11);
  return w;
}
}  // namespace

Result<std::optional<TuneWinner>> Store::get_tuning(const TuneKey& k) {
  const std::string sql =
      std::string(kTuningColumns) +
      " WHERE backend=? AND device=? AND driver=? AND kernel=? AND shape_class=?";
  Stmt q(db_, sql.c_str());
  if (!q.ok()) return db_error(db_, "get_tuning");
  int i = 0;
  for (const std::string* s : {&k.backend, &k.device, &k.driver, &k.kernel, &k.shape_class})
    q.bind(++i, *s);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<TuneWinner>();
  if (rc != SQLITE_ROW) return db_error(db_, "get_tuning");
  return std::optional<TuneWinner>(read_winner(q));
}

Result<std::vector<TuneWinner>> Store::list_tuning() {
  const std::string sql =
      std::string(kTuningColumns) + " ORDER BY backend, device, driver, kernel, shape_class";
  Stmt q(db_, sql.c_str());
  if (!q.ok()) return db_error(db_, "list_tuning");
  std::vector<TuneWinner> v;
  int rc = 0;
  while ((rc = q.step()) == SQLITE_ROW) v.push_back(read_winner(q));
  if (rc != SQLITE_DONE) return db_error(db_, "list_tuning");
  return v;
}

}  // namespace tb

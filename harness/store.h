// The local results store: one SQLite file (WAL mode) holding runs, results and every raw sample.
// Each result is committed in its own transaction as soon as it is measured, so an interrupted
// run keeps everything it had measured. Raw measurements stay here, on the device; files meant
// to leave the device are derived from it (profiles/) and hold buckets only.
//
// Schema (version 2; later versions are appended to the migration list in store.cpp):
//   schema_version(version)
//   runs(id, started_at, finished_at, command, status, git_commit, env_json)
//   results(id, run_id, kind, name, backend, device, dtype, status, message, prepare_s, first_s,
//           n, median_s, mean_s, min_s, max_s, p10_s, p90_s, p99_s, stddev_s, cv, ci_lo_s,
//           ci_hi_s, gflops, gbps, max_rel_err, timing_source, metrics_json, created_at)
//   samples(result_id, idx, seconds)
//   kv(ns, key, value, updated_at)        -- small persistent state: baselines
//   tuning(backend, device, driver, kernel, shape_class, config, gflops, default_config,
//          default_gflops, problem, tune_s, tuned_at)   -- tuner winners (v2; kernels/tuning.h)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "result.h"
#include "tuning.h"
#include "validate.h"

struct sqlite3;

namespace tb {

struct RunRecord {
  std::int64_t id = 0;
  std::string started_at, finished_at;  // ISO 8601 UTC
  std::string command;
  std::string status;  // running, ok, failed, interrupted
  std::string git_commit;
  nlohmann::json env = nlohmann::json::object();
};

struct ResultRecord {
  std::int64_t id = 0, run_id = 0;
  std::string kind = "kernel";  // kernel, workload, probe
  std::string name;             // canonical problem string, workload or probe name
  std::string backend, device, dtype;
  // Stored as its name (status_name: passed, failed, mistrusted, unsupported, unavailable, skipped,
  // error), the same text as before it was an enum. Error until a runner says otherwise.
  Status status = Status::error;
  std::string message;
  std::optional<double> prepare_s, first_s;
  std::int64_t n = 0;  // samples
  std::optional<double> median_s, mean_s, min_s, max_s, p10_s, p90_s, p99_s, stddev_s, cv;
  std::optional<double> ci_lo_s, ci_hi_s;  // 95% CI of the median
  std::optional<double> gflops, gbps, max_rel_err;
  std::string timing_source;
  nlohmann::json metrics = nlohmann::json::object();  // load-cost details, memory, counters...
  std::vector<double> samples;                        // raw, seconds, in measurement order
  std::string created_at;
};

// The status a stored name stands for; nullopt for a name no tierbench writes.
std::optional<Status> status_from_name(std::string_view name);

// A Status in JSON is its name (as in the store), never its number.
NLOHMANN_JSON_SERIALIZE_ENUM(Status, {{Status::passed, "passed"},
                                      {Status::failed, "failed"},
                                      {Status::mistrusted, "mistrusted"},
                                      {Status::unsupported, "unsupported"},
                                      {Status::unavailable, "unavailable"},
                                      {Status::skipped, "skipped"},
                                      {Status::error, "error"}})

class Store {
 public:
  static constexpr int kSchemaVersion = 2;

  // Opens (creating parent folders and the file if needed) and migrates to kSchemaVersion.
  // A file that is not a tierbench store, or is newer than this build, is an error.
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  // $XDG_DATA_HOME/tierbench/results.db, falling back to ~/.local/share/tierbench/results.db.
  static std::string default_path();

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  int schema_version() const;

  Result<std::int64_t> begin_run(const std::string& command, const std::string& git_commit,
                                 const nlohmann::json& env);
  Result<void> finish_run(std::int64_t run_id, const std::string& status);
  Result<void> update_run_env(std::int64_t run_id, const nlohmann::json& env);
  // Inserts the result and its samples in one transaction; returns the new result id.
  Result<std::int64_t> add_result(const ResultRecord& r);

  Result<std::vector<RunRecord>> runs(int limit = 50);
  Result<RunRecord> run(std::int64_t id);
  Result<std::int64_t> latest_run_id();
  // The most recent result of a kind (e.g. the latest "probe"), if any.
  Result<std::optional<ResultRecord>> latest_result(const std::string& kind);
  // Results of a run, with samples when with_samples.
  Result<std::vector<ResultRecord>> results(std::int64_t run_id, bool with_samples = false);

  Result<void> put(const std::string& ns, const std::string& key, const std::string& value);
  Result<std::optional<std::string>> get(const std::string& ns, const std::string& key);
  Result<std::vector<std::pair<std::string, std::string>>> list(const std::string& ns);

  // Tuner winners, one per backend, device, driver, kernel and shape class (put replaces).
  Result<void> put_tuning(const TuneWinner& w);
  Result<std::optional<TuneWinner>> get_tuning(const TuneKey& key);
  Result<std::vector<TuneWinner>> list_tuning();

 private:
  explicit Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Result<void> migrate();
  Result<void> exec(const char* sql);

  sqlite3* db_;
  std::string path_;
};

std::string utc_now_iso8601();

}  // namespace tb

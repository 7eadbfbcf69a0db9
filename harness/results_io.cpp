#include "results_io.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tb::io {

namespace {

constexpr const char* kSchema = "tierbench.results/1";
// A results file holds a run's raw samples: tens of MiB for a long suite. Larger is refused
// before it is read, naming the limit.
constexpr std::uintmax_t kMaxResultsBytes = std::uintmax_t{256} << 20;

nlohmann::json opt(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// A string member, or `fallback` when it is absent or not a string (json::value throws then).
std::string get_str(const nlohmann::json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::optional<double> get_opt(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<double>();
}

}  // namespace

nlohmann::json result_to_json(const ResultRecord& r, bool with_samples) {
  nlohmann::json j = {{"kind", r.kind},
                      {"name", r.name},
                      {"backend", r.backend},
                      {"device", r.device},
                      {"dtype", r.dtype},
                      {"status", r.status},
                      {"message", r.message},
                      {"prepare_s", opt(r.prepare_s)},
                      {"first_s", opt(r.first_s)},
                      {"n", r.n},
                      {"median_s", opt(r.median_s)},
                      {"mean_s", opt(r.mean_s)},
                      {"min_s", opt(r.min_s)},
                      {"max_s", opt(r.max_s)},
                      {"p10_s", opt(r.p10_s)},
                      {"p90_s", opt(r.p90_s)},
                      {"p99_s", opt(r.p99_s)},
                      {"stddev_s", opt(r.stddev_s)},
                      {"cv", opt(r.cv)},
                      {"ci_lo_s", opt(r.ci_lo_s)},
                      {"ci_hi_s", opt(r.ci_hi_s)},
                      {"gflops", opt(r.gflops)},
                      {"gbps", opt(r.gbps)},
                      {"max_rel_err", opt(r.max_rel_err)},
                      {"timing_source", r.timing_source},
                      {"metrics", r.metrics},

                      {"created_at", r.created_at}};
  if (with_samples) j["samples"] = r.samples;
  return j;
}

namespace {}  // namespace

std::string benchmark_key(const ResultRecord& r) {
  return r.name + "@" + r.backend;
}

Result<nlohmann::json> export_run(Store& store, std::int64_t run_id) {
  auto run = store.run(run_id);
  if (!run) return run.error();
  auto results = store.results(run_id, /*with_samples=*/true);
  if (!results) return results.error();
  nlohmann::json doc = {{"schema", kSchema},
                        {"run",
                         {{"id", run->id},
                          {"started_at", run->started_at},
                          {"finished_at", run->finished_at},
                          {"command", run->command},
                          {"status", run->status},
                          {"git_commit", run->git_commit},
                          {"env", run->env}}},
                        {"results", nlohmann::json::array()}};
  for (const auto& r : results.value()) doc["results"].push_back(result_to_json(r, true));
  return doc;
}

Result<std::vector<ResultRecord>> results_from_json(const nlohmann::json& doc) {
  std::vector<ResultRecord> v;
  try {
    for (const auto& j : doc.at("results")) {
      ResultRecord r;
      r.kind = j.value("kind", "kernel");
      r.name = j.at("name").get<std::string>();
      r.backend = j.value("backend", "");
      r.device = j.value("device", "");
      r.dtype = j.value("dtype", "");
      const auto status = j.at("status").get<std::string>();
      const auto known = status_from_name(status);
      if (!known) return make_error("malformed results: unknown status '" + status + "'");
      r.status = *known;
      r.message = j.value("message", "");
      r.prepare_s = get_opt(j, "prepare_s");
      r.first_s = get_opt(j, "first_s");
      r.n = j.value("n", std::int64_t{0});
      r.median_s = get_opt(j, "median_s");
      r.mean_s = get_opt(j, "mean_s");
      r.min_s = get_opt(j, "min_s");
      r.max_s = get_opt(j, "max_s");
      r.p10_s = get_opt(j, "p10_s");
      r.p90_s = get_opt(j, "p90_s");
      r.p99_s = get_opt(j, "p99_s");
      r.stddev_s = get_opt(j, "stddev_s");
      r.cv = get_opt(j, "cv");
      r.ci_lo_s = get_opt(j, "ci_lo_s");
      r.ci_hi_s = get_opt(j, "ci_hi_s");
      r.gflops = get_opt(j, "gflops");
      r.gbps = get_opt(j, "gbps");
      r.max_rel_err = get_opt(j, "max_rel_err");
      r.timing_source = j.value("timing_source", "");
      r.metrics = j.value("metrics", nlohmann::json::object());
      r.samples = j.value("samples", std::vector<double>{});
      r.created_at = j.value("created_at", "");
      v.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception& e) {
    return make_error(std::string("malformed results: ") + e.what());
  }
  return v;
}

Result<nlohmann::json> read_results_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return make_error("cannot read " + path + ": " + std::strerror(errno));
  std::error_code ec;
  if (const auto size = std::filesystem::file_size(path, ec); !ec && size > kMaxResultsBytes)
    return make_error(path + ": " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(kMaxResultsBytes) + " a results file may have");
  std::stringstream ss;
  ss << f.rdbuf();
  auto doc = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error(path + ": not valid JSON");
  if (!doc.is_object() || get_str(doc, "schema", "") != kSchema)
    return make_error(path + ": not a tierbench results file (expected schema " + kSchema + ")");
  if (auto r = results_from_json(doc); !r) return make_error(path + ": " + r.error().message);
  return doc;
}

Result<std::int64_t> import_run(Store& store, const nlohmann::json& doc) {
  auto results = results_from_json(doc);
  if (!results) return results.error();
  const auto it = doc.find("run");
  const auto run = it != doc.end() && it->is_object() ? *it : nlohmann::json::object();
  const auto env =
      run.contains("env") && run["env"].is_object() ? run["env"] : nlohmann::json::object();
  auto id = store.begin_run("import: " + get_str(run, "command", "?"),
                            get_str(run, "git_commit", ""), env);
  if (!id) return id.error();
  for (auto r : results.value()) {
    r.run_id = id.value();
    if (auto a = store.add_result(r); !a) return a.error();
  }
  if (auto f = store.finish_run(id.value(), get_str(run, "status", "ok")); !f) return f.error();
  return id.value();
}

compare::SampleSet sample_set(const std::vector<ResultRecord>& results) {
  compare::SampleSet set;
  for (const auto& r : results) {
    if ((r.status != Status::passed && r.status != Status::mistrusted) || r.samples.empty())
      continue;
    auto& s = set[benchmark_key(r)];
    s.values.insert(s.values.end(), r.samples.begin(), r.samples.end());
    s.groups.push_back(r.median_s ? *r.median_s : stats::quantile(r.samples, 0.5));
  }
  return set;
}

}  // namespace tb::io

// tierbench validate-predictor: in each configuration this machine can make (oneDNN on 1 and 2
// threads, oneDNN capped at AVX2, each other backend), calibrate on kernel micro-benchmarks only
// (a child 'tierbench calibrate'), run the tiers end to end (a child 'tierbench run'), predict
// every measured tier from that configuration's calibration, and report the share of tier
// latencies within 5, 10 and 20% and the median error per configuration, backend, dtype and
// tier. No tier measurement enters any prediction, so every configuration is held out of its own
// calibration by construction; the transfer table predicts each configuration from another
// configuration's calibration of the same backend (leave-one-configuration-out).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "calibrate.h"
#include "cli.h"
#include "kernels.h"
#include "predictor.h"
#include "reporter.h"
#include "store.h"
#include "workloads.h"

extern char** environ;

namespace tb::cli {

namespace {

using json = nlohmann::json;

struct Config {
  std::string name, backend, isa;
  int threads = 0;
};

const std::vector<Config>& all_configs() {
  static const std::vector<Config> c = {{"onednn-t1", "onednn", "", 1},
                                        {"onednn-t2", "onednn", "", 2},
                                        {"onednn-t2-avx2", "onednn", "AVX2", 2},
                                        {"opencl", "opencl", "", 0},
                                        {"vulkan", "vulkan", "", 0}};
  return c;
}

struct ValidateArgs {
  std::vector<std::string> configs, workloads;
  bool from_store = false, quick = false;
  double max_time = 0.2;
  std::string work_dir;  // the calibrations' (calibrate --work-dir): chains' weights, references
};

// Runs this executable with args, ONEDNN_MAX_CPU_ISA set to isa (unset when empty); its exit code,
// or -1 when it did not exit normally.
int spawn_self(const std::vector<std::string>& args, const std::string& isa) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "ONEDNN_MAX_CPU_ISA=", 19) != 0) env.emplace_back(*e);
  if (!isa.empty()) env.push_back("ONEDNN_MAX_CPU_ISA=" + isa);
  std::vector<std::string> a = args;
  std::vector<char*> argv, envp;
  for (auto& x : a) argv.push_back(x.data());
  argv.push_back(nullptr);
  for (auto& x : env) envp.push_back(x.data());
  envp.push_back(nullptr);
  // The children's tables would mix with this report: their stdout goes to /dev/null (their
  // progress and errors still reach stderr).
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int e = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (e != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// Runs the tiers of one configuration in a child 'tierbench run' (with their layer profiles when
// `profile`); its run id.
Result<std::int64_t> run_tiers(const Context& ctx, Store& store, const Config& c,
                               const ValidateArgs& a, bool profile) {
  std::vector<std::string> run = {ctx.argv0,   "--db",    store.path(), "run",
                                  "--backend", c.backend, "--threads",  std::to_string(c.threads)};
  if (profile) run.push_back("--profile-layers");
  for (const auto& w : a.workloads) run.insert(run.end(), {"--workload", w});
  if (const int rc = spawn_self(run, c.isa); rc < 0 || rc == kUsage)
    return make_error(c.name + ": run exited with " + std::to_string(rc));
  return store.latest_run_id();
}

// Runs the tiers, calibrates and runs the tiers again in one configuration; stores where to find
// all three. The tiers' two runs bracket the calibration: the one after is measured against the
// predictions (with layer profiles), the one before says how far the machine alone moves a tier
// in those minutes.
Result<void> measure(const Context& ctx, Store& store, const Config& c, const ValidateArgs& a,
                     const std::vector<std::string>& dtypes) {
  const std::string db = store.path();
  std::cerr << fmt::format("{}: running {} tiers end to end (before calibrating)\n", c.name,
                           a.workloads.size());
  auto before = run_tiers(ctx, store, c, a, false);
  if (!before) return before.error();
  std::vector<std::string> cal = {ctx.argv0,    "--db",
                                  db,           "calibrate",
                                  "--backend",  c.backend,
                                  "--threads",  std::to_string(c.threads),
                                  "--max-time", fmt::format("{}", a.max_time),
                                  "--work-dir", a.work_dir};
  for (const auto& d : dtypes) cal.insert(cal.end(), {"--dtype", d});
  if (a.quick) cal.push_back("--quick");
  std::cerr << fmt::format("{}: calibrating\n", c.name);
  if (const int rc = spawn_self(cal, c.isa); rc != 0)
    return make_error(c.name + ": calibrate exited with " + std::to_string(rc));
  auto label = store.get("calibration", "latest");
  if (!label || !label->has_value()) return make_error(c.name + ": no calibration stored");
  auto snapshot = store.get("calibration", **label);
  if (!snapshot || !snapshot->has_value()) return make_error(c.name + ": no calibration stored");
  // With layer profiles: the per-op table says where a tier's error comes from.
  std::cerr << fmt::format("{}: running {} tiers end to end\n", c.name, a.workloads.size());
  auto run_id = run_tiers(ctx, store, c, a, true);
  if (!run_id) return run_id.error();
  const json rec = {
      {"run_id", *run_id}, {"run_before_id", *before}, {"calibration", json::parse(**snapshot)}};
  return store.put("validate-predictor", c.name, rec.dump());
}

using Row = reports::PredictionCheck;

double num(const json& j, const char* k) {
  return j.is_object() && j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN;
}

// The layers of a tier's profile (metrics.layers) against the prediction's, by op: summed into
// `ops` (per op of this configuration).
void add_layer_ops(const json& profile, const profiles::ModelEstimate& e,
                   std::map<std::string, reports::OpCheck>& ops) {
  if (!profile.is_object() || !profile.contains("rows") || !profile["rows"].is_array()) return;
  // A layer's own time on both sides; what is outside every layer (segment runs, launches,
  // host waits, transfers) is a row of its own.
  std::map<std::string, double> predicted;
  double predicted_own = 0;
  for (const auto& l : e.layers) {
    predicted[l.name] = l.latency_ms - l.overhead_ms;
    predicted_own += l.latency_ms - l.overhead_ms;
  }
  // Means where the profile has them (they add up to the mean inference; medians do not).
  const bool means = profile.contains("layers_mean_sum_s");
  const double latency = num(profile, means ? "latency_mean_s" : "latency_median_s"),
               sum = num(profile, means ? "layers_mean_sum_s" : "layers_sum_s");
  const std::size_t col = means ? 3 : 2;
  if (latency > 0 && sum > 0) {
    auto& o = ops["(outside layers)"];
    o.op = "(outside layers)";
    o.measured_ms += std::max(0.0, latency - sum) * 1e3;
    o.predicted_ms += std::max(0.0, e.latency_ms - predicted_own);
  }
  for (const auto& row : profile["rows"]) {
    if (!row.is_array() || row.size() <= col || !row[0].is_string() || !row[1].is_string() ||
        !row[col].is_number())
      continue;
    const auto p = predicted.find(row[0].get<std::string>());
    if (p == predicted.end()) continue;
    auto& o = ops[row[1].get<std::string>()];
    o.op = row[1].get<std::string>();
    ++o.layers;
    o.measured_ms += row[col].get<double>() * 1e3;
    o.predicted_ms += p->second;
  }
}

// Every passed tier of the configuration's run, predicted from calibration `cal`; with `ops`,
// also their layer profiles against the predicted layers, per op.
std::vector<Row> rows_of(Store& store, const std::string& config, std::int64_t run_id,
                         const profiles::Calibration& cal,
                         std::vector<reports::OpCheck>* ops = nullptr,
                         std::int64_t run_before_id = -1) {
  std::vector<Row> out;
  std::map<std::string, reports::OpCheck> by_op;
  auto res = store.results(run_id);
  if (!res) return out;
  // The same tiers' medians in the run before the calibration, by backend and tier.
  std::map<std::pair<std::string, std::string>, double> before;
  if (run_before_id >= 0)
    if (auto b = store.results(run_before_id))
      for (const auto& r : *b)
        if (r.kind == "workload" && r.status == Status::passed && r.median_s && *r.median_s > 0)
          before[{r.backend, r.name}] = *r.median_s * 1e3;
  for (const auto& r : *res) {
    if (r.kind != "workload" || (r.status != Status::passed && r.status != Status::mistrusted) ||
        !r.median_s || *r.median_s <= 0)
      continue;
    auto w = workloads::parse_workload(r.name);
    if (!w) continue;
    workloads::BuildOptions bo;
    bo.variant = w->variant;
    auto g = workloads::build_tier(w->tier, w->dtype, bo);
    if (!g) continue;
    const auto e = profiles::predict(*g, cal, r.backend);
    if (!e.feasible || e.latency_ms <= 0) continue;
    Row row{config, r.backend, r.dtype, r.name, *r.median_s * 1e3, e.latency_ms};
    const json load = r.metrics.value("load", json::object());
    const double cold = num(load, "read_cold_s") + num(load, "prepare_first_s") +
                        num(load, "upload_s") + num(load, "first_inference_s");
    const double pcold =
        e.read_ms + e.compile_ms + e.upload_ms + e.latency_ms + e.first_inference_ms;
    if (cold > 0) row.cold_err = pcold / (cold * 1e3) - 1;
    row.other_cpu_share = num(r.metrics.value("sampling", json::object()), "other_cpu_share");
    if (const auto b = before.find({r.backend, r.name}); b != before.end())
      row.repeat_ms = b->second;
    const double mem = num(r.metrics.value("memory", json::object()), "peak_rss_added_bytes");
    if (mem > 0) row.memory_err = static_cast<double>(e.peak_memory_bytes) / mem - 1;
    out.push_back(row);
    if (ops) add_layer_ops(r.metrics.value("layers", json()), e, by_op);
  }
  if (ops) {
    std::vector<reports::OpCheck> v;
    for (auto& [op, o] : by_op)
      if (o.measured_ms > 0) o.config = config, v.push_back(o);
    std::sort(v.begin(), v.end(),
              [](const auto& a, const auto& b) { return a.measured_ms > b.measured_ms; });
    ops->insert(ops->end(), v.begin(), v.end());
  }
  return out;
}

int run_validate(const Context& ctx, ValidateArgs& a) {
  std::vector<Config> configs;
  for (const auto& c : all_configs())
    if (a.configs.empty() ||
        std::find(a.configs.begin(), a.configs.end(), c.name) != a.configs.end())
      configs.push_back(c);
  for (const auto& n : a.configs)
    if (std::none_of(all_configs().begin(), all_configs().end(),
                     [&](const Config& c) { return c.name == n; }))
      return usage_error("--config: unknown configuration '" + n +
                         "' (valid: onednn-t1, onednn-t2, onednn-t2-avx2, opencl, vulkan)");
  if (a.workloads.empty())
    a.workloads = {"person-detect:b1:f32", "person-detect:b1:int8", "mobilenetv2:b1:f32",
                   "mobilenetv2:b1:int8",  "mobilenetv2:b1:bf16",   "llm-135m:decode:kv128:f32"};
  std::vector<std::string> dtypes;
  for (const auto& w : a.workloads) {
    auto n = workloads::parse_workload(w);
    if (!n) return usage_error("--workload: " + n.error().message);
    if (std::find(dtypes.begin(), dtypes.end(), n->dtype) == dtypes.end())
      dtypes.push_back(n->dtype);
  }
  auto store = open_store(ctx);
  if (!store) return usage_error(store.error().message);
  std::map<std::string, bool> available;
  for (auto& b : make_backends()) available[std::string(b->name())] = b->availability().available;

  struct Measured {
    std::int64_t run_id = -1, run_before_id = -1;
    profiles::Calibration cal;
  };
  std::map<std::string, Measured> measured;
  // One work directory for every configuration's calibration: each chain's weights are written,
  // and its reference output computed, once for all of them.
  profiles::remove_stale_work_dirs();
  struct WorkDir {
    std::filesystem::path path = profiles::work_dir_path("validate");
    ~WorkDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } work;
  a.work_dir = work.path.string();
  for (const auto& c : configs) {
    if (!available[c.backend]) {
      std::cerr << fmt::format("{}: skipped, {} is not available here\n", c.name, c.backend);
      continue;
    }
    if (!a.from_store)
      if (auto r = measure(ctx, **store, c, a, dtypes); !r) {
        std::cerr << "tierbench: validate-predictor: " << r.error().message << "\n";
        continue;
      }
    auto rec = (*store)->get("validate-predictor", c.name);
    if (!rec || !rec->has_value()) {
      std::cerr << fmt::format("{}: nothing measured yet (run without --from-store)\n", c.name);
      continue;
    }
    const json j = json::parse(**rec);
    auto cal = profiles::calibration_from_json(j.at("calibration"));
    if (!cal) return usage_error(cal.error().message);
    measured[c.name] = {j.at("run_id").get<std::int64_t>(),
                        j.value("run_before_id", std::int64_t{-1}), std::move(*cal)};
  }
  if (measured.empty()) return usage_error("no configuration could be measured");

  reports::PredictorValidation v;
  for (const auto& [name, m] : measured) {
    auto r = rows_of(**store, name, m.run_id, m.cal, &v.ops, m.run_before_id);
    v.rows.insert(v.rows.end(), r.begin(), r.end());
  }
  // Leave one configuration out: each configuration's tiers from another one's calibration.
  for (const auto& [name, m] : measured)
    for (const auto& [other, o] : measured)
      if (other != name && o.cal.entries.size() && m.cal.entries.size() &&
          o.cal.entries[0].backend == m.cal.entries[0].backend)
        v.transfer[name + " from " + other] = rows_of(**store, name, m.run_id, o.cal);
  (void)reports::validation_reporter(ctx.json ? "json" : "table")->report(std::cout, v);
  return kOk;
}

}  // namespace

void add_validate_predictor_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<ValidateArgs>();
  auto* cmd = app.add_subcommand(
      "validate-predictor",
      "Calibrate on kernel benchmarks, run tiers end to end in each configuration (oneDNN 1 and "
      "2 threads, oneDNN AVX2, OpenCL, Vulkan), and report the prediction errors, with how far the "
      "tiers moved between a run before and one after the calibration (~15 minutes)");
  cmd->add_option("--config", a->configs,
                  "Configurations: onednn-t1, onednn-t2, onednn-t2-avx2, opencl, vulkan "
                  "(default: all available)");
  cmd->add_option("-w,--workload", a->workloads,
                  "Tiers (tier:variant:dtype; default: 6 tiers of the quick suite, f32/bf16/int8)");
  cmd->add_option("--max-time", a->max_time, "Calibration sampling per chain, seconds")
      ->check(kPositive);
  cmd->add_flag("--quick", a->quick, "Calibrate one shape per op class");
  cmd->add_flag("--from-store", a->from_store,
                "Re-analyse the last measurements of each configuration instead of measuring");
  cmd->callback([&ctx, &action, a] { action = [&ctx, a] { return run_validate(ctx, *a); }; });
}

}  // namespace tb::cli

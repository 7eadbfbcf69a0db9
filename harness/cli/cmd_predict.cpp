// tierbench calibrate / predict / validate-predictor: the predictor (profiles/predictor.h) on this
// device. calibrate measures kernel micro-benchmarks into the store; predict estimates a tier
// from the stored calibration without running it; validate-predictor calibrates and runs tiers
// end to end in each configuration (threads, oneDNN ISA cap, backend) and reports the errors.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include <fmt/core.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "calibrate.h"
#include "cli.h"
#include "decide.h"
#include "environment.h"
#include "isolation.h"
#include "kernels.h"
#include "model_arg.h"
#include "predictor.h"
#include "privacy.h"
#include "reporter.h"
#include "runner.h"
#include "store.h"
#include "version.h"
#include "workloads.h"

extern char** environ;

namespace tb::cli {

namespace {

using json = nlohmann::json;
using profiles::Calibration;
using profiles::ModelEstimate;

json run_env() {
  env::EnvironmentInputs ein;
  ein.git_commit = git_commit();
  ein.git_dirty = git_dirty();
  ein.compiler_flags = cxx_flags();
  ein.build_type = build_type();
  json env = env::capture_environment(ein);
  env["tierbench"] = version_string();
  return env;
}

// "tier", "tier:variant" or "tier:variant:dtype" (+ --dtype) -> a checked workload name.
Result<workloads::WorkloadName> resolve_workload(const std::string& w, const std::string& dtype) {
  const auto n = std::count(w.begin(), w.end(), ':');
  const std::string tier = w.substr(0, w.find(':'));
  const auto* t = workloads::find_tier(tier);
  if (!t) return make_error("unknown tier '" + tier + "' (valid: " + workloads::tier_names() + ")");
  if (n >= 2) {
    if (!dtype.empty()) return make_error("--dtype given twice: in the workload and as --dtype");
    return workloads::parse_workload(w);
  }
  const std::string variant = n == 1 ? w.substr(w.find(':') + 1) : t->variants.front();
  return workloads::parse_workload(tier + ":" + variant + ":" +
                                   (dtype.empty() ? t->dtypes.front() : dtype));
}

// --- calibrate ---------------------------------------------------------------------------------

struct CalibrateArgs {
  profiles::CalibrateOptions o;
  std::vector<std::string> dtypes;
  bool no_isolate = false;
  bool if_missing = false;  // keep a stored calibration that covers every backend and dtype asked
  double timeout_s = 900;
  std::int64_t child_run_id = 0;  // internal: a child calibrating one backend into this run
  // --if-missing over a stored calibration of the current method that lacks some of what was
  // asked: per backend, the dtypes to measure (the others are kept); empty: a.o.dtypes for all.
  std::map<std::string, std::vector<std::string>> missing;
  const std::vector<std::string>& dtypes_of(const std::string& backend) const {
    const auto it = missing.find(backend);
    return it == missing.end() ? o.dtypes : it->second;
  }
};

// Each backend calibrated by a child process of its own (this executable, --child-run-id), under
// a timeout: one that crashes or hangs is reported and the others are calibrated. The children
// add their entries to the stored calibration of this configuration one after another (calibrate
// keeps the entries it did not measure). Returns the failures, "backend: why".
std::vector<std::string> calibrate_isolated(const Context& ctx, const CalibrateArgs& a,
                                            const std::vector<std::string>& names,
                                            const std::string& db, std::int64_t run_id) {
  std::vector<std::string> failures;
  // One work directory for all the children: each chain's weights are written, and its reference
  // output computed, by the first backend that needs them (profiles::CalibrateOptions::work_dir).
  // A --work-dir given (validate-predictor's, for all its configurations) is the caller's to
  // remove.
  const bool own = a.o.work_dir.empty();
  if (own) profiles::remove_stale_work_dirs();
  const std::filesystem::path work =
      own ? profiles::work_dir_path("calibrate-shared") : std::filesystem::path(a.o.work_dir);
  std::error_code ec;
  std::filesystem::create_directories(work, ec);
  if (ec) return {"the work directory " + work.string() + ": " + ec.message()};
  for (const auto& b : names) {
    if (!a.o.backends.empty() &&
        std::find(a.o.backends.begin(), a.o.backends.end(), b) == a.o.backends.end())
      continue;
    std::vector<std::string> args = {ctx.argv0,
                                     "--db",
                                     db,
                                     "calibrate",
                                     "--backend",
                                     b,
                                     "--threads",
                                     std::to_string(a.o.threads),
                                     "--max-time",
                                     fmt::format("{}", a.o.sample_s),
                                     "--child-run-id",
                                     std::to_string(run_id),
                                     "--work-dir",
                                     work.string()};
    for (const auto& d : a.dtypes_of(b)) args.insert(args.end(), {"--dtype", d});
    if (a.o.quick) args.push_back("--quick");
    if (const std::string why = run_child(std::move(args), a.timeout_s, {}); !why.empty())
      failures.push_back(b + ": " + why);
  }
  if (own) std::filesystem::remove_all(work, ec);
  return failures;
}

int run_calibrate(const Context& ctx, CalibrateArgs& a) {
  if (!a.dtypes.empty()) a.o.dtypes = a.dtypes;
  for (const auto& d : a.o.dtypes)
    if (!workloads::parse_tier_dtype(d))
      return usage_error("--dtype: unknown dtype '" + d + "' (valid: f32, bf16, int8)");
  std::vector<std::string> names;
  for (const BackendTraits* t : built_backends())
    if (!t->reference) names.emplace_back(t->name);
  for (const auto& b : a.o.backends)
    if (std::find(names.begin(), names.end(), b) == names.end())
      return usage_error("--backend: '" + b + "' is not a backend to calibrate (valid: " +
                         fmt::format("{}", fmt::join(names, ", ")) + ")");
  auto store = open_store(ctx);
  if (!store) return usage_error(store.error().message);
  if (a.if_missing && a.child_run_id == 0) {
    // Every backend asked (default: each available one) with every dtype asked.
    auto stored = profiles::load_calibration(**store, profiles::configuration_label(a.o.threads));
    std::vector<std::string> want = a.o.backends;
    if (want.empty())
      for (auto& b : make_backends())
        if (!b->traits().reference && b->availability().available) want.emplace_back(b->name());
    bool covered = stored.ok();
    std::map<std::string, std::vector<std::string>> missing;
    std::vector<std::string> lacks;
    for (const auto& b : want)
      for (const auto& d : a.o.dtypes)
        if (!stored || !stored->find(b, d)) {
          covered = false;
          missing[b].push_back(d);
          lacks.push_back(b + " " + d);
        }
    if (stored && stored->method < profiles::kCalibrationMethod) {
      covered = false;
      missing.clear();  // every entry is measured again: none of the stored ones is kept
      if (!ctx.json)
        std::cout << fmt::format(
            "calibration '{}' of {} was measured by an older method ({} < {}): measuring again\n",
            stored->label, stored->created_utc, stored->method, profiles::kCalibrationMethod);
    } else if (stored && !covered) {
      // Only what it lacks: calibrate keeps the stored entries of the pairs it does not measure.
      a.missing = std::move(missing);
      a.o.backends.clear();
      for (const auto& [b, d] : a.missing) a.o.backends.push_back(b);
      if (!ctx.json)
        std::cout << fmt::format(
            "calibration '{}' of {} lacks {}: measuring those (tierbench calibrate measures "
            "all)\n",
            stored->label, stored->created_utc, fmt::join(lacks, ", "));
    }
    if (covered) {
      if (ctx.json)
        (void)reports::calibration_reporter("json")->report(std::cout, *stored);
      else
        std::cout << fmt::format(
            "calibration '{}' of {} ({}) is stored: kept (tierbench calibrate measures again)\n",
            stored->label, stored->created_utc, fmt::join(want, ", "));
      return kOk;
    }
  }
  if (!ctx.json)
    a.o.progress = [](const std::string& s) {
      if (isatty(2)) std::cerr << "\r\033[K" << s << std::flush;
    };
  if (a.child_run_id > 0) {  // one backend, into the parent's run
    // Test-only (TB_TEST_FAULT=crash:calibrate-<backend>): the child dies before measuring.
    if (const char* f = std::getenv("TB_TEST_FAULT");
        f && a.o.backends.size() == 1 && std::string(f) == "crash:calibrate-" + a.o.backends[0])
      crash_for_test();
    auto cal = profiles::calibrate(**store, a.child_run_id, a.o);
    if (!ctx.json && isatty(2)) std::cerr << "\r\033[K";
    if (!cal) std::cerr << "tierbench: calibrate: " << cal.error().message << "\n";
    return cal ? kOk : kJobFailed;
  }
  auto run_id = (*store)->begin_run(ctx.command_line, git_commit(), run_env());
  if (!run_id) return usage_error(run_id.error().message);
  std::vector<std::string> failures;
  Result<profiles::Calibration> cal = make_error("not calibrated");
  if (a.no_isolate && a.missing.empty()) {
    cal = profiles::calibrate(**store, *run_id, a.o);
  } else if (a.no_isolate) {
    for (const auto& [b, dts] : a.missing) {
      profiles::CalibrateOptions o = a.o;
      o.backends = {b}, o.dtypes = dts;
      if (cal = profiles::calibrate(**store, *run_id, o); !cal) break;
    }
  } else {
    failures = calibrate_isolated(ctx, a, names, (*store)->path(), *run_id);
    cal = profiles::load_calibration(**store, profiles::configuration_label(a.o.threads));
  }
  // Only what this run measured: entries kept from earlier runs are not this run's figures.
  if (cal) {
    auto mine = (*store)->results(*run_id);
    std::set<std::string> measured;
    if (mine)
      for (const auto& r : *mine) measured.insert(r.backend + "/" + r.dtype);
    std::erase_if(cal->entries, [&](const profiles::BackendCalibration& e) {
      return !measured.count(e.backend + "/" + (e.dtype == "int8" ? "s8" : e.dtype)) &&
             !measured.count(e.backend + "/" + e.dtype);
    });
  }
  if (!ctx.json && isatty(2)) std::cerr << "\r\033[K";
  for (const auto& f : failures) std::cerr << "tierbench: calibrate: " << f << "\n";
  (void)(*store)->finish_run(*run_id, cal && failures.empty() ? "ok" : "failed");
  if (!cal) {
    std::cerr << "tierbench: calibrate: " << cal.error().message << "\n";
    return kJobFailed;
  }
  if (cal->entries.empty()) {
    std::cerr << "tierbench: calibrate: no backend could be calibrated (see 'tierbench list')\n";
    return kJobFailed;
  }
  (void)reports::calibration_reporter(ctx.json ? "json" : "table")->report(std::cout, *cal);
  if (!ctx.json) {
    std::cout << fmt::format("stored as run {} and calibration '{}' in {}\n", *run_id, cal->label,
                             (*store)->path());
  }
  return failures.empty() ? kOk : kJobFailed;
}

// --- predict -----------------------------------------------------------------------------------

struct PredictArgs {
  std::string workload, model, dtype, label, device;
  std::vector<std::string> inputs;  // --input NAME=SHAPE of --model
  std::vector<std::string> backends;
  int threads = 0;
  bool threads_set = false, layers = false;
};

const profiles::CatalogueDevice* find_device(const std::string& name) {
  std::string want = name;
  std::transform(want.begin(), want.end(), want.begin(), ::tolower);
  for (const auto& d : profiles::builtin_catalogue()) {
    std::string n = d.name;
    std::transform(n.begin(), n.end(), n.begin(), ::tolower);
    if (n.find(want) != std::string::npos) return &d;
  }
  return nullptr;
}

profiles::DeviceSpec spec_of(const profiles::CatalogueDevice& d) {
  return {d.f32_gflops, d.f16_gflops, d.int8_gops, d.bandwidth_gbps, d.storage_gbps, d.memory_gib};
}

// The graph to predict: a tier (--workload), or the user's ONNX model (--model), imported as
// `run --model` imports it; its name is the one `run` stores it under (onnx-<content hash>).
struct Subject {
  workloads::WorkloadName name;
  workloads::Graph graph;
};
Result<Subject> subject_of(const PredictArgs& a) {
  if (!a.model.empty()) {
    auto o = model_import_options(a.inputs, a.dtype.empty() ? "f32" : a.dtype);
    if (!o) return o.error();
    auto m = load_onnx_model(a.model, *o);
    if (!m) return make_error("--model: " + m.error().message);
    return Subject{m->name, std::move(m->graph)};
  }
  auto w = resolve_workload(a.workload, a.dtype);
  if (!w) return make_error("--workload: " + w.error().message);
  workloads::BuildOptions bo;
  bo.variant = w->variant;
  auto g = workloads::build_tier(w->tier, w->dtype, bo);
  if (!g) return make_error("--workload: " + g.error().message);
  return Subject{*w, std::move(*g)};
}

int run_predict(const Context& ctx, const PredictArgs& a) {
  auto subject = subject_of(a);
  if (!subject) return usage_error(subject.error().message);
  const workloads::WorkloadName* w = &subject->name;
  const workloads::Graph* g = &subject->graph;
  const profiles::CatalogueDevice* dev = nullptr;
  if (!a.device.empty() && !(dev = find_device(a.device)))
    return usage_error("--device: no catalogue device matches '" + a.device +
                       "' (see profiles/data/devices.json)");
  auto store = open_store(ctx);
  if (!store) return usage_error(store.error().message);
  const std::string label = !a.label.empty() ? a.label
                            : a.threads_set  ? profiles::configuration_label(a.threads)
                                             : "";
  auto cal = profiles::load_calibration(**store, label);
  if (!cal) return usage_error(cal.error().message);

  std::vector<std::string> backends = a.backends;
  if (backends.empty())
    for (const auto& e : cal->entries)
      if (std::find(backends.begin(), backends.end(), e.backend) == backends.end())
        backends.push_back(e.backend);
  auto all = make_backends();
  std::vector<ModelEstimate> out;
  for (const auto& name : backends) {
    profiles::PredictOptions po;
    if (dev) po.target = spec_of(*dev);
    for (auto& b : all)
      if (b->name() == name && !dev && b->availability().available)
        po.supports = [bp = b.get()](const Problem& p) { return bp->supports(p, 0).supported; };
    out.push_back(profiles::predict(*g, *cal, name, po));
  }
  const reports::Prediction p{w->str(), cal->label, dev ? dev->name : "", std::move(out), a.layers};
  (void)reports::prediction_reporter(ctx.json ? "json" : "table")->report(std::cout, p);
  return kOk;
}

}  // namespace

void add_calibrate_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<CalibrateArgs>();
  auto* cmd = app.add_subcommand(
      "calibrate",
      "Calibrate the predictor: op classes at representative shapes as device-graph chains per "
      "backend and dtype, overheads, compile, upload and storage throughput (a few minutes)");
  cmd->add_option("-b,--backend", a->o.backends,
                  "Backends, repeated or comma-separated (default: every available one)")
      ->delimiter(',');
  cmd->add_option("--dtype", a->dtypes, "Data types: f32, bf16, int8 (default: all three)");
  cmd->add_option("--threads", a->o.threads, "CPU threads (0: all)")->check(kNonNegative);
  cmd->add_option("--max-time", a->o.sample_s, "Sampling budget per chain, seconds")
      ->check(kPositive);
  cmd->add_flag("--quick", a->o.quick, "One shape per op class (coarser, faster)");
  cmd->add_flag("--no-isolate", a->no_isolate,
                "Calibrate every backend in this process (no crash isolation)");
  cmd->add_flag("--if-missing", a->if_missing,
                "Keep a stored calibration of this configuration that covers every backend and "
                "dtype asked (the main job's first run calibrates, later runs reuse it)");
  cmd->add_option("--timeout", a->timeout_s, "Per-backend timeout, seconds")->check(kPositive);
  cmd->add_option("--child-run-id", a->child_run_id)->group("");  // internal
  cmd->add_option("--work-dir", a->o.work_dir)->group("");        // internal: the children's
  cmd->callback([&ctx, &action, a] { action = [&ctx, a] { return run_calibrate(ctx, *a); }; });
}

void add_predict_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand(
      "predict",
      "Predict a tier's or your ONNX model's latency, cold start and peak memory from the stored "
      "calibration, without running it (--device: projected onto a catalogue device)");
  auto* wl =
      cmd->add_option("-w,--workload", a->workload, "tier, tier:variant or tier:variant:dtype");
  auto* model = cmd->add_option("-m,--model", a->model,
                                "Your ONNX model instead of a tier (imported as `run --model` "
                                "imports it)");
  wl->excludes(model);
  model->excludes(wl);
  cmd->add_option("--input", a->inputs, "--model's input shapes: NAME=DxDx... (dynamic dims)")
      ->needs(model);
  cmd->add_option("--dtype", a->dtype,
                  "f32, bf16 or int8 (default: the tier's first; --model: f32)");
  cmd->add_option("-b,--backend", a->backends,
                  "Backends, repeated or comma-separated (default: every calibrated one)")
      ->delimiter(',');
  auto* th = cmd->add_option("--threads", a->threads, "The calibration of this thread count")
                 ->check(kNonNegative);
  cmd->add_option("--calibration", a->label, "A stored calibration label, e.g. threads=1");
  cmd->add_option("--device", a->device, "Project onto a catalogue device (name substring)");
  cmd->add_flag("--layers", a->layers, "Per-layer latency and output bytes (split points)");
  cmd->callback([&ctx, &action, a, th, wl, model] {
    if (wl->count() + model->count() == 0) throw CLI::RequiredError("--workload or --model");
    a->threads_set = th->count() > 0;
    action = [&ctx, a] { return run_predict(ctx, *a); };
  });
}

}  // namespace tb::cli

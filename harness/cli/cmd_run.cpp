// tierbench run: kernels on every selected backend, validated against the reference, timed,
// and committed to the results store one result at a time.
//
// By default each backend runs in its own child process under a timeout (isolation.h), so a
// backend that crashes or hangs is recorded as an error and the others finish; every result
// committed before a crash stays in the store. The options: run_options.h.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <random>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "environment.h"
#include "isolation.h"
#include "kernels.h"
#include "model_arg.h"
#include "probes.h"
#include "problem_limits.h"
#include "reporter.h"
#include "reports.h"
#include "run_options.h"
#include "runner.h"
#include "selection.h"
#include "store.h"
#include "store_tune.h"
#include "version.h"
#include "workload_runner.h"
#include "workloads.h"

namespace tb::cli {

namespace {

std::vector<std::string> known_backends() {
  std::vector<std::string> v;
  for (auto& b : make_backends()) v.emplace_back(b->name());
  return v;
}

// The tiers, then the --model files, --repetitions times (one result each), each repetition in
// a seeded random order with --interleave: as the kernel runner orders its problems.
std::vector<std::pair<const workloads::WorkloadName*, const ExternalModel*>> workload_order(
    const std::vector<workloads::WorkloadName>& wl, const std::vector<ExternalModel>& models,
    const KernelRunOptions& o) {
  std::vector<std::pair<const workloads::WorkloadName*, const ExternalModel*>> order;
  std::mt19937_64 rng(o.seed);
  const auto items = static_cast<std::ptrdiff_t>(wl.size() + models.size());
  for (int rep = 0; rep < std::max(1, o.repetitions); ++rep) {
    for (const auto& w : wl) order.emplace_back(&w, nullptr);
    for (const auto& m : models) order.emplace_back(nullptr, &m);
    if (o.interleave) std::shuffle(order.end() - items, order.end(), rng);
  }
  return order;
}

// Kernel problems, then model tiers, on one backend in this process; records the backend's
// library and driver versions in the run's environment. Returns the number of failed results.
int run_one_backend(Store& store, std::int64_t run_id, const std::string& name,
                    const std::vector<Problem>& problems,
                    const std::vector<workloads::WorkloadName>& wl,
                    const std::vector<ExternalModel>& models, const RunOptions& a) {
  // Per-result lines in-process only; an isolated run's parent draws a progress bar instead.
  const bool tty = isatty(2) && a.child_run_id == 0;
  const auto progress = [tty](const ResultRecord& r) {
    if (tty)
      std::cerr << fmt::format("  {:<10} {:<34} {:<11} {} ms\n", r.backend, r.name,
                               status_name(r.status), reports::format_ms(r.median_s));
  };
  int failed = 0;
  // Tuning winners go to the same store as the results (the default is a cache file).
  if (auto ts = StoreTuneStore::open(store.path())) set_tune_store(ts);
  for (auto& b : make_backends()) {
    if (b->name() != name) continue;
    if (auto run = store.run(run_id); run) {
      nlohmann::json env = run->env;
      const Availability av = b->availability();
      env["libraries"][name] = av.available ? b->version() : "unavailable: " + av.reason;
      (void)store.update_run_env(run_id, env);
    }
    KernelRunOptions ko = a.kopts;
    if (auto probe = store.latest_result("probe"); probe && probe->has_value())
      ko.peak_gflops = peak_lookup_from_probe(name, (*probe)->metrics);
    // An isolated child marks each item in flight, for the parent to blame if it dies.
    const auto in_flight = [&](const std::string& item) {
      if (a.child_run_id > 0) (void)store.put(kInFlightNs, in_flight_key(run_id, name), item);
    };
    ko.on_start = in_flight;
    if (!problems.empty()) failed += run_backend(store, run_id, *b, problems, ko, progress);
    WorkloadOptions wo = a.wopts;
    wo.threads = a.kopts.threads;
    wo.seed = a.kopts.seed;
    for (const auto& [w, m] : workload_order(wl, models, a.kopts)) {
      in_flight(w ? w->str() : m->name.str());
      for (const auto& r : w ? run_workload(store, run_id, *b, *w, wo, progress)
                             : run_external_model(store, run_id, *b, *m, wo, progress))
        failed += r.status == Status::failed || r.status == Status::error;
    }
  }
  return failed;
}

// --model: the user's ONNX file, imported once per --dtype (default f32) before anything runs,
// so that an unsupported op is a usage error (exit 2) naming the node.
Result<std::vector<ExternalModel>> import_models(const RunOptions& a) {
  std::vector<ExternalModel> models;
  if (a.model.empty()) {
    if (!a.inputs.empty()) return make_error("--input binds the inputs of a --model");
    return models;
  }
  for (const auto& d : a.dtypes.empty() ? std::vector<std::string>{"f32"} : a.dtypes) {
    auto opts = model_import_options(a.inputs, d);
    if (!opts) return opts.error();
    auto m = load_onnx_model(a.model, *opts);
    if (!m) return make_error("--model " + m.error().message);
    models.push_back(std::move(*m));
  }
  return models;
}

// The environment stored with the run: the machine, the build, the switches, the options.
nlohmann::json run_environment(const RunOptions& a) {
  env::EnvironmentInputs ein;
  ein.git_commit = git_commit();
  ein.git_dirty = git_dirty();
  ein.compiler_flags = cxx_flags();
  ein.build_type = build_type();
  nlohmann::json env = env::capture_environment(ein);
  env["tierbench"] = version_string();
  env["run_options"] = {{"threads", a.kopts.threads},
                        {"isolate", !a.no_isolate},
                        {"pin", a.pin},
                        {"seed", a.kopts.seed},
                        {"repetitions", a.kopts.repetitions},
                        {"interleave", a.kopts.interleave},
                        {"target_ci", a.kopts.sampling.target_ci},
                        {"max_time_s", a.kopts.sampling.max_time_s}};
  return env;
}

// The results table of the run (the run reporter's "table", read from the store like every
// other format), or its JSON; the exit code.
int render(const Context& ctx, Store& store, const std::string& db, std::int64_t run_id,
           const std::vector<ResultRecord>& results, int failed) {
  if (ctx.json) {
    nlohmann::json out = {{"run_id", run_id}, {"db", db}, {"results", nlohmann::json::array()}};
    for (const auto& r : results) out["results"].push_back(reports::result_json(r));
    std::cout << out.dump(2) << "\n";
  } else {
    if (auto r = reports::run_reporter("table")->report(std::cout, {store, run_id}); !r)
      return usage_error(r.error().message);
    fmt::print("\nrun {} stored in {}{}\n", run_id, db,
               failed ? fmt::format(" — {} failed", failed) : "");
  }
  return failed ? kJobFailed : kOk;
}

int do_run(const Context& ctx, RunOptions a) {
  if (a.pin) {
    // Read by libgomp at its first parallel region, in this process and the children.
    setenv("OMP_PROC_BIND", "close", 1);
    setenv("OMP_PLACES", "cores", 1);
  }
  Work w;
  auto models = import_models(a);
  if (!models) return usage_error(models.error().message);
  w.models = std::move(*models);
  SelectionArgs sa{a.problems, a.sizes, a.suite, a.workloads, a.dtypes, !w.models.empty()};
  auto sel = select_work(sa);
  if (!sel) return usage_error(sel.error().message);
  w.problems = sel->problems;
  w.workloads = sel->workloads;
  if (!a.wopts.weights_path.empty())
    if (auto c = check_user_weights(w.workloads, a.wopts.weights_path); !c)
      return usage_error("--weights: " + c.error().message);
  a.workloads.clear();
  for (const auto& t : w.workloads) a.workloads.push_back(t.str());
  a.problems.clear();
  for (const auto& p : w.problems) a.problems.push_back(p.str());

  const auto names = known_backends();
  for (const auto& b : a.backends)
    if (std::find(names.begin(), names.end(), b) == names.end())
      return usage_error("--backend: unknown backend '" + b + "' (valid: " + join(names) + ")");
  const std::vector<std::string> selected = a.backends.empty() ? names : a.backends;

  const std::string db = ctx.db_path.empty() ? Store::default_path() : ctx.db_path;
  auto store = Store::open(db);
  if (!store) return usage_error(store.error().message);

  // Child of an isolated run: run the one backend into the parent's run and exit.
  if (a.child_run_id > 0) {
    int failed = 0;
    for (const auto& name : selected)
      failed +=
          run_one_backend(**store, a.child_run_id, name, w.problems, w.workloads, w.models, a);
    return failed ? kJobFailed : kOk;
  }

  auto run_id = (*store)->begin_run(ctx.command_line, git_commit(), run_environment(a));
  if (!run_id) return usage_error(run_id.error().message);
  if (isatty(2) && !ctx.json) std::cerr << fmt::format("run {} -> {}\n", run_id.value(), db);

  if (a.no_isolate) {
    for (const auto& name : selected)
      (void)run_one_backend(**store, run_id.value(), name, w.problems, w.workloads, w.models, a);
  } else {
    run_isolated(ctx, a, selected, w, db, run_id.value(), **store);
  }
  auto results = (*store)->results(run_id.value());
  if (!results) return usage_error(results.error().message);
  int failed = 0;
  for (const auto& r : results.value())
    if (r.status == Status::failed || r.status == Status::error) ++failed;
  if (auto run = (*store)->run(run_id.value()); run) {
    nlohmann::json env = run->env;
    env["loadavg_end"] = env::loadavg_json();
    (void)(*store)->update_run_env(run_id.value(), env);
  }
  (void)(*store)->finish_run(run_id.value(), failed ? "failed" : "ok");
  return render(ctx, **store, db, run_id.value(), results.value(), failed);
}

}  // namespace

void add_run_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Validate and time kernels on every available backend");
  add_run_options(*cmd, *a);
  cmd->callback([&ctx, &action, a] {
    if (a->kopts.sampling.max_reps < a->kopts.sampling.min_reps)
      throw CLI::ValidationError("--max-reps", "must be at least --min-reps");
    action = [&ctx, a] { return do_run(ctx, *a); };
  });
}

}  // namespace tb::cli

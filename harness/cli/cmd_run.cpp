// tierbench run: kernels on every selected backend, validated against the reference, timed,
// and committed to the results store one result at a time.
//
// By default each backend runs in its own child process (this executable, re-run with
// --child-run-id) under a timeout, so a backend that crashes or hangs is recorded as an error
// and the others finish; every result committed before a crash stays in the store.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <set>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "environment.h"
#include "kernels.h"
#include "model_arg.h"
#include "probes.h"
#include "problem_limits.h"
#include "reports.h"
#include "runner.h"
#include "selection.h"
#include "store.h"
#include "store_tune.h"
#include "version.h"
#include "workload_runner.h"
#include "workloads.h"

extern char** environ;

namespace tb::cli {

namespace {

struct RunArgs {
  std::vector<std::string> backends;
  std::vector<std::int64_t> sizes;
  std::vector<std::string> problems;
  std::string suite;
  std::vector<std::string> workloads;  // tier, or tier:variant:dtype
  std::vector<std::string> dtypes;     // filter for tiers named without a dtype
  std::string model;                   // --model FILE.onnx
  std::vector<std::string> inputs;     // --input NAME=SHAPE
  KernelRunOptions kopts;
  WorkloadOptions wopts;
  bool no_isolate = false;
  bool pin = false;
  double timeout_s = 600;
  std::int64_t child_run_id = 0;  // internal: set in the child processes of an isolated run
};

std::vector<std::string> known_backends() {
  std::vector<std::string> v;
  for (auto& b : make_backends()) v.emplace_back(b->name());
  return v;
}

// Spawns this executable for one backend and waits up to timeout_s. Returns "" when the child
// exited 0, else what happened (signal, timeout, exit code, spawn failure).
// A progress bar on stderr while isolated children run: results committed so far (read back
// from the store, the only channel between the processes), the last one, and the time left
// estimated from the pace so far. Only on a terminal, never with --json.
class Progress {
 public:
  // `expected`: (backend, item) in the order the children run them; the current item is the
  // first one not yet in the store (approximate under --interleave, which shuffles the order).
  Progress(bool enabled, std::vector<std::string> expected)
      : enabled_(enabled),
        total_(static_cast<std::int64_t>(expected.size())),
        expected_(std::move(expected)) {}
  void update(Store& store, std::int64_t run_id) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    auto res = store.results(run_id);
    if (!res) return;
    const auto done = static_cast<std::int64_t>(res->size());
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    std::string eta = "--:--";
    if (done > 0 && done < total_) {
      const auto left = static_cast<int>(elapsed / static_cast<double>(done) *
                                         static_cast<double>(total_ - done));
      eta = fmt::format("{}:{:02}", left / 60, left % 60);
    }
    constexpr int kWidth = 24;
    const auto filled =
        static_cast<int>(kWidth * std::min(done, total_) / std::max<std::int64_t>(total_, 1));
    std::string last = done < total_ ? expected_[static_cast<std::size_t>(done)] : "";
    if (last.size() > 40) last = last.substr(0, 37) + "...";
    std::cerr << fmt::format("\r[{}{}] {}/{}  left ~{}  now: {:<40}", std::string(filled, '#'),
                             std::string(kWidth - filled, '.'), done, total_, eta, last)
              << std::flush;
    drawn_ = true;
  }
  ~Progress() {
    if (drawn_) std::cerr << "\r" << std::string(110, ' ') << "\r" << std::flush;
  }

 private:
  bool enabled_;
  std::int64_t total_;
  std::vector<std::string> expected_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

std::string run_child(const Context& ctx, const RunArgs& a, const std::string& backend,
                      const std::string& db, std::int64_t run_id, Store& store,
                      Progress& progress) {
  std::vector<std::string> args = {ctx.argv0,
                                   "--db",
                                   db,
                                   "run",
                                   "--backend",
                                   backend,
                                   "--child-run-id",
                                   std::to_string(run_id),
                                   "--no-isolate"};
  for (const auto& p : a.problems) args.insert(args.end(), {"--problem", p});
  for (const auto& w : a.workloads) args.insert(args.end(), {"--workload", w});
  if (!a.model.empty()) {
    args.insert(args.end(), {"--model", a.model});
    for (const auto& i : a.inputs) args.insert(args.end(), {"--input", i});
    for (const auto& d : a.dtypes) args.insert(args.end(), {"--dtype", d});
  }
  const auto& s = a.kopts.sampling;
  args.insert(
      args.end(),
      {"--threads", std::to_string(a.kopts.threads), "--seed", std::to_string(a.kopts.seed),
       "--warmup", std::to_string(s.warmup), "--min-reps", std::to_string(s.min_reps), "--max-reps",
       std::to_string(s.max_reps), "--max-time", fmt::format("{}", s.max_time_s), "--target-ci",
       fmt::format("{}", s.target_ci), "--repetitions", std::to_string(a.kopts.repetitions)});
  if (a.kopts.interleave) args.push_back("--interleave");
  if (!a.kopts.counters) args.push_back("--no-counters");
  if (!a.wopts.weights_path.empty()) args.insert(args.end(), {"--weights", a.wopts.weights_path});
  std::vector<char*> argv;
  for (auto& x : args) argv.push_back(x.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const std::string exe = "/proc/self/exe";
  if (int e = posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ); e != 0)
    return std::string("could not start the backend process: ") + std::strerror(e);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(a.timeout_s);
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0) return std::string("waitpid: ") + std::strerror(errno);
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return fmt::format("timed out after {:.0f} s (backend hung or too slow); killed",
                         a.timeout_s);
    }
    progress.update(store, run_id);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFSIGNALED(status))
    return fmt::format("backend process crashed with signal {} ({})", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
  // A failed result also exits 1; only the results it did not store are recorded with this.
  if (WIFEXITED(status) && WEXITSTATUS(status) != kOk)
    return fmt::format("backend process exited with code {} before storing this result",
                       WEXITSTATUS(status));
  return "";
}

// Kernel problems, then model tiers, on one backend in this process; records the backend's
// library and driver versions in the run's environment. Returns the number of failed results.
int run_one_backend(Store& store, std::int64_t run_id, const std::string& name,
                    const std::vector<Problem>& problems,
                    const std::vector<workloads::WorkloadName>& wl,
                    const std::vector<ExternalModel>& models, const RunArgs& a) {
  // Per-result lines in-process only; an isolated run's parent draws a progress bar instead.
  const bool tty = isatty(2) && a.child_run_id == 0;
  const auto progress = [tty](const ResultRecord& r) {
    if (tty)
      std::cerr << fmt::format("  {:<10} {:<34} {:<11} {} ms\n", r.backend, r.name, r.status,
                               reports::format_ms(r.median_s));
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
    if (!problems.empty()) failed += run_backend(store, run_id, *b, problems, ko, progress);
    WorkloadOptions wo = a.wopts;
    wo.threads = a.kopts.threads;
    wo.seed = a.kopts.seed;
    for (const auto& w : wl)
      for (const auto& r : run_workload(store, run_id, *b, w, wo, progress))
        failed += r.status == "failed" || r.status == "error";
    for (const auto& m : models)
      for (const auto& r : run_external_model(store, run_id, *b, m, wo, progress))
        failed += r.status == "failed" || r.status == "error";
  }
  return failed;
}

int do_run(const Context& ctx, RunArgs a) {
  if (a.pin) {
    // Read by libgomp at its first parallel region, in this process and the children.
    setenv("OMP_PROC_BIND", "close", 1);
    setenv("OMP_PLACES", "cores", 1);
  }
  // --model: the user's ONNX file, imported once per --dtype (default f32) before anything runs,
  // so that an unsupported op is a usage error (exit 2) naming the node.
  std::vector<ExternalModel> models;
  if (!a.model.empty()) {
    for (const auto& d : a.dtypes.empty() ? std::vector<std::string>{"f32"} : a.dtypes) {
      auto opts = model_import_options(a.inputs, d);
      if (!opts) return usage_error(opts.error().message);
      auto m = load_onnx_model(a.model, *opts);
      if (!m) return usage_error("--model " + m.error().message);
      models.push_back(std::move(*m));
    }
  } else if (!a.inputs.empty()) {
    return usage_error("--input binds the inputs of a --model");
  }
  SelectionArgs sa{a.problems, a.sizes, a.suite, a.workloads, a.dtypes, !models.empty()};
  auto sel = select_work(sa);
  if (!sel) return usage_error(sel.error().message);
  const std::vector<Problem>& problems = sel->problems;
  const std::vector<workloads::WorkloadName>& wl = sel->workloads;
  if (!a.wopts.weights_path.empty())
    if (auto c = check_user_weights(wl, a.wopts.weights_path); !c)
      return usage_error("--weights: " + c.error().message);
  a.workloads.clear();
  for (const auto& w : wl) a.workloads.push_back(w.str());
  a.problems.clear();
  for (const auto& p : problems) a.problems.push_back(p.str());

  const auto names = known_backends();
  for (const auto& b : a.backends)
    if (std::find(names.begin(), names.end(), b) == names.end())
      return usage_error("--backend: unknown backend '" + b + "' (valid: " + join(names) + ")");
  std::vector<std::string> selected = a.backends.empty() ? names : a.backends;

  const std::string db = ctx.db_path.empty() ? Store::default_path() : ctx.db_path;
  auto store = Store::open(db);
  if (!store) return usage_error(store.error().message);

  // Child of an isolated run: run the one backend into the parent's run and exit.
  if (a.child_run_id > 0) {
    int failed = 0;
    for (const auto& name : selected)
      failed += run_one_backend(**store, a.child_run_id, name, problems, wl, models, a);
    return failed ? kJobFailed : kOk;
  }

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
  auto run_id = (*store)->begin_run(ctx.command_line, git_commit(), env);
  if (!run_id) return usage_error(run_id.error().message);
  if (isatty(2) && !ctx.json) std::cerr << fmt::format("run {} -> {}\n", run_id.value(), db);

  int failed = 0;
  {
    std::vector<std::string> expected;
    for (const auto& name : selected)
      for (int rep = 0; rep < std::max(1, a.kopts.repetitions); ++rep) {
        for (const auto& p : problems) expected.push_back(name + " " + p.str());
        if (rep == 0) {
          for (const auto& w : wl) expected.push_back(name + " " + w.str());
          for (const auto& m : models) expected.push_back(name + " " + m.name.str());
        }
      }
    Progress progress(isatty(2) && !ctx.json && !a.no_isolate, std::move(expected));
    for (const auto& name : selected) {
      if (a.no_isolate) {
        failed += run_one_backend(**store, run_id.value(), name, problems, wl, models, a);
        continue;
      }
      const std::string why = run_child(ctx, a, name, db, run_id.value(), **store, progress);
      if (why.empty()) continue;
      // The child died: keep what it committed, record the rest as errors.
      auto done = (*store)->results(run_id.value());
      std::set<std::string> have;
      if (done)
        for (const auto& r : done.value())
          if (r.backend == name) have.insert(r.name);
      std::vector<std::pair<std::string, std::string>> expected;  // name, dtype
      for (const auto& p : problems) expected.emplace_back(p.str(), dtype_name(p.dtype));
      for (const auto& w : wl) expected.emplace_back(w.str(), w.dtype);
      for (const auto& m : models) expected.emplace_back(m.name.str(), m.name.dtype);
      for (const auto& [ename, edtype] : expected) {
        if (have.count(ename)) continue;
        ResultRecord r;
        r.run_id = run_id.value();
        r.kind = ename.rfind(':') != std::string::npos &&
                         (workloads::find_tier(ename.substr(0, ename.find(':'))) ||
                          ename.rfind("onnx-", 0) == 0)
                     ? "workload"
                     : "kernel";
        r.name = ename;
        r.backend = name;
        r.dtype = edtype;
        r.status = "error";
        r.message = why;
        (void)(*store)->add_result(r);
      }
    }
  }
  auto results = (*store)->results(run_id.value());
  if (!results) return usage_error(results.error().message);
  for (const auto& r : results.value())
    if (r.status == "failed" || r.status == "error") ++failed;
  if (auto run = (*store)->run(run_id.value()); run) {
    nlohmann::json env = run->env;
    env["loadavg_end"] = env::loadavg_json();
    (void)(*store)->update_run_env(run_id.value(), env);
  }
  (void)(*store)->finish_run(run_id.value(), failed ? "failed" : "ok");

  if (ctx.json) {
    nlohmann::json out = {
        {"run_id", run_id.value()}, {"db", db}, {"results", nlohmann::json::array()}};
    for (const auto& r : results.value()) out["results"].push_back(reports::result_json(r));
    std::cout << out.dump(2) << "\n";
  } else {
    reports::print_results_table(std::cout, results.value());
    fmt::print("\nrun {} stored in {}{}\n", run_id.value(), db,
               failed ? fmt::format(" — {} failed", failed) : "");
  }
  return failed ? kJobFailed : kOk;
}

}  // namespace

void add_run_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Validate and time kernels on every available backend");
  cmd->add_option("-b,--backend", a->backends,
                  "Backends to run, repeated or comma-separated (default: all)")
      ->delimiter(',');
  cmd->add_option("--size", a->sizes, "Square f32 GEMM sizes (default: 256 1024)")
      ->check(kPositive);
  cmd->add_option("-s,--suite", a->suite,
                  "Suite of problems (default: quick, when no --problem/--size)");
  cmd->add_option("-w,--workload", a->workloads,
                  "Model tiers: a tier name (all its data types) or tier:variant:dtype");
  cmd->add_option("--dtype", a->dtypes,
                  "Data types of the tiers (and of --model) to run: f32, bf16, int8");
  cmd->add_option("--model", a->model,
                  "Your ONNX model (opset 11+), run like a tier on every backend")
      ->check(CLI::ExistingFile);
  cmd->add_option("--input", a->inputs,
                  "Shape of a --model input, binding its dynamic dimensions: NAME=1x3x224x224");
  cmd->add_option("--weights", a->wopts.weights_path,
                  "Your own safetensors file for the (single) tier selected");
  cmd->add_option("-p,--problem", a->problems,
                  "Problems as canonical strings, e.g. gemm:m512n512k512:f32");
  auto& k = a->kopts;
  cmd->add_option("--threads", k.threads, "CPU threads (0: all)")->check(kNonNegative);
  cmd->add_option("--seed", k.seed, "Seed of the random inputs");
  cmd->add_option("--warmup", k.sampling.warmup, "Untimed executions before sampling")
      ->check(kNonNegative);
  cmd->add_option("--min-reps", k.sampling.min_reps, "Minimum samples")->check(kPositive);
  cmd->add_option("--max-reps", k.sampling.max_reps, "Maximum samples")->check(kPositive);
  cmd->add_option("--max-time", k.sampling.max_time_s, "Sampling budget per benchmark, seconds")
      ->check(kPositive);
  cmd->add_option("--target-ci", k.sampling.target_ci,
                  "Stop when the 95% CI of the median is within this fraction of it")
      ->check(CLI::Range(0.0001, 1.0));
  cmd->add_option("--repetitions", k.repetitions, "Run the whole problem list this many times")
      ->check(kPositive);
  cmd->add_flag("--interleave", k.interleave,
                "Each repetition in a seeded random order (spreads machine drift)");
  cmd->add_flag(
      "--no-counters", [a](std::int64_t) { a->kopts.counters = false; },
      "Do not read hardware counters (instructions, cycles)");
  cmd->add_flag("--pin", a->pin,
                "Pin CPU threads to cores (OMP_PROC_BIND=close, OMP_PLACES=cores)");
  cmd->add_flag("--no-isolate", a->no_isolate, "Run backends in this process (no crash isolation)");
  cmd->add_option("--timeout", a->timeout_s, "Per-backend timeout in isolated runs, seconds")
      ->check(kPositive);
  cmd->add_option("--child-run-id", a->child_run_id)->group("");  // internal
  cmd->callback([&ctx, &action, a] {
    if (a->kopts.sampling.max_reps < a->kopts.sampling.min_reps)
      throw CLI::ValidationError("--max-reps", "must be at least --min-reps");
    action = [&ctx, a] { return do_run(ctx, *a); };
  });
}

}  // namespace tb::cli

// The options of `tierbench run`; see run_options.h. Each option is one entry of options():
// its names, help, check, the member of RunOptions it binds, and whether a child gets it back.
// add_run_options() registers the entries and child_arguments() writes them back from the
// struct, so a new option is one entry here and reaches the children with nothing else to edit.
#include "run_options.h"

#include <functional>
#include <type_traits>

#include <fmt/core.h>

#include "cli.h"

namespace tb::cli {

namespace {

using Args = std::vector<std::string>;

// Who gets an option back: every child, a child only when --model is given (the model's own
// dtypes and inputs; the parent folds them into the tier names otherwise), or nobody (the parent
// resolves it: parent_only_options()).
enum class Forward { always, with_model, parent_only };

struct OptionSpec {
  std::string names, help;
  Forward forward = Forward::always;
  std::function<CLI::Option*(CLI::App&, RunOptions&)> add;
  std::function<void(const RunOptions&, Args&)> emit;  // appends "--name value..." when set
  std::string long_name() const { return names.substr(names.rfind("--")); }
};

// The long name with the value as the command line reads it back.
template <class T>
void emit_value(Args& args, const std::string& name, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    if (v) args.push_back(name);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.empty()) args.insert(args.end(), {name, v});
  } else if constexpr (std::is_arithmetic_v<T>) {
    args.insert(args.end(), {name, fmt::format("{}", v)});  // shortest exact form
  } else {
    for (const auto& x : v) emit_value(args, name, x);
  }
}

// An option bound to the member `get(o)` returns (a generic lambda, for const and non-const).
template <class Get>
OptionSpec option(std::string names, std::string help, Get get, Forward f = Forward::always,
                  std::function<void(CLI::Option*)> tweak = {}) {
  OptionSpec s{names, help, f, nullptr, nullptr};
  const std::string name = s.long_name();
  s.add = [names, help, get, tweak](CLI::App& cmd, RunOptions& o) {
    using T = std::remove_reference_t<decltype(get(o))>;
    CLI::Option* opt = nullptr;
    if constexpr (std::is_same_v<T, bool>)
      opt = cmd.add_flag(names, get(o), help);
    else
      opt = cmd.add_option(names, get(o), help);
    if (tweak) tweak(opt);
    return opt;
  };
  s.emit = [name, get](const RunOptions& o, Args& args) { emit_value(args, name, get(o)); };
  return s;
}

const std::vector<OptionSpec>& options() {
  const auto check = [](CLI::Validator v) { return [v](CLI::Option* o) { o->check(v); }; };
  static const std::vector<OptionSpec> v = {
      option(
          "-b,--backend", "Backends to run, repeated or comma-separated (default: all)",
          [](auto& o) -> auto& { return o.backends; }, Forward::parent_only,
          [](CLI::Option* o) { o->delimiter(','); }),
      option(
          "--size", "Square f32 GEMM sizes (default: 256 1024)",
          [](auto& o) -> auto& { return o.sizes; }, Forward::parent_only, check(kPositive)),
      option(
          "-s,--suite", "Suite of problems (default: quick, when no --problem/--size)",
          [](auto& o) -> auto& { return o.suite; }, Forward::parent_only),
      option(
          "-w,--workload", "Model tiers: a tier name (all its data types) or tier:variant:dtype",
          [](auto& o) -> auto& { return o.workloads; }),
      option(
          "--dtype", "Data types of the tiers (and of --model) to run: f32, bf16, int8",
          [](auto& o) -> auto& { return o.dtypes; }, Forward::with_model),
      option(
          "--model", "Your ONNX model (opset 11+), run like a tier on every backend",
          [](auto& o) -> auto& { return o.model; }, Forward::always, check(CLI::ExistingFile)),
      option(
          "--input", "Shape of a --model input, binding its dynamic dimensions: NAME=1x3x224x224",
          [](auto& o) -> auto& { return o.inputs; }, Forward::with_model),
      option(
          "--weights", "Your own safetensors file for the (single) tier selected",
          [](auto& o) -> auto& { return o.wopts.weights_path; }),
      option(
          "-p,--problem", "Problems as canonical strings, e.g. gemm:m512n512k512:f32",
          [](auto& o) -> auto& { return o.problems; }),
      option(
          "--threads", "CPU threads (0: all)", [](auto& o) -> auto& { return o.kopts.threads; },
          Forward::always, check(kNonNegative)),
      option(
          "--seed", "Seed of the random inputs", [](auto& o) -> auto& { return o.kopts.seed; }),
      option(
          "--warmup", "Untimed executions before sampling",
          [](auto& o) -> auto& { return o.kopts.sampling.warmup; }, Forward::always,
          check(kNonNegative)),
      option(
          "--min-reps", "Minimum samples",
          [](auto& o) -> auto& { return o.kopts.sampling.min_reps; }, Forward::always,
          check(kPositive)),
      option(
          "--max-reps", "Maximum samples",
          [](auto& o) -> auto& { return o.kopts.sampling.max_reps; }, Forward::always,
          check(kPositive)),
      option(
          "--max-time", "Sampling budget per benchmark, seconds",
          [](auto& o) -> auto& { return o.kopts.sampling.max_time_s; }, Forward::always,
          check(kPositive)),
      option(
          "--target-ci", "Stop when the 95% CI of the median is within this fraction of it",
          [](auto& o) -> auto& { return o.kopts.sampling.target_ci; }, Forward::always,
          check(CLI::Range(0.0001, 1.0))),
      option(
          "--repetitions", "Run every problem, tier and --model this many times (one result each)",
          [](auto& o) -> auto& { return o.kopts.repetitions; }, Forward::always, check(kPositive)),
      option(
          "--profile-layers",
          "Also time every layer of the tiers and --model (after the timed samples): where "
          "each one's time goes",
          [](auto& o) -> auto& { return o.wopts.profile_layers; }),
      option(
          "--interleave", "Each repetition in a seeded random order (spreads machine drift)",
          [](auto& o) -> auto& { return o.kopts.interleave; }),
      // A flag that clears a member: registered and written back by hand.
      OptionSpec{"--no-counters", "Do not read hardware counters (instructions, cycles)",
                 Forward::always,
                 [](CLI::App& cmd, RunOptions& o) {
                   return cmd.add_flag(
                       "--no-counters", [&o](std::int64_t) { o.kopts.counters = false; },
                       "Do not read hardware counters (instructions, cycles)");
                 },
                 [](const RunOptions& o, Args& args) {
                   if (!o.kopts.counters) args.push_back("--no-counters");
                 }},
      option(
          "--pin", "Pin CPU threads to cores (OMP_PROC_BIND=close, OMP_PLACES=cores)",
          [](auto& o) -> auto& { return o.pin; }, Forward::parent_only),
      option(
          "--no-isolate", "Run backends in this process (no crash isolation)",
          [](auto& o) -> auto& { return o.no_isolate; }, Forward::parent_only),
      option(
          "--timeout", "Per-backend timeout in isolated runs, seconds",
          [](auto& o) -> auto& { return o.timeout_s; }, Forward::parent_only, check(kPositive)),
      option(
          "--child-run-id", "", [](auto& o) -> auto& { return o.child_run_id; },
          Forward::parent_only, [](CLI::Option* o) { o->group(""); }),  // internal
  };
  return v;
}

}  // namespace

void add_run_options(CLI::App& cmd, RunOptions& o) {
  for (const auto& s : options()) s.add(cmd, o);
}

const std::vector<std::string>& parent_only_options() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> names;
    for (const auto& s : options())
      if (s.forward == Forward::parent_only) names.push_back(s.long_name());
    return names;
  }();
  return v;
}

std::vector<std::string> child_arguments(const RunOptions& o, std::string_view backend,
                                         std::int64_t run_id) {
  std::vector<std::string> args = {"--backend", std::string(backend), "--child-run-id",
                                   std::to_string(run_id), "--no-isolate"};
  for (const auto& s : options())
    if (s.forward == Forward::always || (s.forward == Forward::with_model && !o.model.empty()))
      s.emit(o, args);
  return args;
}

}  // namespace tb::cli

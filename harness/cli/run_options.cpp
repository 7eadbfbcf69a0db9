// The options of `tierbench run`; see run_options.h.
#include "run_options.h"

#include <fmt/core.h>

#include "cli.h"

namespace tb::cli {

void add_run_options(CLI::App& cmd, RunOptions& o) {
  cmd.add_option("-b,--backend", o.backends,
                 "Backends to run, repeated or comma-separated (default: all)")
      ->delimiter(',');
  cmd.add_option("--size", o.sizes, "Square f32 GEMM sizes (default: 256 1024)")->check(kPositive);
  cmd.add_option("-s,--suite", o.suite,
                 "Suite of problems (default: quick, when no --problem/--size)");
  cmd.add_option("-w,--workload", o.workloads,
                 "Model tiers: a tier name (all its data types) or tier:variant:dtype");
  cmd.add_option("--dtype", o.dtypes,
                 "Data types of the tiers (and of --model) to run: f32, bf16, int8");
  cmd.add_option("--model", o.model,
                 "Your ONNX model (opset 11+), run like a tier on every backend")
      ->check(CLI::ExistingFile);
  cmd.add_option("--input", o.inputs,
                 "Shape of a --model input, binding its dynamic dimensions: NAME=1x3x224x224");
  cmd.add_option("--weights", o.wopts.weights_path,
                 "Your own safetensors file for the (single) tier selected");
  cmd.add_option("-p,--problem", o.problems,
                 "Problems as canonical strings, e.g. gemm:m512n512k512:f32");
  auto& k = o.kopts;
  cmd.add_option("--threads", k.threads, "CPU threads (0: all)")->check(kNonNegative);
  cmd.add_option("--seed", k.seed, "Seed of the random inputs");
  cmd.add_option("--warmup", k.sampling.warmup, "Untimed executions before sampling")
      ->check(kNonNegative);
  cmd.add_option("--min-reps", k.sampling.min_reps, "Minimum samples")->check(kPositive);
  cmd.add_option("--max-reps", k.sampling.max_reps, "Maximum samples")->check(kPositive);
  cmd.add_option("--max-time", k.sampling.max_time_s, "Sampling budget per benchmark, seconds")
      ->check(kPositive);
  cmd.add_option("--target-ci", k.sampling.target_ci,
                 "Stop when the 95% CI of the median is within this fraction of it")
      ->check(CLI::Range(0.0001, 1.0));
  cmd.add_option("--repetitions", k.repetitions, "Run the whole problem list this many times")
      ->check(kPositive);
  cmd.add_flag("--interleave", k.interleave,
               "Each repetition in a seeded random order (spreads machine drift)");
  cmd.add_flag(
      "--no-counters", [&o](std::int64_t) { o.kopts.counters = false; },
      "Do not read hardware counters (instructions, cycles)");
  cmd.add_flag("--pin", o.pin, "Pin CPU threads to cores (OMP_PROC_BIND=close, OMP_PLACES=cores)");
  cmd.add_flag("--no-isolate", o.no_isolate, "Run backends in this process (no crash isolation)");
  cmd.add_option("--timeout", o.timeout_s, "Per-backend timeout in isolated runs, seconds")
      ->check(kPositive);
  cmd.add_option("--child-run-id", o.child_run_id)->group("");  // internal
}

const std::vector<std::string>& parent_only_options() {
  static const std::vector<std::string> v = {"--backend", "--size",        "--suite",
                                             "--dtype",   "--pin",         "--no-isolate",
                                             "--timeout", "--child-run-id"};
  return v;
}

std::vector<std::string> child_arguments(const RunOptions& o, std::string_view backend,
                                         std::int64_t run_id) {
  std::vector<std::string> args = {"--backend", std::string(backend), "--child-run-id",
                                   std::to_string(run_id), "--no-isolate"};
  for (const auto& p : o.problems) args.insert(args.end(), {"--problem", p});
  for (const auto& w : o.workloads) args.insert(args.end(), {"--workload", w});
  if (!o.model.empty()) {
    args.insert(args.end(), {"--model", o.model});
    for (const auto& i : o.inputs) args.insert(args.end(), {"--input", i});
    for (const auto& d : o.dtypes) args.insert(args.end(), {"--dtype", d});
  }
  const auto& s = o.kopts.sampling;
  args.insert(
      args.end(),
      {"--threads", std::to_string(o.kopts.threads), "--seed", std::to_string(o.kopts.seed),
       "--warmup", std::to_string(s.warmup), "--min-reps", std::to_string(s.min_reps), "--max-reps",
       std::to_string(s.max_reps), "--max-time", fmt::format("{}", s.max_time_s), "--target-ci",
       fmt::format("{}", s.target_ci), "--repetitions", std::to_string(o.kopts.repetitions)});
  if (o.kopts.interleave) args.push_back("--interleave");
  if (!o.kopts.counters) args.push_back("--no-counters");
  if (!o.wopts.weights_path.empty()) args.insert(args.end(), {"--weights", o.wopts.weights_path});
  return args;
}

}  // namespace tb::cli

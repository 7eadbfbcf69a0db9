// The options of `tierbench run` round-trip through an isolated child's argument list
// (harness/cli/run_options.h): every registered option is either passed on with the same value
// or one of parent_only_options(), so that a new option cannot be forgotten by the children.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "cli_helpers.h"
#include "run_options.h"

namespace tb::cli {
namespace {

// Parses `args` (after "run") into a fresh RunOptions through the registered options.
struct Parsed {
  CLI::App app{"run"};
  RunOptions o;
  explicit Parsed(std::vector<std::string> args) {
    add_run_options(app, o);
    std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
    app.parse(args);
  }
};

std::string long_name(const CLI::Option& opt) {
  return "--" + opt.get_lnames().at(0);
}

TEST(RunOptions, EveryOptionRoundTripsThroughTheChildArgumentsOrIsParentOnly) {
  test::TempDir dir;
  const std::string model = (dir.path() / "m.onnx").string();
  std::ofstream(model) << "x";
  // Every option set to a value that is not its default (a new option must be added here, see
  // the coverage check below).
  Parsed parent({"--backend",
                 "onednn,vulkan",
                 "--size",
                 "64",
                 "--suite",
                 "quick",
                 "--workload",
                 "mobilenetv2:b1:f32",
                 "--dtype",
                 "int8",
                 "--model",
                 model,
                 "--input",
                 "x=1x3x8x8",
                 "--weights",
                 "/tmp/w.safetensors",
                 "--problem",
                 "gemm:m8n8k8:f32",
                 "--problem",
                 "gemm:m16n16k16:f32",
                 "--threads",
                 "3",
                 "--seed",
                 "7",
                 "--warmup",
                 "4",
                 "--min-reps",
                 "6",
                 "--max-reps",
                 "60",
                 "--max-time",
                 "0.25",
                 "--target-ci",
                 "0.05",
                 "--repetitions",
                 "2",
                 "--interleave",
                 "--no-counters",
                 "--profile-layers",
                 "--pin",
                 "--no-isolate",
                 "--timeout",
                 "30",
                 "--child-run-id",
                 "9"});
  for (const CLI::Option* opt : parent.app.get_options()) {
    if (opt->get_lnames().empty() || long_name(*opt) == "--help") continue;
    EXPECT_GT(opt->count(), 0u) << long_name(*opt) << " is not set by this test: add it above";
  }

  const auto args = child_arguments(parent.o, "vulkan", 12);
  Parsed child(args);
  const auto& parent_only = parent_only_options();
  for (const CLI::Option* opt : parent.app.get_options()) {
    if (opt->get_lnames().empty() || long_name(*opt) == "--help") continue;
    const std::string name = long_name(*opt);
    if (std::find(parent_only.begin(), parent_only.end(), name) != parent_only.end()) continue;
    const CLI::Option* c = child.app.get_option(name);
    EXPECT_GT(c->count(), 0u) << name << " is not passed to the child (run_options.cpp)";
    EXPECT_EQ(c->results(), opt->results()) << name;
  }
  // The values themselves, in the struct.
  EXPECT_EQ(child.o.problems, parent.o.problems);
  EXPECT_EQ(child.o.workloads, parent.o.workloads);
  EXPECT_EQ(child.o.model, parent.o.model);
  EXPECT_EQ(child.o.inputs, parent.o.inputs);
  EXPECT_EQ(child.o.dtypes, parent.o.dtypes);  // passed on with --model
  EXPECT_EQ(child.o.wopts.weights_path, parent.o.wopts.weights_path);
  const auto &pk = parent.o.kopts, &ck = child.o.kopts;
  EXPECT_EQ(ck.threads, pk.threads);
  EXPECT_EQ(ck.seed, pk.seed);
  EXPECT_EQ(ck.sampling.warmup, pk.sampling.warmup);
  EXPECT_EQ(ck.sampling.min_reps, pk.sampling.min_reps);
  EXPECT_EQ(ck.sampling.max_reps, pk.sampling.max_reps);
  EXPECT_EQ(ck.sampling.max_time_s, pk.sampling.max_time_s);
  EXPECT_EQ(ck.sampling.target_ci, pk.sampling.target_ci);
  EXPECT_EQ(ck.repetitions, pk.repetitions);
  EXPECT_EQ(ck.interleave, pk.interleave);
  EXPECT_EQ(ck.counters, pk.counters);
  // The child's own: one backend, into the parent's run, in its process.
  EXPECT_EQ(child.o.backends, std::vector<std::string>{"vulkan"});
  EXPECT_EQ(child.o.child_run_id, 12);
  EXPECT_TRUE(child.o.no_isolate);
}

TEST(RunOptions, DefaultsRoundTripToo) {
  Parsed parent({"--problem", "gemm:m8n8k8:f32"});
  Parsed child(child_arguments(parent.o, "reference", 1));
  EXPECT_EQ(child.o.kopts.sampling.max_time_s, parent.o.kopts.sampling.max_time_s);
  EXPECT_EQ(child.o.kopts.sampling.target_ci, parent.o.kopts.sampling.target_ci);
  EXPECT_EQ(child.o.kopts.counters, true);
  EXPECT_FALSE(child.o.kopts.interleave);
  EXPECT_TRUE(child.o.wopts.weights_path.empty());
  EXPECT_TRUE(child.o.dtypes.empty());
}

}  // namespace
}  // namespace tb::cli

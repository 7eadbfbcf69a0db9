// The options of `tierbench run`, in one struct: registered on the command line by
// add_run_options(), and turned back into the argument list of an isolated child process by
// child_arguments(), both from one table of the options (run_options.cpp), so that an option
// added there reaches the children with nothing else to edit (test_run_options checks that every
// registered option round-trips, or is one of parent_only_options()).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "runner.h"
#include "workload_runner.h"

namespace tb::cli {

struct RunOptions {
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

// Registers every option of `run` on `cmd`, bound to `o` (which must outlive the parse).
void add_run_options(CLI::App& cmd, RunOptions& o);

// Options the parent resolves itself and never passes on (each with why, for the test):
// backend (one per child), size / suite (expanded into --problem), dtype (folded into the
// --workload names; passed only with --model), pin (OMP_* in the inherited environment),
// no-isolate / timeout / child-run-id (the isolation itself).
const std::vector<std::string>& parent_only_options();

// The arguments after `run` for the child that runs `backend` into run `run_id` (options already
// expanded by the parent: problems and workloads listed one by one).
std::vector<std::string> child_arguments(const RunOptions& o, std::string_view backend,
                                         std::int64_t run_id);

}  // namespace tb::cli

// Crash isolation for `tierbench run`: each backend runs in a child process (this executable,
// re-run with the arguments of run_options.h's child_arguments()) under a timeout, so that a
// backend that crashes or hangs is recorded as an error and the others finish; every result a
// child committed before it died stays in the store. A child that dies inside an item (the one it
// marked in flight) costs that item only: it is recorded as an error saying what happened and a
// new child runs the rest; one that dies elsewhere has the items it did not reach filled in. A
// progress bar on stderr follows the children through the store, the only channel between the
// processes. `calibrate` and `tune` run their backends in children with the same spawner.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cli.h"
#include "problem.h"
#include "run_options.h"
#include "store.h"
#include "workload_runner.h"
#include "workloads.h"

namespace tb::cli {

// A progress bar on stderr while isolated children run: results committed so far (read back
// from the store), the current item, and the time left estimated from the pace so far. Only on
// a terminal, never with --json.
class Progress {
 public:
  // `expected`: (backend, item) in the order the children run them; the current item is the
  // first one not yet in the store (approximate under --interleave, which shuffles the order).
  Progress(bool enabled, std::vector<std::string> expected);
  void update(Store& store, std::int64_t run_id);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  bool enabled_;
  std::int64_t total_;
  std::vector<std::string> expected_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

// Spawns this executable with `args` (argv[0] first) and waits up to timeout_s, calling `tick`
// every 20 ms. Returns "" when the child exited 0, else what happened (signal, timeout, exit
// code, spawn failure).
std::string run_child(std::vector<std::string> args, double timeout_s,
                      const std::function<void()>& tick);

// Spawns this executable with `args` and waits until it exits or `stop` (polled every 20 ms)
// returns true, which kills it. Returns "" when the child exited 0, else what happened ("stopped"
// when `stop` ended it).
std::string run_child_until(std::vector<std::string> args, const std::function<bool()>& stop);

// One benchmark a child was expected to store: name, dtype and kind ("kernel" or "workload").
struct ExpectedResult {
  std::string name, dtype, kind;
};

// The item a child is running, kept in the store's kv table (namespace kInFlightNs, key
// in_flight_key) so that the parent can tell which item a crash or hang belongs to.
inline constexpr const char* kInFlightNs = "inflight";
std::string in_flight_key(std::int64_t run_id, const std::string& backend);

// Names of the results run `run_id` holds for `backend`.
std::set<std::string> stored_names(Store& store, std::int64_t run_id, const std::string& backend);

// Stores an error result saying `why` for every expected benchmark of `backend` that run
// `run_id` does not hold.
void record_unfinished(Store& store, std::int64_t run_id, const std::string& backend,
                       const std::vector<ExpectedResult>& expected, const std::string& why);

// What the run will do, expanded: problems, tiers and models.
struct Work {
  std::vector<Problem> problems;
  std::vector<workloads::WorkloadName> workloads;
  std::vector<ExternalModel> models;
};

// Every backend in its own child process. A child that dies inside an item (the one it marked in
// flight has no result) has that item recorded as an error saying why, and a new child runs
// what is left; a child that dies elsewhere has everything it did not store recorded so.
// Returns nothing: the results are read back from the store.
void run_isolated(const Context& ctx, const RunOptions& a, const std::vector<std::string>& selected,
                  const Work& w, const std::string& db, std::int64_t run_id, Store& store);

}  // namespace tb::cli

// Auto-tuning: what a tuned kernel configuration is valid for, the one store that keeps the
// winners, and what a backend's tuner reports (Backend::tune, backend.h).
//
// A winner is keyed by backend, device, driver, kernel (family and source version) and shape
// class, so that a new driver or a changed kernel source is tuned afresh instead of trusted.
// The harness installs a store backed by its SQLite database (harness/store_tune.h): the one
// place winners persist. Without it (tests, benchmark programs) winners live in this process.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "result.h"
#include "validate.h"

namespace tb {

struct TuneKey {
  std::string backend;      // "opencl", "vulkan"
  std::string device;       // device name
  std::string driver;       // driver name and version
  std::string kernel;       // family and source version, e.g. "gemm-packed@1f2e3d4c5b6a7988"
  std::string shape_class;  // the shapes a winner serves: "m1024n1024k1024:f32", "*" (all)
  bool operator==(const TuneKey&) const = default;
};

struct TuneWinner {
  TuneKey key;
  std::string config;          // the backend's configuration string, e.g. "wide:tm32tn32:8x1"
  double gflops = 0;           // the winner's, when it was tuned
  std::string default_config;  // what runs without a winner
  double default_gflops = 0;   // the default's, in the same tuning run (0: not timed)
  std::string problem;         // the problem it was tuned on
  double tune_s = 0;           // seconds the tuning took
  std::string tuned_at;        // ISO 8601 UTC, set by the store that keeps it
};

class TuneStore {
 public:
  virtual ~TuneStore() = default;
  virtual std::optional<TuneWinner> get(const TuneKey& key) = 0;
  virtual Result<void> put(const TuneWinner& w) = 0;  // replaces a winner with the same key
  virtual Result<std::vector<TuneWinner>> list() = 0;
};

// Winners of this process only. Thread-safe, as every store must be.
class MemoryTuneStore final : public TuneStore {
 public:
  std::optional<TuneWinner> get(const TuneKey& key) override;
  Result<void> put(const TuneWinner& w) override;
  Result<std::vector<TuneWinner>> list() override;

 private:
  std::mutex mu_;
  std::vector<TuneWinner> winners_;
};

// The process-wide store (never null): a MemoryTuneStore until the harness installs another.
std::shared_ptr<TuneStore> tune_store();
void set_tune_store(std::shared_ptr<TuneStore> store);  // nullptr: a fresh memory store

// What Backend::tune is asked to do.
struct TuneRequest {
  int device = 0;
  double budget_s = 30;  // no new candidate is started past this (one started finishes)
  bool persist = true;   // put the winner in tune_store()
  // Progress, for a caller that may cut the tuning short (tierbench tune runs each backend's
  // tuner in a child process and stops it at the budget): a candidate is about to start, and the
  // best candidate so far changed (a complete winner, validated and timed, worth keeping if the
  // rest never ends). Either may be empty.
  std::function<void(const std::string& config)> on_candidate;
  std::function<void(const TuneWinner& best_so_far)> on_best;
};

// One configuration the tuner tried: validated against the reference first, timed only if it
// passed.
struct TuneCandidate {
  std::string config;
  Status status = Status::skipped;  // passed (timed), failed (validation), error, skipped (budget)
  double gflops = 0;
  std::string message;
};

struct TuneOutcome {
  TuneWinner winner;
  std::vector<TuneCandidate> candidates;
};

// Which configuration of a tunable kernel ran, and why that one: "tuned" (a stored winner),
// "default" (chosen by device type and shape), "forced" (environment), "given" (by the caller).
struct KernelConfig {
  std::string name;
  std::string source;
};

}  // namespace tb

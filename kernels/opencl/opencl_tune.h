// Auto-tuner of the OpenCL GEMM's packed kernel (CPU devices): searches register block (mr x nr),
// K block (kc, including all of K), row blocks per work-item and launch order within a time
// budget, in stages (register blocks first, then the run-time parameters of the two best, then
// the three best re-timed interleaved). A candidate is first checked against the reference on an
// odd shape that spans several K blocks; one that fails is never timed nor kept.
// The winner is stored in tune_store() under gemm_tune_key (device name, driver version, kernel
// source hash) and used by every later prepare() on that device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../result.h"
#include "../validate.h"

namespace tb {

struct OpenclTuneOptions {
  int device = 0;
  bool quick = false;     // a handful of candidates at 512^3 instead of the full set at 1024^3
  double budget_s = 50;   // no new candidate past 90% of this, no finalist re-timing past it
                          // (quick: a third of it)
  bool persist = true;    // write the winner to tune_store()
  std::int64_t size = 0;  // m = n = k of the timed problem; 0 = 1024 (quick: 512)
};

struct OpenclTuneCandidate {
  std::string config;               // e.g. "packed:mr8nv2kc256o0"
  Status status = Status::skipped;  // passed (timed), failed (validation), error, skipped (budget)
  double gflops = 0;  // median over the timed runs, finalists' re-runs included (0 unless passed)
  std::string message;
};

struct OpenclTuneReport {
  std::string key;
  std::string best;
  double best_gflops = 0;
  double default_gflops = 0;  // the untuned default, timed in the same run
  double seconds = 0;
  std::vector<OpenclTuneCandidate> candidates;
};

// Fails when the device is unavailable or not a CPU device (GPUs use the tiled kernel).
Result<OpenclTuneReport> tune_opencl_gemm(const OpenclTuneOptions& opts);

}  // namespace tb

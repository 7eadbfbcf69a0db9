// Auto-tuner of the OpenCL GEMM. GPUs (and other non-CPU devices): the tiled kernel's tile size
// and K step (ocl::tiled_configs(), one program build each). CPU devices: the packed kernel's
// register block (mr x nr),
// K block (kc, including all of K), row blocks per work-item and launch order within a time
// budget, in stages (register blocks first, then the run-time parameters of the two best, then
// the three best re-timed interleaved). A candidate is first checked against the reference on an
// odd shape that spans several K blocks; one that fails is never timed nor kept.
// The winner serves every shape (shape class "*"): it is stored in tune_store() (kernels/
// tuning.h) under gemm_tune_key (device name, driver version, kernel source hash) and used by
// every later prepare() of a GEMM or pointwise conv on that device, in graphs too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "../result.h"
#include "../tuning.h"

namespace tb {

struct OpenclTuneOptions {
  int device = 0;
  bool quick = false;     // a handful of candidates at 512^3 instead of the full set at 1024^3
  double budget_s = 50;   // no new candidate past 90% of this, no finalist re-timing past it
  bool persist = true;    // write the winner to tune_store()
  std::int64_t size = 0;  // m = n = k of the timed problem; 0 = 1024 (quick: 512)
  bool tiled = false;     // tune the tiled kernel on a CPU device too (tests; GPUs always do)
  // Progress hooks (TuneRequest's, kernels/tuning.h); either may be empty.
  std::function<void(const std::string& config)> on_candidate;
  std::function<void(const TuneWinner& best_so_far)> on_best;
};

// Fails when the device is unavailable or no candidate passes validation.
Result<TuneOutcome> tune_opencl_gemm(const OpenclTuneOptions& opts);

// Backend::tune for OpenCL: the full search when the budget allows it (>= 45 s), else quick.
Result<TuneOutcome> tune_opencl(const TuneRequest& r);

}  // namespace tb

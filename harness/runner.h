// The runner: everything that times anything goes through here. One problem on one backend,
// in phases:
//   supports -> load: prepare (timed: load cost), upload, first execute (timed) ->
//   validate: download, check against the reference -> sample: warm-up, adaptive sampling,
//   summary (measure.h, the loop model tiers share) -> store.
// Nothing is timed until the output matched the reference.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels.h"
#include "measure.h"
#include "store.h"

namespace tb {

struct KernelRunOptions {
  SamplingOptions sampling;
  int threads = 0;  // CPU backends; 0 = all hardware threads
  std::uint64_t seed = 42;
  int repetitions = 1;      // the whole problem list is run this many times (one result each)
  bool interleave = false;  // each repetition in a fresh seeded random order (spreads drift)
  bool counters = true;     // hardware counters (instructions, cycles) per sample when allowed
  // Host memory a problem may use; 0: MemAvailable. Larger problems are skipped, saying so.
  std::uint64_t memory_limit_bytes = 0;
  // The probed ceiling for a device and data type in GFLOP/s (GOP/s for integers), when known:
  // results then carry "% of peak". See peak_lookup_from_probe().
  std::function<std::optional<double>(const DeviceInfo&, DType)> peak_gflops;
  // Called with each problem's name before it starts (an isolated child marks it in flight, so
  // that the parent knows which problem a crash or hang belongs to).
  std::function<void(const std::string& name)> on_start;
};

// Ceilings from a stored probe report (tierbench probe): the best trial of the CPU's f32 / bf16
// / int8 loops for CPU backends, the API-measured f32 peak for OpenCL and Vulkan devices.
std::function<std::optional<double>(const DeviceInfo&, DType)> peak_lookup_from_probe(
    std::string backend, nlohmann::json report);

// Runs p on one backend device and returns the record (not yet stored). Never throws: backend
// exceptions become status "error" with the message. `ref` holds the reference outputs for
// `inputs`; when empty, the result is stored as measured without a check (reference backend).
ResultRecord run_kernel(Backend& b, const DeviceInfo& dev, const Problem& p,
                        std::span<const Tensor> inputs, std::span<const Tensor> ref,
                        const KernelRunOptions& opts);

// Runs every problem on every device of one backend, storing each result as soon as it is
// measured; `on_result` is called after each store. Returns the number of failed results.
// Test-only: TB_TEST_SLOWDOWN=<glob>=<fraction> (e.g. "gemm:m256*@onednn=0.05") adds that
// fraction of each sample's time as extra busy work to the matching benchmarks, so that the
// regression gate can be shown to catch a known slowdown. Never set it outside experiments.
// Test-only: TB_TEST_FAULT=KIND:<backend> injects a fault into that backend, for the isolation
// tests: crash (SIGSEGV), hang, or oom (exceed a memory limit: the allocation fails and the
// process aborts) right after its first stored result; crash-second (SIGSEGV as it starts its
// second problem, inside that item); wrong: its outputs are overwritten before the check, so
// that validation fails. Never set it outside tests.
// Test-only: what TB_TEST_FAULT's crash kinds call (here, in `calibrate` and in `tune`). The
// process dies of SIGSEGV with the default action whatever handler is installed: under
// AddressSanitizer a raised SIGSEGV reached ASan's handler, which reported it and aborted
// (signal 6), so the parent recorded another signal than the one injected.
[[noreturn]] void crash_for_test();

int run_backend(Store& store, std::int64_t run_id, Backend& b, std::span<const Problem> problems,
                const KernelRunOptions& opts,
                const std::function<void(const ResultRecord&)>& on_result = {});

}  // namespace tb

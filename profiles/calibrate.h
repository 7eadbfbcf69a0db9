// Calibration of the predictor (predictor.h) on this device: kernel micro-benchmarks only, never
// a model tier. Per backend and dtype, each op class at representative shapes runs as a chain of
// identical layers built like the tiers build them (workloads/builder.h) and executed by the
// tiers' executor, so the backend's device graph, fusions, layouts and staged paths are those a
// tier gets. Two chain lengths give the time per node (the slope) and the fixed cost of a graph
// run (the intercept). Every chain is checked against the reference backend before it is timed.
// Also measured: the host-op throughput (a chain of host permutes), segment transfer throughput
// (an elementwise chain at two sizes), weight upload throughput and the backend's copy of the
// weights, the first/steady ratio, compile cost per kernel (prepare of a fresh shape), the peak
// memory a graph adds beyond its weights, copies and values (each long chain's peak RSS), and
// the storage cold read (the probe's figure when the store has a probe, else a cold read here).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "predictor.h"
#include "store.h"

namespace tb::profiles {

struct CalibrateOptions {
  std::vector<std::string> backends;  // empty: every available backend but the reference
  std::vector<std::string> dtypes = {"f32", "bf16", "int8"};
  int threads = 0;  // CPU backends; 0 = all hardware threads
  std::uint64_t seed = 42;
  double sample_s = 0.12;  // sampling budget per chain (warm; the cold samples get half)
  bool quick = false;      // one shape per class (tests)
  // Where the chains' weights and reference outputs are written; empty: a directory of this
  // calibration's own, removed after it. Calibrations given the same one (the per-backend
  // children of one `tierbench calibrate`) write each chain's weights and compute its reference
  // output once; the caller removes it.
  std::string work_dir;
  std::function<void(const std::string&)> progress;
};

// Every op class a full calibration measures at some dtype (conv, stem, ..., embed): the
// local profile's schema lists each (a test holds the two together).
std::vector<std::string> calibrated_op_classes();

// The configuration label of this process: "threads=N" (0: all) and ",isa=X" when
// ONEDNN_MAX_CPU_ISA caps oneDNN.
std::string configuration_label(int threads);

// Measures the calibration, stores every chain as a result of kind "calibration" in run_id, and
// the whole calibration under kv ("calibration", label). A failed check on a chain drops that
// point (and is stored as failed); errors are for a store that cannot be written.
Result<Calibration> calibrate(Store& store, std::int64_t run_id, const CalibrateOptions& o);

// How far a calibration chain pair's medians (kShort and kCalibrationChainLayers layers) are from
// what their structure allows; 0 when within it. The long chain holds the short one and more of
// the same layers: it cannot be faster (10% slack for noise), and its layers can be slower than
// the short chain's only where its weights no longer fit a cache, up to 4x (a 2048x2048 GEMV
// chain streaming from memory: long/short 4.3-7.5 here, against 6 / 2 = 3). A pair outside is a
// disturbed sampling window, not the kernel: calibrate measures it again (twice at most) and
// keeps the least inconsistent pair, counted in the point's "remeasured". One oneDNN embedding
// chain at 2 threads once took 49 ms per inference for all 5 of its samples (short chain:
// 7.6 us; 22 us when timed again), which made a SmolLM decode step's prediction 2.1x its
// measurement. `cold`: a pair timed with the caches evicted before each inference, where every
// layer of either chain reads its weights from memory and no cache runs out along the long
// one: up to 1.5x (a depthwise chain's pair once gave 920 us per cold node against 63 warm,
// and MobileNetV2's prediction at 2 threads +17%).
double chain_inconsistency(double short_s, double long_s, bool cold = false);

// The warm inference time of a chain of `layers` layers of p from which its cold time is taken as
// warm, not sampled: 5 ms, or 100 times the time to read everything the chain touches from memory
// at bandwidth_gbps (10 GB/s where unknown, a low figure that samples more cold), whichever is
// more. Beyond that, reading its bytes from memory would add under 1% to an inference (lavapipe's
// 3x3 convolutions and stems, 5-70 ms per layer, whose cold samples were a sixth of a
// calibration's time). Not for faster chains: beyond their data, a cold inference misses the
// driver's code and state (OpenCL's elementwise chain: 11 us per node warm, 23 us cold; a 1x1
// convolution at 6x6 on lavapipe, 92 us and 146 us).
double cold_sampling_limit_s(const Problem& p, int layers, double bandwidth_gbps);

// The work directory of this process for `what` (calibrate, calibrate-shared, validate):
// <temp>/tierbench-<what>-<pid>.
std::filesystem::path work_dir_path(const std::string& what);

// Removes the work directories (work_dir_path) of processes that are gone: those of a calibration
// or validation killed before it could remove its own (100 MB and more each). calibrate() calls
// it first.
void remove_stale_work_dirs();

// The stored calibration of a configuration label; empty label: the latest one stored.
Result<Calibration> load_calibration(Store& store, const std::string& label);

}  // namespace tb::profiles

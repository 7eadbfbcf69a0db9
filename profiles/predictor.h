// The latency, cold-start and memory predictor: ModelEstimate (estimate.h) for a model tier on a
// backend and dtype, without running the tier, from
//   (a) a calibration of this device (calibrate.h measures it: per backend and dtype, the time of
//       each op class at representative shapes inside a device graph, per-graph overheads,
//       transfer, host-op, upload and storage throughput, compile cost per kernel), walked over
//       the tier's graph with the executor's own plan (workloads::plan_execution); or
//   (b) the same calibration moved to another device's specifications (a catalogue device, or
//       the classes of a shareable profile): each op keeps the efficiency against the roofline
//       it reached here, on the other device's roofline (coarse: for classes, not for decisions
//       that hinge on 10%).
//
// The model, per layer of the graph in execution order:
//   kernel layer    node time of its op class at its size: the throughput of the calibrated
//                   shapes nearest in shape space (convolutions, GEMMs, GEMVs), else
//                   piecewise-linear in log(work) over them (work = FLOPs for compute-bound
//                   classes, bytes for the memory-bound ones), constant throughput beyond the
//                   calibrated range; each point warm (caches hot) while the graph's working set
//                   fits the threads' per-core caches, cold (weights from memory: a gemv of an
//                   LLM streams them) from the last-level cache's size on
//                   + the per-node cost of switching kernels (mixed_node_s)
//                   + for a small op (small_op_class) in a graph past the caches, the cost of
//                   running after weights streamed through them (stream_node_s; a GEMV there
//                   scaled by stream_gemv at the graph's weight bytes; log-linear in the
//                   working set as the cold times are)
//                   + its inputs written on another number of threads (serial_flops) over
//                   the cross-core throughput (cross_core_gbps)
//   segment         + per-graph overhead + its inputs and outputs over the transfer throughput
//                   + the cost of a segment after a host op (segment_switch_s)
//   host op         its fixed cost + bytes read and written over the host-op throughput (0 when
//                   the executor folds it into a kernel: int8 quantize / dequantize, bf16 casts,
//                   activations)
// Cold start: weights read at the storage throughput, one compile per distinct kernel (int8:
// twice, plus the calibration inference the executor runs), weights uploaded at the upload
// throughput, the first inference's excess at the calibrated first/steady ratio. Peak memory:
// the weights, the backend's copy of them, and every value of the graph.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "estimate.h"
#include "graph.h"
#include "models.h"
#include "result.h"

namespace tb::profiles {

// The op class of a kernel problem: conv (dense, r*s > 1), stem (dense, 4 input channels or
// fewer: a network's first layer, on the image), pointwise (1x1), depthwise (groups =
// channels), gemm (m*batch > 4), gemv (m*batch <= 4: weight-bandwidth bound), attention, row
// (softmax, norms), eltwise (binary, rope), pool, embed.
std::string op_class(const Problem& p);
// Whether the class is timed against bytes (memory-bound) rather than FLOPs.
bool memory_bound_class(std::string_view op_class);
// The classes of a decoder's small ops, between its weighted layers: row, eltwise, rope,
// attention, pool, embed (everything but conv, stem, pointwise, depthwise, gemm and gemv).
bool small_op_class(std::string_view op_class);
// The bytes a kernel moves, for memory-bound classes and rooflines: Problem::min_bytes, except
// an embedding lookup, which reads only the rows it returns (twice its output).
double traffic_bytes(const Problem& p);
// The roofline time on a device: max(flops / peak, bytes / bandwidth), GFLOP/s and GB/s.
double roofline_s(double flops, double bytes, double peak_gflops, double bandwidth_gbps);

// The longer of the two chains calibrate times per shape: a point's weights working set is this
// many times its layer's.
inline constexpr int kCalibrationChainLayers = 6;

// One micro-benchmark: a chain of one op class at one shape inside a device graph.
struct OpPoint {
  std::string op_class;
  std::string problem;      // the layer's problem string as the tier graphs write it
  double flops = 0;         // per node
  double bytes = 0;         // bytes moved per node (traffic_bytes)
  double node_s = 0;        // per node in the chain, steady state (median)
  double compile_s = 0;     // prepare per node, caches cold
  double efficiency = -1;   // roofline / node_s on the probed ceilings; -1 without a probe
  double node_cold_s = -1;  // node_s with the caches evicted before each inference; -1: not
                            // measured (classes without weights to speak of)
};

// One backend and dtype in one configuration (threads, ISA cap).
struct BackendCalibration {
  std::string backend, device, dtype;  // dtype: f32, bf16, int8
  int threads = 0;                     // 0: all hardware threads
  std::string isa;                     // ONEDNN_MAX_CPU_ISA when capped, else ""
  std::vector<OpPoint> points;
  double graph_s = 0;  // fixed cost of one segment run (launch, sync)
  // Extra cost of a segment that follows a host op (calibrate: segments split by host permutes,
  // against graph_s), beyond graph_s: threads or queues woken again, buffers bound again. 0: none
  // measured.
  double segment_switch_s = 0;
  double transfer_gbps = 0;  // segment inputs and outputs, host <-> backend layout (0: free)
  double host_gbps = 0;      // host ops: bytes read + written per second
  double host_op_s = 0;      // host ops: fixed cost of one, beyond its bytes (0: not measured)
  double upload_gbps = 0;    // weights into the backend's layout (set_constants)
  double weight_copy = 1;    // backend bytes held per weight byte
  double first_ratio = 1;    // first inference / steady state
  // Extra time per kernel node in a graph of distinct layers: the chains repeat one layer, whose
  // code and descriptors stay hot; a network switches kernel at every node (calibrate: a mixed
  // chain against what the chains predict for it). 0: not measured.
  double mixed_node_s = 0;
  // Extra time of a small op (small_op_class) in a graph whose weights stream through the caches,
  // beyond its cold node time: its code, descriptors and page translations were evicted by the
  // weights before it, which in a chain of identical nodes stay hot from one node to the next
  // (calibrate: the layers of a streamed chain, f32 entries). 0: not measured.
  double stream_node_s = 0;
  // A GEMV's time in such a graph against its calibrated (cold) node time, by the graph's weight
  // bytes: (weight bytes, ratio) of streamed chains of two sizes, whose GEMVs run after small ops
  // and read from a footprint of that size (the GEMV chains that gave the cold times are about
  // 100 MB). Log-linear between the sizes, constant beyond them; applied log-linearly in the
  // working set as the cold times are. Empty: not measured (1).
  std::vector<std::pair<double, double>> stream_gemv;
  // The same for the GEMVs the backend runs on one thread (fewer FLOPs than serial_flops) where
  // it runs the others on several: their ratio is not the threaded GEMVs' (SmolLM's decode at two
  // threads: q/k/v/o, on one thread, took 27-51% more than predicted, where the MLP's threaded
  // GEMVs took their ratio of 1.03). Empty: stream_gemv applies to every GEMV.
  std::vector<std::pair<double, double>> stream_gemv_serial;
  // The backend runs nodes of fewer FLOPs on one thread (oneDNN: a fork and join costs more than
  // it saves there); 0: every node on all threads.
  double serial_flops = 0;
  // Where a node reads a value written by a node run on another number of threads (one thread
  // after all of them, or the other way round), part of the value lies in another core's cache:
  // those bytes move at this rate (calibrate: a mixed chain that switches, against one that runs
  // every node on one thread). 0: no such cost (one thread, or none measured).
  double cross_core_gbps = 0;
  bool fuses_int8_epilogue = false;  // int8 dequantize runs inside the kernel (+scales)
  // The backend has the kvwrite kernel for this dtype's caches: a decoder's KV-cache writes run in
  // its segment and the caches stay there (workloads::device_kv_writes), instead of host ops
  // between segments.
  bool kv_writes_on_device = false;
  // The backend has the permute and slice kernels for this dtype: a prefill's permutes and its
  // last-token slice run in its segments (workloads::device_copies), instead of host ops between
  // them.
  bool permutes_on_device = false;
  // int8 convolutions write u8 for readers that are all int8 convolutions (oneDNN): its int8
  // chains run no quantising reorder, while a graph runs one (the backend's reorder, f32 in, u8
  // out, costed as its f32 elementwise stream) before each convolution whose input is not
  // requantised: the image, a value a residual add also reads. False: each int8 input is converted
  // by its own step, inside the chains too.
  bool requantises_int8 = false;
  double peak_gflops = -1, bandwidth_gbps = -1;  // the roofline the efficiencies are against
  // A graph whose weights fit in warm_bytes (the per-core caches of the threads it runs on) finds
  // them in the caches at each inference, and runs at node_s; one as large as cold_bytes (the
  // last-level cache) or larger reads them from memory, at node_cold_s; in between, log-linear.
  // <= 0: unknown (node_s throughout).
  double warm_bytes = -1, cold_bytes = -1;
  // Peak memory beyond what the graph names (its weights, the backend's copy of them and every
  // value): a part per graph (the executor's buffers, kernel code, scratchpads) and a transient
  // per weight byte (staging copies while the weights are prepared: an int8 graph is prepared
  // in f32 first, to calibrate its scales). calibrate: the peak RSS each long chain added as it
  // loaded, prepared and ran once, against that model: the floor from the chains of under 1 MB
  // of weights, the transient from those of 8 MB or more. 0: not measured.
  double memory_floor_bytes = 0, weight_transient = 0;
};

// How calibrate measures, numbered: `calibrate --if-missing` measures again over a stored
// calibration of an older method, whose figures this build's predictor would misread.
//   1  until 2026-12-06 (no "method" field)
//   2  GEMVs cold from a chain four times the last-level cache (twice read 40% too fast here)
//   3  mixed_node_s for every node, from a mixed chain of one-thread nodes where the backend runs
//      small nodes on one thread; the rest of the mixed chain's excess is cross_core_gbps; and
//      segment_switch_s
//   4  chain pairs their structure rules out timed again (chain_inconsistency); the peak memory
//      floor and transient (memory_floor_bytes, weight_transient); stems (the image's
//      convolution) a class of their own
//   5  cold times with the caches evicted by reading, not writing (write-backs had inflated
//      them); stream_node_s and stream_gemv (a decoder's block as a chain)
//   6  the streamed chain's square GEMV per repetition, its ratio kept apart (stream_gemv_serial)
//   7  strided (stride 2) depthwise points, apart from the stride-1 ones in shape space
//   8  a GEMV of 576 to 192 (a grouped-query attention's k and v); points taken from the layer's
//      side of serial_flops
//   9  whether the backend writes KV caches and permutes on the device (kv_writes_on_device,
//      permutes_on_device)
inline constexpr int kCalibrationMethod = 9;

struct Calibration {
  std::string created_utc, label;  // label: the configuration, "threads=1", "threads=2,isa=AVX2"
  int method = 1;                  // kCalibrationMethod of the build that measured it
  double storage_read_gbps = -1;   // cold read of a weights file
  std::vector<BackendCalibration> entries;
  // The entry of a backend and dtype ("int8" and "s8" are the same), or null.
  const BackendCalibration* find(std::string_view backend, std::string_view dtype) const;
};

nlohmann::json to_json(const Calibration& c);
// Checks every field (a calibration may come from a file): errors name the field.
Result<Calibration> calibration_from_json(const nlohmann::json& j);

// Another device, by its ceilings: GFLOP/s per dtype (int8 in GOP/s; <= 0: fall back to f32),
// memory bandwidth, storage read, memory size (<= 0 unknown).
struct DeviceSpec {
  double f32_gflops = 0, bf16_gflops = 0, int8_gops = 0, bandwidth_gbps = 0, storage_gbps = 0,
         memory_gib = 0;
  double peak_for(std::string_view dtype) const;
};

struct PredictOptions {
  // Whether the backend supports a kernel problem; unset: every op the calibration names.
  std::function<bool(const Problem&)> supports;
  // Projects onto another device (b above); unset: this device.
  std::optional<DeviceSpec> target;
  double memory_limit_bytes = 0;  // > 0: larger models are infeasible ("does not fit")
};

// The bytes graph `g`'s layers read across a change in thread count (cross_core_gbps): values a
// node of one thread reads from a node of all threads, or the other way round (host ops and the
// caller run on one); 0 where the entry runs every node on all threads (serial_flops 0).
double thread_crossing_bytes(const workloads::Graph& g, const BackendCalibration& c);
// The int8 convolutions of `g` whose input a requantising backend (requantises_int8) converts
// in a pass of its own: those whose input is not written as u8 by the convolution before them.
int quantising_passes(const workloads::Graph& g, const BackendCalibration& c);

// The peak memory of running `g` on the entry's backend: weights, the backend's copy of them
// (weight_copy), every value (no lifetimes: an upper bound), memory_floor_bytes and
// weight_transient.
double peak_memory_bytes(const workloads::Graph& g, const BackendCalibration& c);

// The estimate of graph `g` on `backend` from the calibration entry of the graph's dtype (source
// "predicted", or "projected" with a target). A class the dtype did not calibrate falls back to
// the backend's f32 entry, then to the roofline at the entry's median efficiency. Infeasible,
// with the reason, without a calibration, when an op is unsupported or the model does not fit.
ModelEstimate predict(const workloads::Graph& g, const Calibration& cal, std::string_view backend,
                      const PredictOptions& o = {});

}  // namespace tb::profiles

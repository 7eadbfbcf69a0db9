// The executor: runs a Graph on one backend. Consecutive kernel layers form a segment that the
// backend prepares as one DeviceGraph (kernels/device_graph.h): intermediates stay where the
// backend computes (device buffers, oneDNN's blocked layouts), and only the segment's inputs go
// in and its outputs come back. Host ops (casts, quantisation, permutes, KV-cache writes...) run
// between segments on the host, identically for every backend; every value a host op reads is
// a segment output, every value it writes that a later kernel reads a segment input. A CNN in
// f32 is one segment: one upload of the image, one download of the logits. A decoder's KV-cache
// writes run in the segment too where the backend has the kvwrite kernel (device_kv_writes): the
// segment keeps the caches between inferences, so a decode step uploads its token ids alone.
//
// int8 graphs describe each layer as host quantize -> u8 x s8 -> s32 kernel -> host dequantize.
// prepare() fuses the dequantize into the kernel (the +scales epilogue: scales, bias with the
// zero point folded in, activation, residual) where the backend supports that problem; the host
// dequantize remains the path for backends that do not. Either way the same graph runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph.h"

namespace tb::workloads {

struct PrepareCost {
  double seconds = 0;
  std::vector<std::pair<std::string, double>> details;  // summed over layers
};

struct InferCost {
  double wall_s = 0;      // the whole inference, host clock
  double kernel_s = 0;    // sum of the kernels' timings (device time where offered)
  double transfer_s = 0;  // segments' wall time outside their kernels: transfers, dispatch, syncs
  double host_s = 0;      // host ops (casts, quantisation, permutes, ...)
  int host_round_trips = 0;  // host waits for a backend's results
  std::uint64_t bytes_to_device = 0, bytes_from_device = 0;
};

// How a graph runs on a backend: which host layers fold into kernels and which steps run. The
// one statement of the fusion rules, used by Executor::prepare and by the predictor
// (profiles/predictor.h), which walks the same plan without a backend:
//  - an int8 dequantize runs inside the kernel that writes its s32 input (the +scales epilogue)
//    where `fuses_dequant(kernel layer)` says the backend supports that fused problem;
//  - with fold_quant (calibrated scales), a quantize whose u8 output only kernels read as their
//    first operand (dequantizes read its scale, not its data) folds into those kernels (in_quant);
//    so does a cast of an f32 value to bf16 (in_cast, no calibration needed);
//  - a host activation of the value a kernel just wrote, read by nothing else and not the graph's
//    output, folds into that kernel (act_after: ResNet's ReLU after the residual add);
//  - the rest: host ops alone, maximal runs of kernel layers together (segments).
struct ExecutionPlan {
  std::vector<int> dequant_of;      // per kernel layer: the dequantize reading its output, or -1
  std::vector<bool> fused;          // per kernel layer: runs its dequantize (+scales)
  std::vector<bool> fused_dequant;  // per dequantize layer: run by its kernel
  std::vector<int> act_after_of;    // per kernel layer: the host activation folded into it, or -1
  std::vector<int> folded_quant;    // per value: the quantize / cast folded into its readers, or -1
  struct Step {
    int host_layer = -1;                     // a host op alone, or
    std::vector<std::size_t> kernel_layers;  // a segment
    bool fallback = false;                   // a segment the reference backend runs
  };
  std::vector<Step> steps;
  // Whether layer li runs inside a kernel (a fused dequantize, a folded quantize, cast or
  // activation) rather than as a step of its own.
  bool folded(const Graph& g, std::size_t li) const;
};
// runs_here(kernel layer): whether the backend runs it (else: a segment of its own on the
// reference backend, see Fallback); empty: every kernel layer runs on the backend.
ExecutionPlan plan_execution(const Graph& g,
                             const std::function<bool(std::size_t kernel_layer)>& fuses_dequant,
                             bool fold_quant,
                             const std::function<bool(std::size_t kernel_layer)>& runs_here = {});

// KV-cache writes on the device. kv_write_problem: the kvwrite problem (kernels/problem.h) of a
// kv_write host layer whose token is f32, or nullopt. device_kv_writes turns kv_write layers into
// kvwrite kernel layers (same operands; the output is still the cache, which the backend's segment
// keeps and writes in place: DeviceGraph::states) where `runs` takes the problem and every other
// reader of the cache is a kernel layer that `runs` takes too; layers set in keep_host stay on
// the host. Returns the layers turned. The executor calls it on its own copy of the graph, the
// predictor on its plan's.
std::optional<Problem> kv_write_problem(const Graph& g, const Layer& l);
std::vector<std::size_t> device_kv_writes(Graph& g, const std::function<bool(const Problem&)>& runs,
                                          const std::vector<bool>& keep_host = {});
// Copies on the device: copy_problem is the permute or slice problem (kernels/problem.h) of a
// permute, last_row or slice (positive step) host layer of f32, f16 or bf16, or the embed problem
// of an embed host layer (an f32, bf16 or f16 table, or s8 with row scales), or nullopt;
// device_copies turns those that `runs` takes into kernel layers (same output; an embed's
// operands become table, ids, scales), so that a prefill's heads-major views, its last token and
// a bf16 or int8 tier's lookup stay in the segment. Returns the layers turned.
std::optional<Problem> copy_problem(const Graph& g, const Layer& l);
std::vector<std::size_t> device_copies(Graph& g, const std::function<bool(const Problem&)>& runs);
// The layers of `moved` (turned by device_kv_writes) whose cache a layer outside their step of
// `p` reads: they go back to the host (keep_host) and the plan is made again.
std::vector<std::size_t> kv_writes_apart(const Graph& g, const ExecutionPlan& p,
                                         const std::vector<std::size_t>& moved);

// Per-layer fallback: the kernel layers a backend cannot run execute on the reference backend
// (correct, naive), in segments of their own, and Executor::config() names them. Allowed while
// they hold at most kMaxFallbackShare of the graph's MACs: beyond that the figure would measure
// the fallback rather than the backend, and the graph is unsupported there.
inline constexpr double kMaxFallbackShare = 0.1;
struct Fallback {
  std::vector<std::size_t> layers;  // kernel layers the reference backend runs
  double mac_share = 0;             // their share of the graph's MACs
  std::string unsupported;          // non-empty: the graph cannot run on the backend, and why
};
Fallback plan_fallback(const Graph& g, Backend& b, int device);

class Executor {
 public:
  // Takes the graph and its weights (graph.weights order). Values (states, constants) are
  // initialised from `seed`.
  Executor(Graph g, std::vector<Tensor> weights, std::uint64_t seed);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const Graph& graph() const { return g_; }
  // Why the graph cannot run on the backend (plan_fallback); empty when it can.
  std::string unsupported(Backend& b, int device) const;
  // Plans the segments and has the backend prepare each as a graph (drops earlier ones first).
  Result<PrepareCost> prepare(Backend& b, int device, int threads);
  // Uploads every segment's weights (into the backend's layout), then frees the host copies
  // that no host op reads: prepare() cannot follow.
  Result<double> upload_weights();
  // Runs one inference on `input` (the graph input's dtype and element count).
  Result<InferCost> infer(const Tensor& input);
  const Tensor& output() const;
  MemoryStats memory() const;
  // The graph with every quantize layer's scale and zero point static, as prepare() calibrated
  // them on this backend (an int8 graph after prepare; an error before it or without int8):
  // what export-model --static-scales writes as QDQ.
  Result<Graph> static_scales() const;
  // Layer profile: while on, every infer() times each layer, kernel layers by their backend
  // (PreparedGraph::time_nodes: device timestamps, profiling events or the host clock) and host
  // ops by the host clock. False when a segment's backend cannot time its nodes (the profile
  // then has zeros there). Off by default.
  bool time_layers(bool on);
  // Seconds per graph layer in the last infer() while timing was on: a layer folded into a
  // kernel (a fused dequantize, a folded quantize, cast or activation) is charged to that
  // kernel and reads 0. Empty before that.
  const std::vector<double>& layer_seconds() const { return layer_s_; }
  // What ran: each segment's configuration ("onednn graph: ...") and the segment count.
  std::string config() const;
  int segments() const;

  // Every value's contents before the first inference: states (KV caches) seeded from `seed`
  // (one stream over the states, in graph order, in [-1, 1)), constants computed (RoPE tables,
  // position ids), the rest zero. The ONNX exporter feeds the same states and constants.
  static std::vector<Tensor> initial_values(const Graph& g, std::uint64_t seed);
  // A seeded graph input: images in [0, 1], token ids in [0, 30000).
  static Tensor make_input(const Graph& g, std::uint64_t seed);

 private:
  struct Step;
  Result<void> run_host(const Layer& l, std::size_t li);
  // The graph's kv_write, permute, last_row, slice and embed layers as the graph gave them (host
  // ops), undoing device_kv_writes and device_copies.
  void restore_host_ops(Graph& g) const;
  struct Movable {
    std::size_t layer;
    HostOp op;
    std::vector<Operand> in;
  };
  std::vector<Movable> movable_;    // those layers, their op and operands
  std::vector<bool> device_state_;  // per value: a KV cache a segment keeps (this plan)
  bool timing_ = false;
  std::vector<double> layer_s_;
  const Tensor& operand(const Operand& o) const;
  // int8 layers: a kernel and its host dequantize fused into one +scales kernel (see .cpp).
  Problem fused_problem(std::size_t li) const;
  void fused_params(std::size_t li);
  // The operands a kernel layer's node reads (its dequantize's too when fused) and the value it
  // writes.
  struct NodeIo {
    std::vector<const Tensor*> in;   // problem inputs order
    std::vector<int> in_value;       // graph value per input, -1 for weights and fused params
    std::vector<bool> constant;      // uploaded once
    DeviceGraph::Node::Quant quant;  // in[0] quantised by the node (a folded quantize)
    bool cast = false;               // in[0] rounded to bf16 by the node (a folded cast)
    int out = -1;
  };
  // The steps and their prepared segments; fold_quant: quantize layers fold into their consumers
  // with the calibrated scales.
  Result<void> plan(Backend& b, const PrepareOptions& po, bool fold_quant);
  // The folded quantize layer writing value v, or -1.
  int quant_of_value(int v) const;
  NodeIo node_io(std::size_t li) const;

  Graph g_;
  std::vector<Tensor> weights_;  // graph.weights order
  std::uint64_t seed_ = 0;
  std::vector<Tensor> values_;  // graph.values order
  std::vector<float> qscale_;   // per u8 value: scale and zero point of the last quantize
  std::vector<int> qzp_;
  std::vector<std::vector<std::int32_t>> colsum_;  // per dequantize layer
  std::vector<int> dequant_of_;      // per kernel layer: the dequantize reading its s32 output
  std::vector<bool> fused_;          // per kernel layer: runs its dequantize (+scales)
  std::vector<bool> fused_dequant_;  // per dequantize layer: run by its kernel
  std::vector<int> act_after_of_;    // per kernel layer: the host activation folded into it
  std::vector<Tensor> fused_a_scale_, fused_bias_;  // per fused kernel layer, per inference
  // Per fused kernel layer: its input is quantised statically (calibrated), so its a_scale and
  // bias' are fixed: computed once at plan and given to the segment as constants (weights).
  std::vector<bool> fixed_params_;
  std::unique_ptr<Backend> fallback_;  // the reference backend, when a layer falls back; it
                                       // outlives the segments it prepared
  std::vector<Step> steps_;
  bool input_read_by_host_ = false;
  bool weights_released_ = false;
  bool calibrated_ = false;        // int8: qscale_ / qzp_ hold the calibrated scales
  std::vector<int> folded_quant_;  // per value: the quantize layer folded into its readers
};

}  // namespace tb::workloads

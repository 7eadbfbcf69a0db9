// Graph execution, beside the kernel interface (backend.h): a backend prepares a whole graph of
// kernel ops once and runs an inference with the intermediate tensors resident where the
// backend computes (device buffers, oneDNN's blocked layouts); only the graph's inputs go in and
// only its outputs come back. ggml's graph_compute and ONNX Runtime's execution providers are
// the models.
//
// Life of a graph on a backend:
//   Backend::prepare_graph(g, opts) -> every pipeline / primitive created, memory planned
//   PreparedGraph::set_constants()  -> weights uploaded once, in the backend's layout
//   PreparedGraph::set_states()     -> KV caches copied once to where the graph keeps them
//   PreparedGraph::run(in, out)     -> one inference: inputs in, outputs back, one host sync
//
// A backend without its own graph execution inherits the staged one (make_staged_graph): one
// PreparedKernel per node, activations through host memory between nodes, exactly what a kernel
// micro-benchmark does in sequence. Its stats say so (host_round_trips = nodes per inference).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"

namespace tb {

// A graph of kernel ops over numbered values.
//   values     every tensor: graph inputs, constants (weights), intermediates, outputs
//   nodes      in execution order; node.in[i] is problem.inputs()[i] (same dtype and element
//              count; the value's shape may be another view of the same bytes, e.g. [n][k] for
//              gemm's [1][n][k]); node.out is problem.outputs()[0]; act_after, when set, is
//              applied to the output after the problem's whole epilogue (ResNet's ReLU after
//              the residual add, which the epilogue order bias, act, res cannot say); in_quant,
//              when on, quantises an f32 in[0] to the u8 the problem reads (int8 tiers with
//              calibrated scales: no host quantisation between layers)
//   inputs     values given by the host on every run(), in run()'s order
//   constants  values given once by set_constants(), in that order
//   outputs    values read back by every run(), in run()'s order
//   states     values given once by set_states() that stay where the backend computes between
//              runs (KV caches): a kvwrite node whose in[1] is a state writes it in place
//              (node.out == node.in[1]); no state is an input, a constant or an output
// Every value is an input, a constant, a state, or the output of exactly one node, written before
// it is read (verify()).
struct DeviceGraph {
  struct Node {
    std::string name;
    Problem problem;
    std::vector<int> in;
    int out = -1;
    Activation act_after = Activation::none;
    // When set, in[0] is an f32 value that the node quantises to the u8 its problem reads, with a
    // static (calibrated) scale and zero point: q = clamp(round_even(x / scale) + zp, 0, 255).
    struct Quant {
      bool on = false;
      float scale = 1;
      int zp = 0;
    } in_quant;
    // When set, in[0] is an f32 value that the node rounds to the bf16 its problem reads (bf16
    // tiers: no host casts between layers).
    bool in_cast = false;
  };
  std::vector<TensorSpec> values;
  std::vector<Node> nodes;
  std::vector<int> inputs, constants, outputs, states;

  int add_value(TensorSpec spec) {
    values.push_back(std::move(spec));
    return static_cast<int>(values.size()) - 1;
  }
  Result<void> verify() const;
};

// What one run() cost beyond its wall time.
struct GraphRunStats {
  double kernel_s = 0;  // sum of the nodes' device (or host-clock) times, when measured
  TimingSource kernel_timing = TimingSource::host_clock;
  int host_round_trips = 0;  // host waits for the device (1: the final download)
  std::uint64_t bytes_to_device = 0, bytes_from_device = 0;  // per run, 0 for in-place host
};

class PreparedGraph {
 public:
  virtual ~PreparedGraph() = default;
  // Weights, in DeviceGraph::constants order: uploaded (reordered, packed) once. The graph keeps
  // its own copies: the caller may free the tensors when this returns.
  virtual Result<void> set_constants(std::span<const Tensor* const> constants) = 0;
  // States, in DeviceGraph::states order: their contents before the first run, copied once to
  // where the graph keeps them; runs update them in place. A graph without states takes none.
  virtual Result<void> set_states(std::span<const Tensor* const> states) {
    if (states.empty()) return {};
    return make_error(config() + ": keeps no state between runs");
  }
  // One inference: inputs in DeviceGraph::inputs order, outputs (pre-sized host tensors) in
  // DeviceGraph::outputs order. The tensors stay the caller's (pointers: no copies).
  virtual Result<GraphRunStats> run(std::span<const Tensor* const> inputs,
                                    std::span<Tensor* const> outputs) = 0;
  // Device and host bytes the graph holds (weights, the activation arena, packed copies).
  virtual MemoryStats memory() const = 0;
  // Named load-cost details summed over nodes, e.g. {"primitive_create_s", 0.4}, and figures
  // of the plan ({"fused_post_ops", 53}, {"arena_bytes", ...}).
  virtual std::vector<std::pair<std::string, double>> details() const { return {}; }
  // What ran, in words: "onednn graph: blocked layouts, 12 reorders, arena 9.6 MiB".
  virtual std::string config() const = 0;
  // Per-node timing (a layer profile, like ONNX Runtime's profiler): while on, every run()
  // times each node, from device timestamps or profiling events where the backend has them and
  // the host clock around the node otherwise (host backends run a node to completion before the
  // next). What a backend runs for a node is charged to it: fused post-ops and activations, the
  // layout reorders and conversions it needs. Off by default: the host clock between nodes
  // costs a little. Returns false when the backend cannot time nodes.
  virtual bool time_nodes(bool on) { return !on; }
  // Seconds per node (DeviceGraph::nodes order) in the last run() while timing was on; empty
  // before that.
  virtual std::vector<double> node_seconds() const { return {}; }
};

// in_quant on the host: n floats -> n bytes.
void quantize_u8(const float* x, std::int64_t n, const DeviceGraph::Node::Quant& q,
                 std::uint8_t* out);
inline void quantize_u8(const Tensor& x, const DeviceGraph::Node::Quant& q, Tensor& out) {
  quantize_u8(x.data<float>(), x.numel(), q, out.data<std::uint8_t>());
}

// in_cast on the host: n floats -> n bf16 (round to nearest even, as the host cast op).
void round_bf16(const float* x, std::int64_t n, std::uint16_t* out);

// The staged graph over any backend's PreparedKernels (see the top of this file).
Result<std::unique_ptr<PreparedGraph>> make_staged_graph(Backend& b, const DeviceGraph& g,
                                                         const PrepareOptions& opts);

}  // namespace tb

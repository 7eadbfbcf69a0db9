// The executor: runs a Graph on one backend. Each kernel layer is its own PreparedKernel that
// owns its weights after upload; host ops run on the host, identically for every backend.
// Activations travel through host memory between layers (the backend interface has no
// device-resident chaining), so latency includes per-layer activation upload and download.
//
// int8 graphs describe each layer as host quantize -> u8 x s8 -> s32 kernel -> host dequantize.
// prepare() fuses the dequantize into the kernel (the +scales epilogue: scales, bias with the
// zero point folded in, activation, residual) where the backend supports that problem; the host
// dequantize remains the path for backends that do not. Either way the same graph runs.
#pragma once

#include <cstdint>
#include <memory>
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
  double kernel_s = 0;    // sum of the kernels' execute() timings (device time where offered)
  double transfer_s = 0;  // activation uploads and downloads
  double host_s = 0;      // host ops (casts, quantisation, permutes, ...)
};

class Executor {
 public:
  // Takes the graph and its weights (graph.weights order). Values (states, constants) are
  // initialised from `seed`.
  Executor(Graph g, std::vector<Tensor> weights, std::uint64_t seed);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const Graph& graph() const { return g_; }
  // The first kernel layer the backend does not support: "problem: reason"; empty when all are.
  std::string unsupported(Backend& b, int device) const;
  // Creates every kernel layer's kernel (drops earlier ones first).
  Result<PrepareCost> prepare(Backend& b, int device, int threads);
  // First upload of every kernel's inputs (weights into the backend's layout).
  Result<double> upload_weights();
  // Runs one inference on `input` (the graph input's dtype and element count).
  Result<InferCost> infer(const Tensor& input);
  const Tensor& output() const;
  MemoryStats memory() const;
  // True when every kernel layer takes its activations alone (weights stay uploaded).
  bool input_only_uploads() const { return input_only_; }

  // A seeded graph input: images in [0, 1], token ids in [0, 30000).
  static Tensor make_input(const Graph& g, std::uint64_t seed);

 private:
  struct KernelLayer;
  Result<void> run_host(const Layer& l, std::size_t li);
  const Tensor& operand(const Operand& o) const;
  // int8 layers: a kernel and its host dequantize fused into one +scales kernel (see .cpp).
  Problem fused_problem(std::size_t li) const;
  void plan_fusion(std::size_t li, bool fuse);
  void fused_params(std::size_t li);
  static std::vector<std::size_t> per_inference_slots(const KernelLayer& k);

  Graph g_;
  std::vector<Tensor> weights_;  // graph.weights order
  std::vector<Tensor> values_;   // graph.values order
  std::vector<float> qscale_;    // per u8 value: scale and zero point of the last quantize
  std::vector<int> qzp_;
  std::vector<std::unique_ptr<KernelLayer>> kernels_;  // per layer (null for host ops)
  std::vector<std::vector<std::int32_t>> colsum_;      // per dequantize layer
  std::vector<bool> fused_dequant_;  // per layer: a dequantize its kernel runs (see prepare)
  bool input_only_ = false;
};

}  // namespace tb::workloads

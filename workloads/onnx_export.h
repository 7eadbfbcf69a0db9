// ONNX export of a model tier: the Graph tierbench runs (graph.h), with the weights it runs
// (load_weights(), graph.weights order), as a standard ONNX model (opset 17, weights included),
// so that another runtime runs exactly what tierbench ran.
//
// Mapping (onnx_export.cpp has the details):
//   - NHWC images become NCHW inside the model: one Transpose after the graph input (which keeps
//     tierbench's NHWC shape), NCHW Conv / MaxPool / AveragePool / GlobalAveragePool throughout,
//     conv weights stored as ONNX's [k][c/g][r][s] (the same values as tierbench's [k][r][s][c/g]).
//   - gemm: Gemm (transA / transB, bias as C) or MatMul; epilogue activations as Relu,
//     Clip(0, 6), the erf GELU (Div, Erf, Add, Mul, Mul) and x * Sigmoid(x); residuals as Add.
//   - attention: MatMul, scale, constant causal mask, Softmax, MatMul; GQA by Expand of K and V.
//   - layernorm: LayerNormalization; rmsnorm: ReduceMean of squares, Sqrt, Div, Mul; rope: Slice,
//     Mul, Sub, Add, Concat; embed: Mod and Gather.
//   - bf16 tiers: bf16 initialisers and bf16 activations (Cast where tierbench casts), each
//     kernel computing in f32 from its bf16 operands, as tierbench's bf16 kernels do (f32 out).
//   - int8 tiers (QDQ): tierbench's dynamic per-tensor quantisation written out with ReduceMin /
//     ReduceMax / Where and QuantizeLinear; each u8 x s8 kernel and its dequantise as
//     DequantizeLinear of the activation and of the s8 weights (per output channel), the f32 op,
//     bias, activation and residual. Equal to tierbench's integer arithmetic up to f32 rounding.
//   - KV caches (decode variants) are graph inputs named like the state values; constants (RoPE
//     tables, position ids) are initialisers computed as the executor computes them.
// Initialisers carry the safetensors names; only conv weights change layout.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "graph.h"

namespace tb::workloads {

inline constexpr int kOnnxOpset = 17;

struct OnnxExportOptions {
  std::uint64_t seed = 42;  // recorded in the model's metadata (the weights' seed)
  // Initialisers in a separate file (ONNX external data) named this, beside the model: needed
  // past protobuf's 2 GiB limit. Empty: inside the model, unless they exceed 1.5 GiB, when
  // "<model file name>.data" is used.
  std::string external_data;
};

struct OnnxExportSummary {
  int opset = kOnnxOpset;
  int nodes = 0, initializers = 0;
  std::int64_t initializer_bytes = 0;
  std::vector<std::string> inputs;  // graph inputs, the model input first
  std::string output;
  std::string external_data;  // file written beside the model, or empty
  std::vector<std::string> notes;
};

// Writes `g` with `weights` (graph.weights order) as an ONNX model to `path`. An op or host op
// without a mapping is an error naming the tier and the layer.
Result<OnnxExportSummary> export_onnx(const Graph& g, std::span<const Tensor> weights,
                                      const std::string& path, const OnnxExportOptions& o = {});

// The serialised model (initialisers inside), for tests and small graphs.
Result<std::string> onnx_model_bytes(const Graph& g, std::span<const Tensor> weights,
                                     const OnnxExportOptions& o = {},
                                     OnnxExportSummary* summary = nullptr);

// The model's inputs besides the graph input (KV caches) with the contents tierbench's executor
// gives them for `seed` (the same stream as Executor's constructor).
std::vector<std::pair<std::string, Tensor>> onnx_state_inputs(const Graph& g, std::uint64_t seed);

}  // namespace tb::workloads

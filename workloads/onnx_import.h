// ONNX import: a user's ONNX model (opset 11 and later, Debian's ONNX protobuf) as the Graph
// tierbench runs (graph.h), with its initialisers as the weights, so that it is validated,
// timed and profiled exactly like a model tier.
//
// Mapping (the inverse of onnx_export.h; onnx_import.cpp has the details):
//   - NCHW images run as NHWC values: a Transpose is a change of layout, not a copy, until a
//     consumer needs another one (then a host permute); a 4-D f32 graph input read by a Conv or a
//     pool is fed NHWC, like the tiers' images. The graph output keeps ONNX's layout.
//   - Conv (grouped, depthwise) with a following BatchNormalization folded into its weights,
//     Gemm and MatMul with a constant right side, each with bias, activation (Relu, Clip(0, 6),
//     x * Sigmoid(x), Gelu and its Erf form) and a residual Add fused as the tiers' epilogues.
//   - attention: MatMul(Q, K^T), scale 1/sqrt(d), an optional causal or zero mask, Softmax,
//     MatMul(P, V) as one attention kernel; other runtime MatMuls as batched gemms (f32).
//   - LayerNormalization and its decomposed form (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt,
//     Div, Mul, Add) as the layernorm kernel; Softmax over the last axis; MaxPool, AveragePool,
//     GlobalAveragePool, ReduceMean over H and W; Add and Mul (a constant broadcast into a
//     weight); Gather of a constant table by runtime ids as the embed kernel.
//   - Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout: no data movement. Subgraphs of
//     constants (Shape, Gather, Concat, Cast, Slice, arithmetic, ...) are folded at import.
//   - LLaMA-style decoders: decomposed RMSNorm as the rmsnorm kernel; rotate-half RoPE (Slice
//     halves times half-width cos / sin tables, Sub, Add, Concat; or Hugging Face's x cos +
//     Concat(-x2, x1) sin with full-width tables) as the rope kernel, tables matching the tiers'
//     own computed at load; K and V heads repeated by Expand (grouped-query attention)
//     read by the attention kernel as the kv heads; an LM head tied to the embedding table
//     sharing its weight. Inputs after the first are state (KV caches, seeded at load like the
//     tiers'); Concat(Slice(cache, 0, p), row, Slice(cache, p + 1, S)) writes row p in place.
//   - auto_pad (SAME_UPPER, SAME_LOWER, VALID) on Conv and the pools, resolved to explicit pads.
//   - Cast to bfloat16 and back (bf16 tiers); QuantizeLinear with tierbench's own dynamic scale
//     and zero point, its DequantizeLinear, and DequantizeLinear of int8 constants (int8 tiers;
//     the quantised form needs --dtype int8). Static QDQ (constant per-tensor scales, uint8 or
//     int8 zero points): host fake quantisation at f32 and bf16; at int8 the kernels' input
//     quantize with the file's scale, fake quantisation where other ops read the pair, and f32
//     for a Conv that pads an input of non-zero zero point (README.md).
// Anything else, or an attribute the kernels cannot honour, is an error naming the node and op.
// --dtype bf16 / int8 build the graph as the tiers of that dtype do (bf16 weights and casts;
// s8 weights with per-output-channel scales and dynamic u8 activations).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "graph.h"

namespace tb::workloads {

struct OnnxImportOptions {
  // Shapes of graph inputs by name ("input_ids" -> {128}): bind dynamic dimensions.
  std::map<std::string, std::vector<std::int64_t>> input_shapes;
  DType dtype = DType::f32;  // graph dtype: f32, bf16 or s8 (int8)
  // Refuse models whose values (one tensor) or initialisers (in all) exceed these.
  std::int64_t max_tensor_bytes = std::int64_t{1} << 34;
  std::int64_t max_weight_bytes = std::int64_t{1} << 36;
};

struct OnnxImportSummary {
  std::string hash;  // SHA-256 of the model file and its external-data files (hex)
  std::string name;  // "onnx-<first 12 hex digits>": the tier name, free of the path
  int opset = 0;
  std::string producer;
  std::map<std::string, int> op_counts;  // ONNX op types as in the file
  std::vector<std::string> files;        // the model and its external-data files (local paths)
  std::int64_t file_bytes = 0;           // their size
  std::string input_name, output_name;
  std::vector<std::int64_t> input_shape;  // ONNX's shape of the input
  bool input_nhwc = false;          // the input is an NCHW image fed as NHWC (graph.values[input])
  std::vector<std::string> states;  // inputs after the first: state (KV caches), seeded at load
  std::vector<std::string> notes;   // approximations made (e.g. a LayerNorm epsilon)
};

struct ImportedModel {
  Graph graph;                  // tier = summary.name, variant = the input shape
  std::vector<Tensor> weights;  // graph.weights order
  OnnxImportSummary summary;
};

// Reads, checks and converts an ONNX file (external data resolved beside it). Errors name the
// file's node and op, or the tensor, and what is wrong.
Result<ImportedModel> import_onnx(const std::string& path, const OnnxImportOptions& o = {});

// The same from bytes already read; external data are looked up in `dir`.
Result<ImportedModel> import_onnx_bytes(const std::string& bytes, const std::string& dir,
                                        const OnnxImportOptions& o = {});

// "1x3x224x224" -> {1, 3, 224, 224}; "NAME=1x3x224x224" for --input.
Result<std::vector<std::int64_t>> parse_shape(const std::string& s);
Result<std::pair<std::string, std::vector<std::int64_t>>> parse_input_binding(const std::string& s);
std::string shape_str(const std::vector<std::int64_t>& s);  // "1x3x224x224"

// Drops the page cache of the model's files (posix_fadvise DONTNEED) so that the next read is
// cold, as the tiers' weight reads are measured.
Result<void> drop_file_cache(const std::vector<std::string>& files);

}  // namespace tb::workloads

// A model as a graph of kernel ops: the single definition of a tier, from which tierbench
// derives its figures (MACs, parameters, weight bytes, peak activation memory), the weights file
// it expects, and what the executor runs.
//
// A Graph is a list of layers in execution order. A layer is either a kernel (a tb::Problem,
// run on the backend under test) or a host op (an op the kernel set has none for: dtype casts,
// int8 quantisation, a [a][b][c] -> [b][a][c] permute, KV-cache writes, ...; run by the executor
// on the host, identically for every backend). Each layer reads operands, one per
// Problem::inputs() entry for kernels, and writes one value.
//
// Operands are weights (stored in the model file), or values: the graph input, activations
// produced by earlier layers, states (KV caches, seeded at load) and constants (RoPE tables,
// position ids; computed at load).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels.h"

namespace tb::workloads {

enum class ValueKind { input, activation, state, constant };
// What a constant value holds (computed at load, not stored).
enum class ConstKind { none, rope_cos, rope_sin, iota_ids, zero_ids };

struct Value {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  ValueKind kind = ValueKind::activation;
  ConstKind constant = ConstKind::none;
  std::int64_t pos0 = 0;    // constants: first position (RoPE, iota)
  double rope_theta = 1e4;  // rope_cos / rope_sin
  std::int64_t numel() const;
  std::int64_t bytes() const;
};

// The largest magnitude of an int8 tier's s8 weight: 7 bits, as ONNX Runtime's quantiser makes
// them with reduce_range. x86 CPUs without VNNI (AVX2, AVX-512 before VNNI) multiply u8 x s8 with
// vpmaddubsw, which sums each pair of products into int16 with saturation: 255 x 127 x 2 = 64770
// does not fit, 255 x 63 x 2 = 32130 does. With 8-bit weights, oneDNN's u8 x s8 convolutions
// and matmuls on such a CPU (an AMD EPYC guest with AVX2, or ONEDNN_MAX_CPU_ISA=AVX2) gave
// MobileNetV2 int8 outputs of which 308 of 1000 differed from the reference; with 7 bits they
// are exact on every ISA, so the same int8 tier runs, and validates, everywhere.
inline constexpr int kWeightQMax = 63;

// How the synthetic initialiser fills a weight: uniform in +-bound (integers: uniform in
// [-kWeightQMax, kWeightQMax] for s8), or a constant.
struct Init {
  enum Kind { uniform, constant } kind = uniform;
  double bound = 0;  // uniform
  double value = 0;  // constant
};

struct WeightSpec {
  std::string name;  // safetensors key
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  Init init;
  std::int64_t numel() const;
  std::int64_t bytes() const;
  // Quantisation scales are bookkeeping, not model parameters.
  bool is_scale = false;
};

struct Operand {
  enum Kind { none, value, weight } kind = none;
  int index = -1;
  static Operand v(int i) { return {value, i}; }
  static Operand w(int i) { return {weight, i}; }
};

enum class HostOp {
  none,
  cast,        // in0 (f32 | bf16) -> out dtype
  quantize,    // in0 f32 -> u8: per-tensor dynamic scale; zero point 0 when in0 >= 0, else 128;
               // or static: the layer's qscale and qzp (an imported model's QuantizeLinear)
  dequantize,  // in0 s32 accumulators of a u8 x s8 kernel whose u8 input is in1 (for its scale
               // and zero point), in2 s8 weights [out][...] (zero-point compensation), in3 f32
               // per-output scales, in4 f32 bias (optional), in5 residual (optional):
               //   y = act(s_a s_w[n] (acc - zp sum_k w[n][k]) + bias[n]) + residual
  activation,  // in0 f32 -> act(in0)
  permute,     // in0 [a][b][c] -> [b][a][c]   (shape given by out)
  kv_write,    // in0 [1][kv][d] written into state in1 [kv][s][d] at row `pos`; out aliases in1
  last_row,    // in0 [m][n] -> [1][n] (its last row)
  embed,       // in0 ids s32 [t], in1 table [v][d] (bf16, or s8 with in2 f32 scales [v]) -> f32
               // [t][d]: lookups from tables the embed kernel (f32) does not take
  concat,      // in0..inK, each [outer][n_i] -> [outer][sum n_i] (one dtype; `outer` below)
  slice,       // in0 [outer][d][inner] -> [outer][cnt][inner]: rows start + i * step, i < cnt
               // (step may be negative; `outer`, `inner`, `start`, `step` below)
  fake_quant,  // in0 f32 -> f32 quantised to u8 with the static qscale and qzp, and back:
               //   (clamp(round_even(x / qscale) + qzp, 0, 255) - qzp) * qscale
               // (an imported QuantizeLinear / DequantizeLinear pair read by other than a kernel)
};

// "kv_write", "quantize": the op's name in profiles and reports.
std::string_view host_op_name(HostOp op);

struct Layer {
  std::string name;
  std::optional<Problem> problem;  // kernel layer when set
  HostOp host = HostOp::none;
  Activation act = Activation::none;  // dequantize, activation
  std::int64_t pos = 0;               // kv_write
  std::int64_t outer = 1, inner = 1;  // concat (outer), slice
  std::int64_t start = 0, step = 1;   // slice
  // quantize, fake_quant: a static per-tensor scale and u8 zero point (qscale > 0); a quantize
  // without one computes its scale from each input (dynamic).
  float qscale = 0;
  int qzp = 0;
  std::vector<Operand> in;
  int out = -1;  // value written
};

struct Figures {
  double macs = 0;                // multiply-accumulates of gemm, conv and attention layers
  std::int64_t params = 0;        // model parameters (quantisation scales excluded)
  std::int64_t weight_bytes = 0;  // bytes of the weights file's tensors (scales included)
  std::int64_t peak_activation_bytes = 0;  // max over layers of live values (liveness analysis)
  std::int64_t state_bytes = 0;            // KV caches and constants
  int kernel_layers = 0, host_layers = 0;
};

struct Graph {
  std::string tier, variant;  // e.g. "llm-135m", "decode:kv128"
  DType dtype = DType::f32;
  std::vector<Value> values;
  std::vector<WeightSpec> weights;
  std::vector<Layer> layers;
  int input = -1, output = -1;
  bool reduced = false;  // a reduced configuration of the architecture (for validation)
  std::string reduced_note;

  Figures figures() const;
  // Checks that every operand matches its consumer's expected type and element count, and that
  // every value is written before it is read. Builders call it; an error is a builder bug.
  Result<void> verify() const;
  const WeightSpec* find_weight(const std::string& name) const;
};

}  // namespace tb::workloads

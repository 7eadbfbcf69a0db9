// Problems: what a kernel computes, as a typed description with a canonical string that parses
// and prints round-trip. The string is at once the CLI filter, the store key and the repro line:
//
//   gemm:m1024n1024k1024:f32          gemm:b4m17n31k13ta1:f32+bias+relu
//   conv:n1c64h56w56k64r3s3p1:f32+bias+relu     attn:h8q1s1024d128:f32
//
// Grammar: OP ':' DIMS ':' DTYPE ('+' POST)*. DIMS is a run of name-number pairs (lower-case
// letters then digits); defaults are omitted when printing. POST is scales (integer dtypes only,
// see below), bias, an activation (relu, relu6, gelu, silu) or res (residual add), printed in that
// order, which is also the order they apply in; an op lists the posts it accepts (kPosts) and
// parse() rejects the others.
//
// Host tensor layouts are dense and row-major in the order each Desc's comment gives (outermost
// first). Images are NHWC: it is what GPU backends and model exporters prefer and it keeps
// channels contiguous for vector loads; oneDNN reorders to its blocked layouts internally.
//
// Data types: `dtype` names the compute type. gemm and conv: f32; bf16 (bf16 x bf16 -> f32);
// u8/s8 (u8 activations x s8 weights -> s32, exact; bias f32, added before rounding to s32);
// f16. The other ops take and produce `dtype` (f32, bf16, f16) except where noted.
//
// Scales (`+scales`, gemm and conv with u8/s8 only): the dequantising epilogue of an int8 layer.
// Two more inputs follow the weights: a_scale f32 [1] (per-tensor activation scale) and b_scale
// f32 [N] (per output channel: gemm n, conv k). The output and the residual become f32:
//   C = act(float(s32 acc) * a_scale * b_scale[n] + bias) + residual
// The s32 accumulation stays exact; only the epilogue is float. Every scale input's name ends in
// "_scale" (make_inputs draws them positive).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dtype.h"
#include "result.h"

namespace tb {

enum class Activation { none, relu, relu6, gelu, silu };
std::string_view activation_name(Activation a);
float apply_activation(Activation a, float x);
// The stable code device kernels (OpenCL C, GLSL) use for an activation: none 0, relu 1, relu6 2,
// gelu 3, silu 4.
std::uint32_t activation_code(Activation a);  // reference semantics (GELU: erf form)

// Members in the order of the parts' introduction (positional initialisers exist), not of
// application: scales apply first (see above).
struct Epilogue {
  bool bias = false;
  Activation act = Activation::none;
  bool residual = false;
  bool scales = false;  // integer dtypes only: dequantise the s32 accumulator
  bool operator==(const Epilogue&) const = default;
};

// Which epilogue parts an op accepts (Desc::kPosts).
inline constexpr unsigned kPostBias = 1, kPostAct = 2, kPostRes = 4, kPostScales = 8;

// Why an epilogue is invalid for an op and data type (a post the op does not take, scales on a
// floating-point type), or success. parse() applies it; backends may, for hand-built problems.
struct Problem;
Result<void> check_post(const Problem& p);

// One input or output of a problem: name, element type, dense row-major shape.
struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
};

// Elements and bytes of a tensor spec (dense).
std::int64_t spec_numel(const TensorSpec& s);
std::size_t spec_bytes(const TensorSpec& s);

// Name-number pairs of a DIMS token, in order of appearance.
using Dims = std::vector<std::pair<std::string, std::int64_t>>;
Result<Dims> parse_dims(std::string_view s);

// C[b] = act(A[b] . B[b] + bias) (+ residual). A is m x k (k x m when trans_a), B is k x n
// (n x k when trans_b), bias has n elements, C and residual are m x n; all row-major.
// With +scales: inputs A, B, a_scale [1], b_scale [n], then bias and residual as above.
struct GemmDesc {
  static constexpr std::string_view kOp = "gemm";
  static constexpr unsigned kPosts = kPostScales | kPostBias | kPostAct | kPostRes;
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;

  std::string dims() const;
  static Result<GemmDesc> from_dims(const Dims& d);
  double flops() const { return 2.0 * batch * m * n * k; }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const GemmDesc&) const = default;
};

// Element types of gemm/conv operands for a compute type: a (activations), b (weights), c (out,
// and residual). With +scales an integer c becomes f32.
struct GemmTypes {
  DType a, b, c;
};
GemmTypes gemm_types(DType dt);
GemmTypes gemm_types(DType dt, const Epilogue& post);

// 2-D convolution (cross-correlation), NHWC. Dims: n c h w (input), k (output channels), r s
// (kernel height, width), st (stride, default 1), p (zero padding on every side, default 0),
// pe (extra zero padding at the bottom and right, default 0: those sides pad p + pe, as
// TensorFlow's SAME padding and its ONNX exports do), dl (dilation, default 1 = dense), g
// (groups, default 1; c and k must divide by g; depthwise is g = c = k). Tensors: src
// [n][h][w][c]; weights [k][r][s][c/g] (output channel outermost, channels of its group
// innermost); bias [k] f32; dst and residual [n][oh][ow][k] with
// oh = (h + 2p + pe - dl(r-1) - 1) / st + 1 (likewise ow). With +scales, a_scale [1] and
// b_scale [k] follow the weights.
//   dst = act(conv(src, w) + bias) + residual
struct ConvDesc {
  static constexpr std::string_view kOp = "conv";
  static constexpr unsigned kPosts = kPostScales | kPostBias | kPostAct | kPostRes;
  std::int64_t n = 1, c = 0, h = 0, w = 0, k = 0, r = 0, s = 0;
  std::int64_t stride = 1, pad = 0, pad_end = 0, dilation = 1, groups = 1;
  std::int64_t oh() const { return (h + 2 * pad + pad_end - dilation * (r - 1) - 1) / stride + 1; }
  std::int64_t ow() const { return (w + 2 * pad + pad_end - dilation * (s - 1) - 1) / stride + 1; }
  // 1 x 1, stride 1, no padding, one group: a GEMM of pixels x c by c x k.
  bool pointwise() const {
    return r == 1 && s == 1 && stride == 1 && pad == 0 && pad_end == 0 && groups == 1;
  }

  std::string dims() const;
  static Result<ConvDesc> from_dims(const Dims& d);
  double flops() const;
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const ConvDesc&) const = default;
};

// Scaled dot-product attention, multi-head and grouped-query. Dims: b (batch, default 1),
// h (query heads), kv (key/value heads, default h; h must divide by kv: query head i reads kv
// head i / (h / kv)), q (query length), s (key length, default q), d (head dim), c (1 = causal).
// Tensors, head-major: Q [b][h][q][d]; K, V [b][kv][s][d]; O [b][h][q][d].
//   O = softmax(Q K^T / sqrt(d) + mask) V, softmax over keys, in f32 (bf16: Q K V bf16, O f32).
// Causal masking aligns the last query with the last key (decode against a KV cache): query i
// sees keys j <= i + (s - q). flops() counts the unmasked query-key pairs only (4 d per pair).
struct AttentionDesc {
  static constexpr std::string_view kOp = "attn";
  static constexpr unsigned kPosts = 0;
  std::int64_t b = 1, h = 0, kv = 0, q = 0, s = 0, d = 0;
  bool causal = false;
  std::int64_t pairs() const;  // unmasked (query, key) pairs per head

  std::string dims() const;
  static Result<AttentionDesc> from_dims(const Dims& d);
  double flops() const {
    return 4.0 * static_cast<double>(b * h * d) * static_cast<double>(pairs());
  }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const AttentionDesc&) const = default;
};

// Pooling, NHWC. kind max / avg: window r x s, stride st (default 1), padding p (default 0);
// average excludes the padding from the count. global: mean over h x w (r, s, st, p unused).
// src [n][h][w][c]; dst [n][oh][ow][c] (global: [n][c]).
enum class PoolKind { max, avg, global };
struct PoolDesc {
  static constexpr std::string_view kOp = "pool";  // printed as maxpool, avgpool, gpool
  static constexpr PoolKind kKinds[] = {PoolKind::max, PoolKind::avg, PoolKind::global};
  static constexpr unsigned kPosts = 0;
  PoolKind kind = PoolKind::max;
  // pad: zero padding on every side; pad_end: more at the bottom and right (as ConvDesc's).
  std::int64_t n = 1, c = 0, h = 0, w = 0, r = 1, s = 1, stride = 1, pad = 0, pad_end = 0;
  std::int64_t oh() const {
    return kind == PoolKind::global ? 1 : (h + 2 * pad + pad_end - r) / stride + 1;
  }
  std::int64_t ow() const {
    return kind == PoolKind::global ? 1 : (w + 2 * pad + pad_end - s) / stride + 1;
  }
  std::string_view op_name() const;

  std::string dims() const;
  static Result<PoolDesc> from_dims(const Dims& d, PoolKind kind);
  double flops() const;
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const PoolDesc&) const = default;
};

// Row-wise ops over a [m][n] tensor X (normalised over the last axis n), output Y [m][n]:
//   softmax:  Y = exp(X - max) / sum
//   lnorm:    Y = (X - mean) / sqrt(var + 1e-5) * gamma + beta   (gamma, beta [n] f32)
//   rmsnorm:  Y = X / sqrt(mean(X^2) + 1e-5) * gamma              (gamma [n] f32)
enum class RowKind { softmax, layernorm, rmsnorm };
struct RowDesc {
  static constexpr std::string_view kOp = "row";  // printed as softmax, lnorm, rmsnorm
  static constexpr RowKind kKinds[] = {RowKind::softmax, RowKind::layernorm, RowKind::rmsnorm};
  static constexpr unsigned kPosts = 0;
  static constexpr double kEps = 1e-5;
  RowKind kind = RowKind::softmax;
  std::int64_t m = 0, n = 0;
  std::string_view op_name() const;

  std::string dims() const;
  static Result<RowDesc> from_dims(const Dims& d, RowKind kind);
  double flops() const { return 5.0 * static_cast<double>(m * n); }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const RowDesc&) const = default;
};

// Elementwise binary op over n elements: add (Y = A + B) or mul (Y = A * B); A, B, Y [n].
enum class BinaryKind { add, mul };
struct BinaryDesc {
  static constexpr std::string_view kOp = "binary";  // printed as add, mul
  static constexpr BinaryKind kKinds[] = {BinaryKind::add, BinaryKind::mul};
  static constexpr unsigned kPosts = 0;
  BinaryKind kind = BinaryKind::add;
  std::int64_t n = 0;
  std::string_view op_name() const;

  std::string dims() const;
  static Result<BinaryDesc> from_dims(const Dims& d, BinaryKind kind);
  double flops() const { return static_cast<double>(n); }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const BinaryDesc&) const = default;
};

// Rotary position embedding (rotate-half form, as in GPT-NeoX / LLaMA), given its tables so that
// every backend computes the same thing (no sin/cos of large angles on the device). Dims: t
// (tokens), h (heads), d (head dim, even). X, Y [t][h][d]; cos, sin [t][d/2]. For i < d/2:
//   Y[.., i] = X[i] cos[i] - X[i + d/2] sin[i];   Y[.., i + d/2] = X[i + d/2] cos[i] + X[i] sin[i]
struct RopeDesc {
  static constexpr std::string_view kOp = "rope";
  static constexpr unsigned kPosts = 0;
  std::int64_t t = 0, h = 0, d = 0;

  std::string dims() const;
  static Result<RopeDesc> from_dims(const Dims& d);
  double flops() const { return 3.0 * static_cast<double>(t * h * d); }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const RopeDesc&) const = default;
};

// Embedding lookup: Y[i] = table[ids[i] mod v] (floor modulo, so every int32 id names a row).
// Dims: v (vocabulary rows), d (row length), t (tokens). table [v][d] in the storage type of dtype
// (f32, bf16, f16; s8 with a third input, f32 scales [v]: row r is table[r] * scales[r]); ids [t]
// s32; Y [t][d] f32 always: a lookup widens its rows, for the f32 activations that follow it.
struct EmbedDesc {
  static constexpr std::string_view kOp = "embed";
  static constexpr unsigned kPosts = 0;
  std::int64_t v = 0, d = 0, t = 0;
  static std::int64_t row(std::int64_t id, std::int64_t v) { return ((id % v) + v) % v; }

  std::string dims() const;
  static Result<EmbedDesc> from_dims(const Dims& d);
  double flops() const { return 0; }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const EmbedDesc&) const = default;
};

// KV-cache write: one token's keys or values stored into a cache at row p. Dims: h (kv heads),
// s (cache rows), d (row length), p (the row written, < s). X f32 [h][d]; cache, Y [h][s][d] in
// the storage type of dtype (f32, bf16, f16): Y is the cache with rows p replaced by X, rounded to
// that type. A graph runs it in place (Y is the cache's own buffer: only the h rows are written,
// DeviceGraph::states); as a kernel it writes the whole of Y.
struct KvWriteDesc {
  static constexpr std::string_view kOp = "kvwrite";
  static constexpr unsigned kPosts = 0;
  std::int64_t h = 0, s = 0, d = 0, p = 0;

  std::string dims() const;
  static Result<KvWriteDesc> from_dims(const Dims& d);
  double flops() const { return 0; }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const KvWriteDesc&) const = default;
};

// Permute of the two outer axes: X [a][b][c] -> Y [b][a][c] (attention's heads-major views of a
// prefill's tokens, and back), in the storage type of dtype; a copy, bit for bit.
struct PermuteDesc {
  static constexpr std::string_view kOp = "permute";
  static constexpr unsigned kPosts = 0;
  std::int64_t a = 0, b = 0, c = 0;

  std::string dims() const;
  static Result<PermuteDesc> from_dims(const Dims& d);
  double flops() const { return 0; }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const PermuteDesc&) const = default;
};

// Row slice: X [o][r][n] -> Y [o][c][n], Y[.][j] = X[.][s + j t] (a prefill's last token before
// the LM head; an imported model's Slice), in the storage type of dtype; a copy, bit for bit.
// Dims: o (outer), r (rows), n (row length), s (first row), c (rows taken), t (step, default 1).
struct SliceDesc {
  static constexpr std::string_view kOp = "slice";
  static constexpr unsigned kPosts = 0;
  std::int64_t o = 1, r = 0, n = 0, s = 0, c = 0, t = 1;

  std::string dims() const;
  static Result<SliceDesc> from_dims(const Dims& d);
  double flops() const { return 0; }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const SliceDesc&) const = default;
};

// The op list: one entry per op family, X(Desc, stem), in OpDesc order (append only: the order
// is part of the API). Everything else follows from it: the OpDesc variant, parse() (by kOp, or
// by op_name() over kKinds for a Desc that covers several ops), the reference's dispatch
// (ref::<stem>, reference_ops.h) and the sources CMake compiles, ops/<stem>.cpp and
// reference/<stem>_ref.cpp (kernels/CMakeLists.txt reads the X(...) lines below: keep one per
// line). Adding an op: its Desc above, its line here, those two files.
#define TB_OP_LIST(X)         \
  X(GemmDesc, gemm)           \
  X(ConvDesc, conv)           \
  X(AttentionDesc, attention) \
  X(PoolDesc, pool)           \
  X(RowDesc, rowwise)         \
  X(BinaryDesc, binary)       \
  X(RopeDesc, rope)           \
  X(EmbedDesc, embed)         \
  X(KvWriteDesc, kvwrite)     \
  X(PermuteDesc, permute)     \
  X(SliceDesc, slice)

namespace detail {
template <class First, class... Descs>
struct OpVariant {
  using type = std::variant<Descs...>;
};
}  // namespace detail
#define TB_OP_TYPE(Desc, stem) , Desc
using OpDesc = detail::OpVariant<void TB_OP_LIST(TB_OP_TYPE)>::type;
#undef TB_OP_TYPE

// Backends dispatch on OpDesc with std::visit(Overloaded{...}, p.op): one lambda per op they
// implement, then the shared no_kernel() catch-all (backend.h) that answers unsupported for any
// other, so that a new op needs no edit in a backend that does not implement it. The reference
// implements every op: its visit calls ref::<stem> for each alternative.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

struct Problem {
  OpDesc op;
  DType dtype = DType::f32;
  Epilogue post;

  static Result<Problem> parse(std::string_view s);
  std::string str() const;
  std::string_view op_name() const;
  double flops() const;      // multiply-add counts as 2
  double min_bytes() const;  // compulsory traffic: every input read and output written once
  std::vector<TensorSpec> inputs() const;
  std::vector<TensorSpec> outputs() const;
  template <class T>
  const T* as() const {
    return std::get_if<T>(&op);
  }
  bool operator==(const Problem&) const = default;
};

Problem make_gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType dt = DType::f32);

}  // namespace tb

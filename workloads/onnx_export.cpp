// ONNX export (onnx_export.h): walks the graph's layers in order and emits, for each, the
// standard ONNX ops computing what the layer computes. Every graph value maps to one ONNX tensor
// (SSA: a KV-cache write makes a new tensor), held with its ONNX shape and whether it is an
// NCHW image (a 4-D NHWC value of tierbench's). Consumers ask for a value either as an image
// (NCHW) or "plain" (tierbench's row-major layout, in the shape they need): Transposes and
// Reshapes appear only where the layouts or shapes differ.
#include "onnx_export.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numbers>
#include <numeric>

#include "executor.h"
#include "models.h"

namespace tb::workloads {

namespace {

using Shape = std::vector<std::int64_t>;

std::int64_t numel(const Shape& s) {
  return std::accumulate(s.begin(), s.end(), std::int64_t{1}, std::multiplies<>());
}

int onnx_type(DType dt) {
  switch (dt) {
    case DType::f32:
      return onnx::TensorProto::FLOAT;
    case DType::f16:
      return onnx::TensorProto::FLOAT16;
    case DType::bf16:
      return onnx::TensorProto::BFLOAT16;
    case DType::s8:
      return onnx::TensorProto::INT8;
    case DType::u8:
      return onnx::TensorProto::UINT8;
    case DType::s32:
      return onnx::TensorProto::INT32;
  }
  return onnx::TensorProto::UNDEFINED;
}

// An ONNX tensor standing for a graph value.
struct Ten {
  std::string name;
  Shape shape;  // its ONNX shape
  DType dtype = DType::f32;
  bool nchw = false;  // a 4-D image in NCHW (tierbench's value is NHWC)
};

struct Unsupported {
  std::string what;
};

// [k][r][s][c] -> [k][c][r][s], any element size.
std::string conv_weight_kcrs(const Tensor& w) {
  const auto& s = w.shape();
  const std::int64_t K = s[0], R = s[1], S = s[2], C = s[3];
  const std::size_t es = dtype_size(w.dtype());
  std::string out(w.bytes(), '\0');
  const auto* src = reinterpret_cast<const char*>(w.raw());
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t r = 0; r < R; ++r)
      for (std::int64_t x = 0; x < S; ++x)
        for (std::int64_t c = 0; c < C; ++c)
          std::memcpy(&out[(((k * C + c) * R + r) * S + x) * es],
                      src + (((k * R + r) * S + x) * C + c) * es, es);
  return out;
}

class Exporter {
 public:
  Exporter(const Graph& g, std::span<const Tensor> w) : g_(g), w_(w) {}

  Result<onnx::ModelProto> run(const OnnxExportOptions& o, OnnxExportSummary& sum);

 private:
  onnx::GraphProto& gp() { return *model_.mutable_graph(); }
  std::string fresh(const std::string& base) { return base + "/" + std::to_string(counter_++); }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& in,
                        const std::string& out, const std::string& name = {}) {
    auto* n = gp().add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? out : name);
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return *n;
  }
  static void attr_i(onnx::NodeProto& n, const std::string& k, std::int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_f(onnx::NodeProto& n, const std::string& k, float v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr_ints(onnx::NodeProto& n, const std::string& k, const Shape& v) {
    auto* a = n.add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }

  std::string initializer(const std::string& name, int elem, const Shape& shape,
                          std::string bytes) {
    auto* t = gp().add_initializer();
    t->set_name(name);
    t->set_data_type(elem);
    for (auto d : shape) t->add_dims(d);
    t->set_raw_data(std::move(bytes));
    return name;
  }
  template <class T>
  std::string const_vec(const std::string& base, int elem, const std::vector<T>& v,
                        Shape shape = {}) {
    if (shape.empty() && v.size() != 1) shape = {static_cast<std::int64_t>(v.size())};
    std::string bytes(v.size() * sizeof(T), '\0');
    std::memcpy(bytes.data(), v.data(), bytes.size());
    return initializer(fresh(base), elem, shape, std::move(bytes));
  }
  // 1-D int64 constants (shapes, axes, slice bounds).
  std::string i64s(const Shape& v) {
    return const_vec("const_i64", onnx::TensorProto::INT64, v, {std::int64_t(v.size())});
  }
  // Scalar constants, as Tens for binary().
  Ten scalar_f32(float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    auto& name = scalars_[{onnx::TensorProto::FLOAT, bits}];
    if (name.empty()) name = const_vec("const_f32", onnx::TensorProto::FLOAT, std::vector{v});
    return named(name, DType::f32);
  }
  Ten scalar_i32(std::int64_t v) {
    return named(
        const_vec("const_i32", onnx::TensorProto::INT32, std::vector{static_cast<std::int32_t>(v)}),
        DType::s32);
  }
  Ten scalar_u8(std::uint8_t v) {
    auto& name = scalars_[{onnx::TensorProto::UINT8, v}];
    if (name.empty()) name = const_vec("const_u8", onnx::TensorProto::UINT8, std::vector{v});
    return named(name, DType::u8);
  }
  static Ten named(std::string name, DType dt) {
    Ten t;
    t.name = std::move(name);
    t.dtype = dt;
    return t;
  }

  // A weight as an ONNX tensor: its safetensors name, its bytes (conv weights: [k][c/g][r][s]).
  Ten weight(int wi, bool conv_layout);
  // A value or weight operand.
  Ten operand(const Operand& o);
  // An operand in tierbench's row-major layout, reshaped to `shape` (same element count).
  Ten plain(const Ten& t, const Shape& shape);
  // An operand as an NCHW image of an NHWC [n][h][w][c] value.
  Ten image(const Ten& t, const Shape& nhwc);
  Ten reshape(const Ten& t, const Shape& shape);
  Ten transpose(const Ten& t, const Shape& perm);
  Ten cast(const Ten& t, DType to);
  Ten to_f32(const Ten& t) { return t.dtype == DType::f32 ? t : cast(t, DType::f32); }
  Ten unary(const std::string& op, const Ten& t);
  Ten binary(const std::string& op, const Ten& a, const Ten& b);
  Ten activation(const Ten& t, Activation a);
  // `a op b` where b is an operand in a's layout (residuals, binary ops).
  Ten like(const Ten& a, const Operand& b);

  void kernel(std::size_t li, const Layer& l);
  void host(std::size_t li, const Layer& l);
  Ten gemm(const Layer& l, const GemmDesc& d, const Ten& a, const Ten& b);
  Ten conv(const Layer& l, const ConvDesc& d, const Ten& x, const Ten& w);
  Ten attention(const Layer& l, const AttentionDesc& d);
  Ten quantize(const Layer& l);
  // s8 weights [n][...] times their per-output-channel scales (the dequantize layer's in3), with
  // an explicit zero point of the scales' shape (ONNX Runtime's QGemm fusion requires it).
  Ten dequant_weight(const Ten& w, const Layer& dq);
  // The scale (per output channel) of an int8 kernel's weights: its dequantize layer's in3.
  const Layer& dequant_of(std::size_t li) const;

  const Graph& g_;
  std::span<const Tensor> w_;
  onnx::ModelProto model_;
  std::vector<Ten> vals_;                    // per graph value (name empty: not yet written)
  std::map<std::pair<int, bool>, Ten> wts_;  // (weight, conv layout) -> initialiser
  std::map<int, std::pair<std::string, std::string>> qparams_;    // u8 value -> scale, zero point
  std::map<std::pair<int, std::uint64_t>, std::string> scalars_;  // (type, bits) -> initialiser
  int counter_ = 0;
};

Ten Exporter::weight(int wi, bool conv_layout) {
  const auto key = std::make_pair(wi, conv_layout);
  if (auto it = wts_.find(key); it != wts_.end()) return it->second;
  const WeightSpec& s = g_.weights.at(static_cast<std::size_t>(wi));
  const Tensor& t = w_[static_cast<std::size_t>(wi)];
  Ten r{s.name, s.shape, s.dtype, false};
  std::string bytes;
  if (conv_layout) {
    bytes = conv_weight_kcrs(t);
    r.shape = {s.shape[0], s.shape[3], s.shape[1], s.shape[2]};
    // A weight read in both layouts (no tier does) keeps its name in the plain one.
    if (wts_.count({wi, false})) r.name = s.name + ".kcrs";
  } else {
    bytes.assign(reinterpret_cast<const char*>(t.raw()), t.bytes());
    if (wts_.count({wi, true})) r.name = s.name + ".plain";
  }
  initializer(r.name, onnx_type(s.dtype), r.shape, std::move(bytes));
  wts_[key] = r;
  return r;
}

Ten Exporter::operand(const Operand& o) {
  if (o.kind == Operand::weight) return weight(o.index, false);
  const Ten& t = vals_.at(static_cast<std::size_t>(o.index));
  if (t.name.empty())
    throw Unsupported{"value " + g_.values[static_cast<std::size_t>(o.index)].name +
                      " is read before it is written"};
  return t;
}

Ten Exporter::reshape(const Ten& t, const Shape& shape) {
  if (t.shape == shape) return t;
  Ten r{fresh(t.name + ".reshape"), shape, t.dtype, false};
  node("Reshape", {t.name, i64s(shape)}, r.name);
  return r;
}

Ten Exporter::transpose(const Ten& t, const Shape& perm) {
  Ten r{fresh(t.name + ".transpose"), {}, t.dtype, false};
  for (auto p : perm) r.shape.push_back(t.shape[static_cast<std::size_t>(p)]);
  attr_ints(node("Transpose", {t.name}, r.name), "perm", perm);
  return r;
}

Ten Exporter::plain(const Ten& t, const Shape& shape) {
  if (numel(shape) != numel(t.shape))
    throw Unsupported{t.name + " has " + std::to_string(numel(t.shape)) + " elements, " +
                      std::to_string(numel(shape)) + " wanted"};
  return reshape(t.nchw ? transpose(t, {0, 2, 3, 1}) : t, shape);
}

Ten Exporter::image(const Ten& t, const Shape& nhwc) {
  if (t.nchw) return t;
  Ten r = transpose(plain(t, nhwc), {0, 3, 1, 2});
  r.nchw = true;
  return r;
}

Ten Exporter::cast(const Ten& t, DType to) {
  Ten r{fresh(t.name + ".cast"), t.shape, to, t.nchw};
  attr_i(node("Cast", {t.name}, r.name), "to", onnx_type(to));
  return r;
}

Ten Exporter::unary(const std::string& op, const Ten& t) {
  Ten r{fresh(t.name + "." + op), t.shape, t.dtype, t.nchw};
  node(op, {t.name}, r.name);
  return r;
}

Ten Exporter::binary(const std::string& op, const Ten& a, const Ten& b) {
  Ten r{fresh(a.name + "." + op), a.shape, a.dtype, a.nchw};
  node(op, {a.name, b.name}, r.name);
  return r;
}

Ten Exporter::activation(const Ten& t, Activation a) {
  switch (a) {
    case Activation::none:
      return t;
    case Activation::relu:
      return unary("Relu", t);
    case Activation::relu6: {
      Ten r{fresh(t.name + ".Clip"), t.shape, t.dtype, t.nchw};
      node("Clip", {t.name, scalar_f32(0).name, scalar_f32(6).name}, r.name);
      return r;
    }
    case Activation::gelu: {  // 0.5 x (1 + erf(x / sqrt 2)): the pattern runtimes fuse
      const Ten e = unary("Erf", binary("Div", t, scalar_f32(std::numbers::sqrt2_v<float>)));
      const Ten s = binary("Add", e, scalar_f32(1));
      return binary("Mul", binary("Mul", t, s), scalar_f32(0.5f));
    }
    case Activation::silu:
      return binary("Mul", t, unary("Sigmoid", t));
  }
  return t;
}

Ten Exporter::like(const Ten& a, const Operand& bo) {
  const Ten b = operand(bo);
  if (a.nchw) return image(b, {a.shape[0], a.shape[2], a.shape[3], a.shape[1]});
  return plain(b, a.shape);
}

Ten Exporter::dequant_weight(const Ten& w, const Layer& dq) {
  const Ten scale = operand(dq.in[3]);
  const std::string zp =
      const_vec(w.name + ".zero_point", onnx::TensorProto::INT8,
                std::vector<std::int8_t>(static_cast<std::size_t>(w.shape[0]), 0), {w.shape[0]});
  Ten wd{fresh(w.name + ".dq"), w.shape, DType::f32, false};
  attr_i(node("DequantizeLinear", {w.name, scale.name, zp}, wd.name), "axis", 0);
  return wd;
}

const Layer& Exporter::dequant_of(std::size_t li) const {
  const int out = g_.layers[li].out;
  for (std::size_t i = li + 1; i < g_.layers.size(); ++i) {
    const Layer& l = g_.layers[i];
    if (l.host == HostOp::dequantize && l.in.at(0).kind == Operand::value && l.in[0].index == out)
      return l;
  }
  throw Unsupported{"int8 kernel " + g_.layers[li].name + " has no dequantize layer"};
}

Ten Exporter::gemm(const Layer& l, const GemmDesc& d, const Ten& a, const Ten& b) {
  Ten r{fresh(l.name), {d.batch, d.m, d.n}, DType::f32, false};
  const bool bias = l.problem->post.bias && !l.problem->post.scales;
  if (d.batch == 1) {
    const Ten a2 = plain(a, d.trans_a ? Shape{d.k, d.m} : Shape{d.m, d.k});
    const Ten b2 = plain(b, d.trans_b ? Shape{d.n, d.k} : Shape{d.k, d.n});
    std::vector<std::string> in = {a2.name, b2.name};
    if (bias) in.push_back(operand(l.in.at(2)).name);
    r.shape = {d.m, d.n};
    auto& n = node("Gemm", in, r.name, l.name);
    if (d.trans_a) attr_i(n, "transA", 1);
    if (d.trans_b) attr_i(n, "transB", 1);
    return r;
  }
  Ten a3 = plain(a, d.trans_a ? Shape{d.batch, d.k, d.m} : Shape{d.batch, d.m, d.k});
  Ten b3 = plain(b, d.trans_b ? Shape{d.batch, d.n, d.k} : Shape{d.batch, d.k, d.n});
  if (d.trans_a) a3 = transpose(a3, {0, 2, 1});
  if (d.trans_b) b3 = transpose(b3, {0, 2, 1});
  node("MatMul", {a3.name, b3.name}, r.name, l.name);
  if (bias) r = binary("Add", r, operand(l.in.at(2)));
  return r;
}

Ten Exporter::conv(const Layer& l, const ConvDesc& d, const Ten& x, const Ten& w) {
  Ten r{fresh(l.name), {d.n, d.k, d.oh(), d.ow()}, DType::f32, true};
  std::vector<std::string> in = {x.name, w.name};
  if (l.problem->post.bias && !l.problem->post.scales) in.push_back(operand(l.in.at(2)).name);
  auto& n = node("Conv", in, r.name, l.name);
  attr_ints(n, "kernel_shape", {d.r, d.s});
  attr_ints(n, "strides", {d.stride, d.stride});
  attr_ints(n, "pads", {d.pad, d.pad, d.pad + d.pad_end, d.pad + d.pad_end});
  attr_ints(n, "dilations", {d.dilation, d.dilation});
  attr_i(n, "group", d.groups);
  return r;
}

Ten Exporter::attention(const Layer& l, const AttentionDesc& d) {
  Ten q = plain(to_f32(operand(l.in[0])), {d.b, d.h, d.q, d.d});
  Ten k = plain(to_f32(operand(l.in[1])), {d.b, d.kv, d.s, d.d});
  Ten v = plain(to_f32(operand(l.in[2])), {d.b, d.kv, d.s, d.d});
  if (d.kv != d.h) {  // GQA: query head i reads kv head i / (h / kv)
    const auto expand = [&](const Ten& t) {
      const Ten t5 = reshape(t, {d.b, d.kv, 1, d.s, d.d});
      Ten e{fresh(t.name + ".expand"), {d.b, d.kv, d.h / d.kv, d.s, d.d}, DType::f32, false};
      node("Expand", {t5.name, i64s(e.shape)}, e.name);
      return reshape(e, {d.b, d.h, d.s, d.d});
    };
    k = expand(k), v = expand(v);
  }
  const Ten kt = transpose(k, {0, 1, 3, 2});
  Ten s{fresh(l.name + ".scores"), {d.b, d.h, d.q, d.s}, DType::f32, false};
  node("MatMul", {q.name, kt.name}, s.name);
  s = binary("Mul", s, scalar_f32(static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.d)))));
  if (d.causal) {  // query i sees keys j <= i + (s - q)
    std::vector<float> mask(static_cast<std::size_t>(d.q * d.s), 0.0f);
    for (std::int64_t i = 0; i < d.q; ++i)
      for (std::int64_t j = i + (d.s - d.q) + 1; j < d.s; ++j)
        mask[static_cast<std::size_t>(i * d.s + j)] = std::numeric_limits<float>::lowest();
    s = binary("Add", s,
               named(const_vec(l.name + ".causal_mask", onnx::TensorProto::FLOAT, mask, {d.q, d.s}),
                     DType::f32));
  }
  Ten p{fresh(l.name + ".probs"), s.shape, DType::f32, false};
  attr_i(node("Softmax", {s.name}, p.name), "axis", -1);
  Ten o{fresh(l.name), {d.b, d.h, d.q, d.d}, DType::f32, false};
  node("MatMul", {p.name, v.name}, o.name, l.name);
  return o;
}

void Exporter::kernel(std::size_t li, const Layer& l) {
  const Problem& p = *l.problem;
  const auto out = static_cast<std::size_t>(l.out);
  const bool int8 = p.dtype == DType::s8 || p.dtype == DType::u8;
  if (int8 && p.post.scales)
    throw Unsupported{"int8 kernel with a fused +scales epilogue (" + p.str() + ")"};
  if (!int8 && p.dtype != DType::f32 && p.dtype != DType::bf16)
    throw Unsupported{std::string(dtype_name(p.dtype)) + " kernel " + p.str()};
  Ten r;
  if (const auto* d = p.as<GemmDesc>()) {
    Ten a = operand(l.in[0]), b;
    if (int8) {  // DequantizeLinear of both operands; the dequantize layer adds the rest
      const Layer& dq = dequant_of(li);
      const auto& [sa, zp] = qparams_.at(l.in[0].index);
      Ten ad{fresh(a.name + ".dq"), a.shape, DType::f32, a.nchw};
      node("DequantizeLinear", {a.name, sa, zp}, ad.name);
      const Ten w = operand(l.in[1]);
      if (!d->trans_b || d->batch != 1 || l.in[1].kind != Operand::weight)
        throw Unsupported{"int8 gemm other than x W^T with W a weight (" + p.str() + ")"};
      a = ad, b = dequant_weight(w, dq);
    } else {
      a = to_f32(a), b = to_f32(operand(l.in[1]));
    }
    r = gemm(l, *d, a, b);
  } else if (const auto* d = p.as<ConvDesc>()) {
    const Shape nhwc = {d->n, d->h, d->w, d->c};
    Ten x = image(operand(l.in[0]), nhwc);
    if (l.in[1].kind != Operand::weight)
      throw Unsupported{"conv whose weights are not a weight (" + l.name + ")"};
    Ten w = weight(l.in[1].index, true);
    if (int8) {
      const Layer& dq = dequant_of(li);
      const auto& [sa, zp] = qparams_.at(l.in[0].index);
      Ten xd{fresh(x.name + ".dq"), x.shape, DType::f32, true};
      node("DequantizeLinear", {x.name, sa, zp}, xd.name);
      x = xd, w = dequant_weight(w, dq);
    } else {
      x = to_f32(x), w = to_f32(w);
    }
    r = conv(l, *d, x, w);
  } else if (const auto* d = p.as<AttentionDesc>()) {
    r = attention(l, *d);
  } else if (const auto* d = p.as<PoolDesc>()) {
    const Ten x = image(operand(l.in[0]), {d->n, d->h, d->w, d->c});
    if (d->kind == PoolKind::global) {
      Ten gp{fresh(l.name), {d->n, d->c, 1, 1}, x.dtype, true};
      node("GlobalAveragePool", {x.name}, gp.name, l.name);
      r = reshape(gp, {d->n, d->c});
    } else {
      r = Ten{fresh(l.name), {d->n, d->c, d->oh(), d->ow()}, x.dtype, true};
      auto& n =
          node(d->kind == PoolKind::max ? "MaxPool" : "AveragePool", {x.name}, r.name, l.name);
      attr_ints(n, "kernel_shape", {d->r, d->s});
      attr_ints(n, "strides", {d->stride, d->stride});
      attr_ints(n, "pads", {d->pad, d->pad, d->pad + d->pad_end, d->pad + d->pad_end});
      if (d->kind == PoolKind::avg) attr_i(n, "count_include_pad", 0);
    }
  } else if (const auto* d = p.as<RowDesc>()) {
    const Ten x = plain(to_f32(operand(l.in[0])), {d->m, d->n});
    r = Ten{fresh(l.name), x.shape, DType::f32, false};
    if (d->kind == RowKind::softmax) {
      attr_i(node("Softmax", {x.name}, r.name, l.name), "axis", -1);
    } else if (d->kind == RowKind::layernorm) {
      auto& n = node("LayerNormalization", {x.name, operand(l.in[1]).name, operand(l.in[2]).name},
                     r.name, l.name);
      attr_i(n, "axis", -1);
      attr_f(n, "epsilon", static_cast<float>(RowDesc::kEps));
    } else {  // x / sqrt(mean(x^2) + eps) * gamma
      Ten ms{fresh(l.name + ".mean_sq"), {d->m, 1}, DType::f32, false};
      auto& n = node("ReduceMean", {binary("Mul", x, x).name}, ms.name);
      attr_ints(n, "axes", {-1});
      attr_i(n, "keepdims", 1);
      const Ten rms =
          unary("Sqrt", binary("Add", ms, scalar_f32(static_cast<float>(RowDesc::kEps))));
      Ten y{fresh(l.name + ".normed"), x.shape, DType::f32, false};
      node("Div", {x.name, rms.name}, y.name);
      node("Mul", {y.name, operand(l.in[1]).name}, r.name, l.name);
    }
  } else if (const auto* d = p.as<BinaryDesc>()) {
    const Ten a = operand(l.in[0]);
    const Ten b = like(a, l.in[1]);
    r = Ten{fresh(l.name), a.shape, a.dtype, a.nchw};
    node(d->kind == BinaryKind::add ? "Add" : "Mul", {a.name, b.name}, r.name, l.name);
  } else if (const auto* d = p.as<RopeDesc>()) {
    const Ten x = plain(operand(l.in[0]), {d->t, d->h, d->d});
    const Ten c = plain(operand(l.in[1]), {d->t, 1, d->d / 2});
    const Ten s = plain(operand(l.in[2]), {d->t, 1, d->d / 2});
    const auto slice = [&](std::int64_t from, std::int64_t to) {
      Ten h{fresh(x.name + ".half"), {d->t, d->h, d->d / 2}, x.dtype, false};
      node("Slice", {x.name, i64s({from}), i64s({to}), i64s({2})}, h.name);
      return h;
    };
    const Ten x1 = slice(0, d->d / 2), x2 = slice(d->d / 2, d->d);
    const Ten y1 = binary("Sub", binary("Mul", x1, c), binary("Mul", x2, s));
    const Ten y2 = binary("Add", binary("Mul", x2, c), binary("Mul", x1, s));
    r = Ten{fresh(l.name), x.shape, x.dtype, false};
    attr_i(node("Concat", {y1.name, y2.name}, r.name, l.name), "axis", 2);
  } else if (const auto* d = p.as<EmbedDesc>()) {
    const Ten table = operand(l.in[0]);
    const Ten ids = plain(operand(l.in[1]), {d->t});
    const Ten rows = binary("Mod", ids, scalar_i32(d->v));
    r = Ten{fresh(l.name), {d->t, d->d}, table.dtype, false};
    node("Gather", {table.name, rows.name}, r.name, l.name);
  } else {
    throw Unsupported{"op " + std::string(p.op_name())};
  }
  // Epilogue: activation, then residual (bias went into the op). int8: in the dequantize.
  if (!int8 && (p.as<GemmDesc>() || p.as<ConvDesc>())) {
    r = activation(r, p.post.act);
    if (p.post.residual) r = binary("Add", r, like(r, l.in.back()));
  }
  vals_[out] = r;
}

// tierbench's dynamic quantisation (executor.cpp): nonneg = min(x) >= 0; range = nonneg ? max :
// max(-min, max); scale = range > 0 ? range / (nonneg ? 255 : 127) : 1; zero point 0 or 128.
Ten Exporter::quantize(const Layer& l) {
  const Ten x = operand(l.in[0]);
  if (l.qscale > 0) {  // static: the scale and zero point as constants (QDQ)
    const Ten scale = scalar_f32(l.qscale), zp = scalar_u8(static_cast<std::uint8_t>(l.qzp));
    Ten q{fresh(l.name), x.shape, DType::u8, x.nchw};
    node("QuantizeLinear", {x.name, scale.name, zp.name}, q.name, l.name);
    qparams_[l.out] = {scale.name, zp.name};
    return q;
  }
  const auto reduce = [&](const std::string& op) {
    Ten r{fresh(l.name + "." + op), {}, DType::f32, false};
    attr_i(node(op, {x.name}, r.name), "keepdims", 0);
    return r;
  };
  const auto f = [&](float v) { return scalar_f32(v); };
  const Ten lo = binary("Min", reduce("ReduceMin"), f(0)),
            hi = binary("Max", reduce("ReduceMax"), f(0));
  Ten nonneg{fresh(l.name + ".nonneg"), {}, DType::f32, false};
  node("GreaterOrEqual", {lo.name, f(0).name}, nonneg.name);
  const auto where = [&](const Ten& c, const Ten& a, const Ten& b, DType dt) {
    Ten r{fresh(l.name + ".where"), {}, dt, false};
    node("Where", {c.name, a.name, b.name}, r.name);
    return r;
  };
  const Ten range = where(nonneg, hi, binary("Max", unary("Neg", lo), hi), DType::f32);
  Ten positive{fresh(l.name + ".positive"), {}, DType::f32, false};
  node("Greater", {range.name, f(0).name}, positive.name);
  const Ten scale = where(positive, binary("Div", range, where(nonneg, f(255), f(127), DType::f32)),
                          f(1), DType::f32);
  const Ten zp = where(nonneg, scalar_u8(0), scalar_u8(128), DType::u8);
  Ten q{fresh(l.name), x.shape, DType::u8, x.nchw};
  node("QuantizeLinear", {x.name, scale.name, zp.name}, q.name, l.name);
  qparams_[l.out] = {scale.name, zp.name};
  return q;
}

void Exporter::host(std::size_t li, const Layer& l) {
  (void)li;
  const Value& ov = g_.values.at(static_cast<std::size_t>(l.out));
  Ten r;
  switch (l.host) {
    case HostOp::cast:
      r = cast(operand(l.in[0]), ov.dtype);
      break;
    case HostOp::activation:
      r = activation(operand(l.in[0]), l.act);
      break;
    case HostOp::quantize:
      r = quantize(l);
      break;
    case HostOp::fake_quant: {  // QuantizeLinear and DequantizeLinear with the same constants
      const Ten q = quantize(l);
      const auto& [scale, zp] = qparams_.at(l.out);
      r = Ten{fresh(l.name + ".dq"), q.shape, DType::f32, q.nchw};
      node("DequantizeLinear", {q.name, scale, zp}, r.name);
      break;
    }
    case HostOp::dequantize: {  // in0: the kernel's f32 (already dequantised, see kernel())
      r = operand(l.in[0]);
      if (l.in[4].kind != Operand::none) {
        const Ten b = operand(l.in[4]);
        r = binary("Add", r, r.nchw ? reshape(b, {1, b.shape[0], 1, 1}) : b);
      }
      r = activation(r, l.act);
      if (l.in[5].kind != Operand::none) r = binary("Add", r, like(r, l.in[5]));
      break;
    }
    case HostOp::permute: {  // [a][b][c] -> [b][a][c]
      const Ten x = plain(operand(l.in[0]), {ov.shape[1], ov.shape[0], ov.shape[2]});
      r = transpose(x, {1, 0, 2});
      break;
    }
    case HostOp::kv_write: {  // in0 [1][kv][d] into the cache [kv][s][d] at row pos
      const Ten cache = operand(l.in[1]);
      const std::int64_t kv = cache.shape[0], s = cache.shape[1], d = cache.shape[2];
      Ten x = plain(operand(l.in[0]), {kv, 1, d});
      if (x.dtype != cache.dtype) x = cast(x, cache.dtype);
      std::vector<std::string> parts;
      const auto slice = [&](std::int64_t from, std::int64_t to) {
        Ten p{fresh(cache.name + ".rows"), {kv, to - from, d}, cache.dtype, false};
        node("Slice", {cache.name, i64s({from}), i64s({to}), i64s({1})}, p.name);
        return p.name;
      };
      if (l.pos > 0) parts.push_back(slice(0, l.pos));
      parts.push_back(x.name);
      if (l.pos + 1 < s) parts.push_back(slice(l.pos + 1, s));
      r = Ten{fresh(l.name), cache.shape, cache.dtype, false};
      attr_i(node("Concat", parts, r.name, l.name), "axis", 1);
      break;
    }
    case HostOp::last_row: {
      const std::int64_t cols = ov.numel();
      const Ten x = operand(l.in[0]);
      const Ten x2 = plain(x, {numel(x.shape) / cols, cols});
      r = Ten{fresh(l.name), {1, cols}, x.dtype, false};
      node("Slice", {x2.name, i64s({x2.shape[0] - 1}), i64s({x2.shape[0]}), i64s({0})}, r.name,
           l.name);
      break;
    }
    case HostOp::embed: {
      const Ten ids = plain(operand(l.in[0]), {numel(operand(l.in[0]).shape)});
      const Ten table = operand(l.in[1]);
      const Ten rows = binary("Mod", ids, scalar_i32(table.shape[0]));
      Ten e{fresh(l.name + ".rows"), {ids.shape[0], table.shape[1]}, table.dtype, false};
      node("Gather", {table.name, rows.name}, e.name);
      r = to_f32(e);
      if (l.in.size() > 2) {  // s8 table: times the row's scale
        Ten sc{fresh(l.name + ".scale"), {ids.shape[0]}, DType::f32, false};
        node("Gather", {operand(l.in[2]).name, rows.name}, sc.name);
        r = binary("Mul", r, reshape(sc, {ids.shape[0], 1}));
      }
      break;
    }
    case HostOp::concat: {  // each [outer][n_i] -> [outer][sum n_i]
      std::vector<std::string> parts;
      std::int64_t sum = 0;
      for (const auto& o : l.in) {
        const Ten t = operand(o);
        const Ten x = plain(t, {l.outer, numel(t.shape) / l.outer});
        parts.push_back(x.name);
        sum += x.shape[1];
      }
      Ten c{fresh(l.name), {l.outer, sum}, operand(l.in[0]).dtype, false};
      attr_i(node("Concat", parts, c.name, l.name), "axis", 1);
      r = reshape(c, ov.shape);
      break;
    }
    case HostOp::slice: {  // [outer][d][inner] -> [outer][cnt][inner], rows start + i * step
      const Ten t = operand(l.in[0]);
      const std::int64_t d = numel(t.shape) / (l.outer * l.inner),
                         cnt = ov.numel() / (l.outer * l.inner);
      const Ten x = plain(t, {l.outer, d, l.inner});
      // The end is exclusive; a negative step that ends before row 0 needs an end below -d
      // (ONNX clamps it to "before the first row").
      const std::int64_t end = l.start + cnt * l.step;
      Ten c{fresh(l.name), {l.outer, cnt, l.inner}, t.dtype, false};
      node("Slice",
           {x.name, i64s({l.start}),
            i64s({end < 0 ? std::numeric_limits<std::int64_t>::min() : end}), i64s({1}),
            i64s({l.step})},
           c.name, l.name);
      r = reshape(c, ov.shape);
      break;
    }
    case HostOp::none:
      throw Unsupported{"host op none"};
  }
  vals_[static_cast<std::size_t>(l.out)] = r;
}

void value_info(onnx::ValueInfoProto* vi, const std::string& name, DType dt, const Shape& shape) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx_type(dt));
  for (auto d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

Result<onnx::ModelProto> Exporter::run(const OnnxExportOptions& o, OnnxExportSummary& sum) {
  if (w_.size() != g_.weights.size())
    return make_error("export " + g_.tier + ": " + std::to_string(w_.size()) +
                      " weights, the graph has " + std::to_string(g_.weights.size()));
  model_.set_ir_version(8);  // opset 17's IR version
  model_.set_producer_name("tierbench");
  model_.set_domain("tierbench");
  auto* os = model_.add_opset_import();
  os->set_domain("");
  os->set_version(kOnnxOpset);
  const std::string workload = g_.tier + ":" + g_.variant + ":" + tier_dtype_name(g_.dtype);
  const auto meta = [&](const std::string& k, const std::string& v) {
    auto* p = model_.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  };
  meta("tierbench.workload", workload);
  meta("tierbench.seed", std::to_string(o.seed));
  if (g_.reduced) meta("tierbench.reduced", g_.reduced_note);
  gp().set_name(workload);

  if (g_.dtype == DType::bf16)
    sum.notes.push_back(
        "bf16: bf16 weights and casts as tierbench runs them; each kernel computes in f32 from its "
        "bf16 operands (tierbench's bf16 kernels round some intermediates, e.g. attention "
        "probabilities, to bf16: expect bf16-level differences)");
  if (g_.dtype == DType::s8)
    sum.notes.push_back(
        "int8: QDQ form (QuantizeLinear / DequantizeLinear around f32 ops); equal to tierbench's "
        "exact s32 accumulation up to f32 rounding; runtimes may or may not run it in integers");

  vals_.assign(g_.values.size(), Ten{});
  const std::vector<Tensor> initial = Executor::initial_values(g_, 0);  // constants: seed-free
  for (std::size_t v = 0; v < g_.values.size(); ++v) {
    const Value& val = g_.values[v];
    if (val.kind == ValueKind::input || val.kind == ValueKind::state) {
      value_info(gp().add_input(), val.name, val.dtype, val.shape);
      vals_[v] = Ten{val.name, val.shape, val.dtype, false};
      sum.inputs.push_back(val.name);
    } else if (val.kind == ValueKind::constant) {
      const Tensor& t = initial[v];
      initializer(val.name, onnx_type(val.dtype), val.shape,
                  std::string(reinterpret_cast<const char*>(t.raw()), t.bytes()));
      vals_[v] = Ten{val.name, val.shape, val.dtype, false};
    }
  }
  // The model input first.
  if (g_.input > 0)
    for (int i = 0; i < gp().input_size(); ++i)
      if (gp().input(i).name() == g_.values[static_cast<std::size_t>(g_.input)].name) {
        for (int j = i; j > 0; --j) gp().mutable_input()->SwapElements(j, j - 1);
        std::rotate(sum.inputs.begin(), sum.inputs.begin() + i, sum.inputs.begin() + i + 1);
        break;
      }

  for (std::size_t li = 0; li < g_.layers.size(); ++li) {
    const Layer& l = g_.layers[li];
    try {
      if (l.problem)
        kernel(li, l);
      else
        host(li, l);
    } catch (const Unsupported& u) {
      return make_error("export " + workload + ": layer " + l.name + " (" +
                        (l.problem ? l.problem->str() : std::string("host op")) +
                        "): no ONNX mapping: " + u.what);
    }
  }
  const Value& out = g_.values.at(static_cast<std::size_t>(g_.output));
  Ten y = vals_.at(static_cast<std::size_t>(g_.output));
  if (y.nchw) y = plain(y, out.shape);
  // The output keeps its ONNX shape (gemm [m][n], not the kernel's [1][m][n]), named "output".
  Ten fin{"output", y.shape, y.dtype, false};
  node("Identity", {y.name}, fin.name);
  value_info(gp().add_output(), fin.name, fin.dtype, fin.shape);
  sum.output = fin.name;
  sum.nodes = gp().node_size();
  sum.initializers = gp().initializer_size();
  for (const auto& t : gp().initializer())
    sum.initializer_bytes += static_cast<std::int64_t>(t.raw_data().size());
  return std::move(model_);
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> onnx_state_inputs(const Graph& g, std::uint64_t seed) {
  std::vector<std::pair<std::string, Tensor>> r;
  std::vector<Tensor> initial = Executor::initial_values(g, seed);  // what the executor seeds
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].kind == ValueKind::state)
      r.emplace_back(g.values[v].name, std::move(initial[v]));
  return r;
}

Result<std::string> onnx_model_bytes(const Graph& g, std::span<const Tensor> weights,
                                     const OnnxExportOptions& o, OnnxExportSummary* summary) {
  OnnxExportSummary sum;
  Exporter e(g, weights);
  auto m = e.run(o, sum);
  if (!m) return m.error();
  std::string bytes;
  if (!m->SerializeToString(&bytes))
    return make_error("export " + g.tier + ": protobuf serialisation failed (over 2 GiB?)");
  if (summary) *summary = std::move(sum);
  return bytes;
}

Result<OnnxExportSummary> export_onnx(const Graph& g, std::span<const Tensor> weights,
                                      const std::string& path, const OnnxExportOptions& o) {
  OnnxExportSummary sum;
  Exporter e(g, weights);
  auto m = e.run(o, sum);
  if (!m) return m.error();
  std::string ext = o.external_data;
  // Protobuf refuses messages of 2 GiB; keep well under it.
  constexpr std::int64_t kInlineLimit = std::int64_t{3} << 29;  // 1.5 GiB
  if (ext.empty() && sum.initializer_bytes > kInlineLimit)
    ext = std::filesystem::path(path).filename().string() + ".data";
  if (!ext.empty()) {
    const auto dir = std::filesystem::path(path).parent_path();
    const std::string data_path = (dir / ext).string();
    std::ofstream df(data_path, std::ios::binary | std::ios::trunc);
    if (!df) return make_error("cannot write " + data_path);
    std::int64_t offset = 0;
    for (auto& t : *m->mutable_graph()->mutable_initializer()) {
      if (t.raw_data().size() < 1024) continue;  // small constants stay inline
      const auto n = static_cast<std::int64_t>(t.raw_data().size());
      // Aligned to 4 KiB, as ONNX's own writer may do for mmap.
      const std::int64_t pad = (4096 - offset % 4096) % 4096;
      df << std::string(static_cast<std::size_t>(pad), '\0');
      offset += pad;
      df.write(t.raw_data().data(), n);
      t.clear_raw_data();
      t.set_data_location(onnx::TensorProto::EXTERNAL);
      const auto kv = [&](const std::string& k, const std::string& v) {
        auto* e2 = t.add_external_data();
        e2->set_key(k);
        e2->set_value(v);
      };
      kv("location", ext);
      kv("offset", std::to_string(offset));
      kv("length", std::to_string(n));
      offset += n;
    }
    if (!df) return make_error("write failed: " + data_path);
    sum.external_data = ext;
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return make_error("cannot write " + path);
  if (!m->SerializeToOstream(&f) || !f.flush()) return make_error("write failed: " + path);
  return sum;
}

}  // namespace tb::workloads

// ONNX import (onnx_import.h): nodes in topological order, each ONNX tensor held as a Sym: a
// constant (folded at import) or a graph value with a layout. A value's layout is a permutation
// of the ONNX tensor's dimensions (perm: ONNX dim j is dimension perm[j] of the value's
// row-major `base` shape), so that Transposes, and NCHW images computed NHWC, cost nothing until
// a consumer needs another layout; need() then emits a host permute, or fails when no permute
// the executor has does it.
//
// Kernels with epilogues (Conv, Gemm, MatMul) absorb the single-consumer chain after them:
// BatchNormalization (folded into the weights), bias Add, activation, residual Add. A chain is
// emitted at its last node, when every operand it reads exists.
#include "onnx_import.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numbers>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "builder.h"
#include "models.h"
#include "onnx_import_detail.h"

namespace tb::workloads {

using namespace onnx_import;

namespace {

struct Repeat;

struct Sym {
  Shape shape;  // ONNX shape
  bool is_float = true;
  std::shared_ptr<const Const> c;  // a constant
  int value = -1;                  // else a graph value
  std::vector<int> perm;           // empty: the value is the ONNX tensor, row-major
  Shape base;                      // with perm: the value's shape
  // tierbench's dynamic int8 quantisation of the value (QuantizeLinear with the scale and zero
  // point computed from it as the executor's quantize does): 1 the u8 tensor, 2 its
  // DequantizeLinear (the value quantised and back), which only an int8 kernel reads.
  int quant = 0;
  std::string qscale, qzp;  // the scale and zero-point tensors of that quantisation
  // Static quantisation (QuantizeLinear with a constant scale and zero point, ONNX Runtime's QDQ
  // form; the zero point in u8 terms): with quant 1 or 2, as above but with this fixed scale;
  // with quant 0, the value is already on that grid (fake-quantised), so an int8 kernel reading
  // it quantises it with this scale and zero point exactly.
  float sq_scale = 0;
  int sq_zp = 0;
  // An Expand not computed (yet): grouped-query attention's key and value heads (Repeat).
  std::shared_ptr<const Repeat> rep;
};

// The ONNX tensor `src` [.., kv, s, d] with each head (axis rank - 3) repeated g times: the
// Expand of [.., kv, 1, s, d] to [.., kv, g, s, d] (5-D), that Reshaped to [.., kv * g, s, d]
// (4-D), and its last two axes swapped (K^T). Attention reads src as its kv heads; anything else
// reading it computes the copies (a host concat).
struct Repeat {
  Sym src;
  std::int64_t g = 1;
  bool swapped = false;
};

// An int8 weight as the file holds it: DequantizeLinear of int8 values with zero zero points;
// `scale` per index along `axis` (one value: per tensor).
struct QuantWeight {
  Shape shape;
  std::vector<float> q;  // the int8 values
  std::vector<float> scale;
  int axis = 0;
};

// An epilogue chain after a Conv / Gemm / MatMul.
struct Chain {
  int head = -1;
  int bn = -1;                  // BatchNormalization folded into a Conv
  const Const* bias = nullptr;  // MatMul's bias Add, Gemm's C
  Activation act = Activation::none;
  std::string residual;  // tensor added after the activation
  std::string out;       // the chain's last tensor
  std::vector<int> nodes;
};

struct ActMatch {
  Activation act = Activation::none;
  std::vector<int> nodes;
  std::string out;
};

// A rotary embedding (match_rope).
struct RopeMatch {
  std::string x, out, cos, sin;
  bool full = false;
  std::vector<int> nodes;
};

// A KV-cache write (kv_write_at).
struct KvWrite {
  std::string cache, x;  // the state [kv][s][d]; the row written [kv][1][d]
  std::int64_t pos = 0;
  std::vector<int> slices;
  int cast = -1;  // a Cast of x to the cache's type, absorbed
};

// The inputs ONNX requires of each op the importer reads (opset 11 on; optional ones follow);
// other ops are refused by name later.
int min_inputs(const std::string& op) {
  static const std::map<std::string, int> need = {{"Add", 2},
                                                  {"Sub", 2},
                                                  {"Mul", 2},
                                                  {"Div", 2},
                                                  {"Pow", 2},
                                                  {"Equal", 2},
                                                  {"Greater", 2},
                                                  {"Less", 2},
                                                  {"GreaterOrEqual", 2},
                                                  {"LessOrEqual", 2},
                                                  {"And", 2},
                                                  {"Or", 2},
                                                  {"Not", 1},
                                                  {"Cos", 1},
                                                  {"Sin", 1},
                                                  {"Mod", 2},
                                                  {"MatMul", 2},
                                                  {"Gemm", 2},
                                                  {"Conv", 2},
                                                  {"Gather", 2},
                                                  {"Reshape", 2},
                                                  {"Expand", 2},
                                                  {"LayerNormalization", 2},
                                                  {"Where", 3},
                                                  {"Range", 3},
                                                  {"Slice", 3},
                                                  {"Split", 1},
                                                  {"BatchNormalization", 5},
                                                  {"Relu", 1},
                                                  {"Sigmoid", 1},
                                                  {"Gelu", 1},
                                                  {"Erf", 1},
                                                  {"Sqrt", 1},
                                                  {"Neg", 1},
                                                  {"Reciprocal", 1},
                                                  {"Clip", 1},
                                                  {"Softmax", 1},
                                                  {"MaxPool", 1},
                                                  {"AveragePool", 1},
                                                  {"GlobalAveragePool", 1},
                                                  {"ReduceMean", 1},
                                                  {"Transpose", 1},
                                                  {"Flatten", 1},
                                                  {"Squeeze", 1},
                                                  {"Unsqueeze", 1},
                                                  {"Identity", 1},
                                                  {"Dropout", 1},
                                                  {"Shape", 1},
                                                  {"Cast", 1},
                                                  {"ConstantOfShape", 1},
                                                  {"Concat", 1},
                                                  {"Max", 1},
                                                  {"Min", 1},
                                                  {"QuantizeLinear", 2},
                                                  {"DequantizeLinear", 2}};
  const auto it = need.find(op);
  return it == need.end() ? 0 : it->second;
}

// The explicit pads [top, left, bottom, right] of a Conv or pool on an image of `hw`: its pads
// attribute, or those its auto_pad implies (ONNX: SAME_* keep ceil(in / stride) outputs, the odd
// pixel of padding at the end (UPPER) or the start (LOWER); VALID none).
Shape resolve_pads(const onnx::NodeProto& n, const Shape& hw, const Shape& ks, const Shape& st,
                   const Shape& dl) {
  const std::string ap = attr_s(n, "auto_pad", "NOTSET");
  if (ap == "NOTSET") return attr_ints(n, "pads", {0, 0, 0, 0});
  if (ap != "SAME_UPPER" && ap != "SAME_LOWER" && ap != "VALID")
    throw Fail{"auto_pad '" + ap + "' (valid: NOTSET, SAME_UPPER, SAME_LOWER, VALID)"};
  if (const Shape p = attr_ints(n, "pads", {}); !p.empty() && p != Shape{0, 0, 0, 0})
    throw Fail{"auto_pad " + ap + " together with pads " + shape_str(p)};
  Shape pads(4, 0);
  if (ap == "VALID") return pads;
  if (hw.size() != 2 || ks.size() != 2 || st.size() != 2 || dl.size() != 2)
    throw Fail{"auto_pad " + ap + " outside 2-D"};
  for (std::size_t i = 0; i < 2; ++i) {
    if (st[i] <= 0 || dl[i] <= 0 || ks[i] <= 0) throw Fail{"auto_pad with a non-positive window"};
    const std::int64_t out = (hw[i] + st[i] - 1) / st[i];
    const std::int64_t total =
        std::max<std::int64_t>(0, (out - 1) * st[i] + (ks[i] - 1) * dl[i] + 1 - hw[i]);
    const std::int64_t small = total / 2, large = total - small;
    pads[i] = ap == "SAME_UPPER" ? small : large;
    pads[i + 2] = ap == "SAME_UPPER" ? large : small;
  }
  return pads;
}

bool near(double a, double b, double rel = 1e-4) {
  return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b));
}

class Importer {
 public:
  Importer(const onnx::ModelProto& m, const OnnxImportOptions& o, TensorReader& reader,
           OnnxImportSummary& sum)
      : m_(m), o_(o), reader_(reader), sum_(sum), b_("onnx", "", o.dtype) {}

  Result<ImportedModel> run();

 private:
  const onnx::GraphProto& gp() const { return m_.graph(); }
  const onnx::NodeProto& node(int pos) const { return *order_[static_cast<std::size_t>(pos)]; }

  void sort_nodes();
  void declare_input();
  Shape input_shape(const onnx::ValueInfoProto& vi) const;
  void dispatch(int pos);
  void emit_output();

  // Tensors.
  const Sym& sym(const std::string& name) const;
  bool has(const onnx::NodeProto& n, int k) const {
    return k < n.input_size() && !n.input(k).empty();
  }
  const Const* const_in(const onnx::NodeProto& n, int k) const;
  const Const& need_const(const onnx::NodeProto& n, int k, const char* what) const;
  // A computed input; an Expand not computed yet (Repeat) is computed here, once.
  const Sym& runtime_in(const onnx::NodeProto& n, int k);
  // The same, leaving an Expand uncomputed (the ops that carry it to attention).
  const Sym& lazy_in(const onnx::NodeProto& n, int k) const;
  void define(const std::string& name, Sym s);
  void define_value(const std::string& name, int value, Shape shape) {
    Sym s;
    s.shape = std::move(shape), s.value = value;
    define(name, std::move(s));
  }
  // Consumers of a tensor; a graph output counts as one more (never absorbed).
  const std::vector<int>& consumers(const std::string& t) const;
  int sole_consumer(const std::string& t) const;
  // The sole consumer of node p's output when it is an `op` node, else -1 (also for p < 0).
  int next_op(int p, const char* op) const {
    const int q = p < 0 ? -1 : sole_consumer(node(p).output(0));
    return q >= 0 && node(q).op_type() == op ? q : -1;
  }
  bool is_runtime_or_later(const std::string& t) const;

  // Layouts.
  // The value in `layout`, as f32 (or integers) unless keep_bf16 lets a bf16 value through.
  int need(const Sym& s, const std::vector<int>& layout = {}, bool keep_bf16 = false);
  int need_raw(const Sym& s, const std::vector<int>& layout);
  int f32_value(int v);  // v, or its bf16 values cast to f32 (once per value)
  // need(), and the value shaped as the layout (convolutions and pools read their dimensions from
  // the value's shape): a host copy when only a 3-D permute or another shape holds it.
  int need_shaped(const Sym& s, const std::vector<int>& layout, bool keep_bf16 = false);
  static std::vector<int> identity(std::size_t r) {
    std::vector<int> p(r);
    std::iota(p.begin(), p.end(), 0);
    return p;
  }
  Sym transposed(const Sym& s, const std::vector<int>& t) const;
  // An uncomputed Expand (Repeat) computed: a host concat of the copies (once per source).
  Sym materialize(const Sym& s);

  // Patterns.
  std::optional<ActMatch> match_act_at(int pos) const;
  std::optional<ActMatch> match_act(const std::string& t) const;
  Chain chain(int head) const;
  // The constant tensor t is or will be (folded ahead of its node, from constants only).
  const Const* peek_const(const std::string& t, int depth = 4) const;
  bool match_layernorm(int pos);
  bool match_rmsnorm(int pos);
  bool match_rope(int pos);
  bool emit_rope(const RopeMatch& m);
  // The tiers' own RoPE table (a constant computed at load) when `t` [rows][half] is one,
  // else a weight holding it.
  Operand rope_table(const std::vector<float>& t, std::int64_t rows, std::int64_t half, bool sin,
                     const std::vector<float>& other);
  std::optional<KvWrite> kv_write_at(int concat) const;
  std::int64_t grown_past(const std::string& name, const Shape& shape) const;
  void declare_step_input(const onnx::ValueInfoProto& vi);
  // Concat(past, new) of a grown cache: new written into the state's last row.
  bool emit_grown_cache(const onnx::NodeProto& n);
  bool match_attention(int pos);
  void match_dynamic_quant();
  // A kernel's activation input: a dynamically quantised one (quant 2) only into an int8 graph.
  Sym kernel_input(const onnx::NodeProto& n) const;

  // Emission.
  std::string layer_name(const onnx::NodeProto& n);
  void fill(const std::string& wname, const std::vector<float>& data);
  void emit_chain(const Chain& c);
  void emit_conv(const Chain& c);
  void emit_linear(const Chain& c);
  void emit_activation(const std::string& name, const Sym& x, Activation a, const std::string& out);
  void emit_binary(const onnx::NodeProto& n);
  void emit_pool(const onnx::NodeProto& n);
  void emit_matmul_batched(const onnx::NodeProto& n);
  void emit_gather(const onnx::NodeProto& n);
  void emit_concat(const onnx::NodeProto& n);
  void emit_slice(const onnx::NodeProto& n);
  void emit_split(const onnx::NodeProto& n);
  void emit_expand(int pos);
  bool emit_gather_const_ids(const onnx::NodeProto& n);
  bool tied_to_head(const std::string& table) const;
  void emit_reduce_mean(int pos);
  void emit_shape_op(const onnx::NodeProto& n);
  void emit_cast(const onnx::NodeProto& n);
  void emit_quant(int pos);
  void emit_static_quant(int pos);
  // After an s8 kernel layer `name` reading x: its input quantize takes x's static scale.
  void fix_input_quant(const std::string& name, const Sym& x);
  bool emit_dequant_const(const onnx::NodeProto& n);
  // The int8 weight named `wname` from the file's values, the per-channel scales along the
  // weight's output channels (rows of [rows][cols] after `transpose` of the file's layout).
  void fill_quantized(const std::string& wname, const QuantWeight& q, std::int64_t rows,
                      std::int64_t cols, const std::vector<std::int64_t>& index);

  const onnx::ModelProto& m_;
  const OnnxImportOptions& o_;
  TensorReader& reader_;
  OnnxImportSummary& sum_;
  Builder b_;
  int opset_ = 0;
  std::map<std::string, Sym> syms_;
  std::map<std::string, const onnx::TensorProto*> inits_;
  std::vector<const onnx::NodeProto*> order_;
  std::map<std::string, int> producer_;
  std::map<std::string, std::vector<int>> consumers_;
  std::set<std::string> outputs_;
  std::vector<bool> absorbed_;
  std::map<int, Chain> pending_;  // chain tail -> chain
  std::map<int, Tensor> wdata_;
  std::map<std::pair<int, std::vector<int>>, int> permuted_;  // (value, layout) -> value
  std::map<int, int> as_f32_;                                 // bf16 value -> its f32 cast
  // (source value, layout, copies) -> the repeated value (Repeat computed)
  std::map<std::tuple<int, std::vector<int>, std::int64_t>, int> repeated_;
  std::map<int, std::vector<int>> dynq_;         // QuantizeLinear -> the nodes computing its scale
  std::map<std::string, QuantWeight> qweights_;  // DequantizeLinear of an int8 constant
  int fake_quants_ = 0;                          // static QDQ pairs run as host fake quantisation
  mutable std::map<std::string, std::shared_ptr<const Const>> peeked_;
  std::set<std::string> names_;
  std::string input_;
  std::map<std::string, std::int64_t> dim_params_;  // symbolic dimension -> value bound by --input
  // Hugging Face's decoder-with-past form: a past cache [1][kv][past][d] grown by
  // Concat(past, new) on its token axis -> the state [kv][past + 1][d] that new is written into.
  std::set<std::string> grown_;    // the past inputs
  std::int64_t past_ = -1;         // their past length
  std::set<std::string> present_;  // the grown caches (Concat outputs): outputs allowed
  std::map<std::tuple<bool, std::int64_t, std::int64_t, std::int64_t, double>, int> rope_consts_;
  std::map<std::vector<float>, int> rope_weights_;
  std::map<std::string, std::string> tables_;  // initialiser -> the embedding weight holding it
  std::map<std::string, std::string> table_scales_;  // an int8 table -> its scales' initialiser
};

const Sym& Importer::sym(const std::string& name) const {
  const auto it = syms_.find(name);
  if (it == syms_.end()) throw Fail{"tensor '" + name + "' is not defined"};
  return it->second;
}

const Const* Importer::const_in(const onnx::NodeProto& n, int k) const {
  if (!has(n, k)) return nullptr;
  return sym(n.input(k)).c.get();
}

const Const& Importer::need_const(const onnx::NodeProto& n, int k, const char* what) const {
  if (!has(n, k)) throw Fail{std::string(what) + " (input " + std::to_string(k) + ") is missing"};
  const Const* c = const_in(n, k);
  if (!c) throw Fail{std::string(what) + " '" + n.input(k) + "' is not a constant"};
  return *c;
}

const Sym& Importer::lazy_in(const onnx::NodeProto& n, int k) const {
  if (!has(n, k)) throw Fail{"input " + std::to_string(k) + " is missing"};
  const Sym& s = sym(n.input(k));
  if (s.c) throw Fail{"input '" + n.input(k) + "' is a constant where a tensor is computed"};
  return s;
}

const Sym& Importer::runtime_in(const onnx::NodeProto& n, int k) {
  const Sym& s = lazy_in(n, k);
  if (!s.rep) return s;
  Sym& slot = syms_.at(n.input(k));
  slot = materialize(s);
  return slot;
}

void Importer::define(const std::string& name, Sym s) {
  if (!s.c) {
    checked_numel(s.shape, o_.max_tensor_bytes / 4);
    if (std::find(s.shape.begin(), s.shape.end(), 0) != s.shape.end())
      throw Fail{"'" + name + "' would be an empty tensor " + shape_str(s.shape)};
  }
  syms_[name] = std::move(s);
}

const std::vector<int>& Importer::consumers(const std::string& t) const {
  static const std::vector<int> none;
  const auto it = consumers_.find(t);
  return it == consumers_.end() ? none : it->second;
}

int Importer::sole_consumer(const std::string& t) const {
  const auto& c = consumers(t);
  if (c.size() != 1 || outputs_.count(t)) return -1;
  return c[0];
}

// A tensor that is (or will be) computed at run time: not an initialiser or a folded constant.
bool Importer::is_runtime_or_later(const std::string& t) const {
  if (const auto it = syms_.find(t); it != syms_.end()) return !it->second.c;
  return producer_.count(t) > 0;
}

// --- topological order and inputs ---------------------------------------------------------------

void Importer::sort_nodes() {
  const int n = gp().node_size();
  std::map<std::string, int> prod;
  // Every op the importer knows writes its first output and reads its required inputs by index
  // (the patterns read output(0) of any node): a node short of either is refused up front.
  for (int i = 0; i < n; ++i) {
    const auto& nd = gp().node(i);
    const std::string where = "node '" + nd.name() + "' (" + nd.op_type() + ")";
    if (nd.output_size() == 0 || nd.output(0).empty()) throw Fail{where + " has no output"};
    if (const int need = min_inputs(nd.op_type()); nd.input_size() < need)
      throw Fail{where + " has " + std::to_string(nd.input_size()) +
                 (nd.input_size() == 1 ? " input, " : " inputs, ") + nd.op_type() +
                 " takes at least " + std::to_string(need)};
  }
  for (int i = 0; i < n; ++i)
    for (const auto& out : gp().node(i).output()) {
      if (out.empty()) continue;
      if (prod.count(out) || inits_.count(out))
        throw Fail{"tensor '" + out + "' is written twice (node " + gp().node(i).name() + ")"};
      prod[out] = i;
    }
  std::set<std::string> graph_inputs;
  for (const auto& in : gp().input()) graph_inputs.insert(in.name());
  std::vector<int> indeg(static_cast<std::size_t>(n), 0);
  std::vector<std::vector<int>> next(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    for (const auto& in : gp().node(i).input()) {
      if (in.empty()) continue;
      if (const auto it = prod.find(in); it != prod.end()) {
        ++indeg[static_cast<std::size_t>(i)];
        next[static_cast<std::size_t>(it->second)].push_back(i);
      } else if (!inits_.count(in) && !graph_inputs.count(in)) {
        throw Fail{"node '" + gp().node(i).name() + "' (" + gp().node(i).op_type() + ") reads '" +
                   in + "', which no node, initializer or graph input provides"};
      }
    }
  std::vector<int> ready;
  for (int i = n - 1; i >= 0; --i)
    if (indeg[static_cast<std::size_t>(i)] == 0) ready.push_back(i);
  while (!ready.empty()) {
    // Smallest index first: the file's order wherever it is a valid one.
    const auto it = std::min_element(ready.begin(), ready.end());
    const int i = *it;
    ready.erase(it);
    order_.push_back(&gp().node(i));
    for (int j : next[static_cast<std::size_t>(i)])
      if (--indeg[static_cast<std::size_t>(j)] == 0) ready.push_back(j);
  }
  if (static_cast<int>(order_.size()) != n) {
    for (int i = 0; i < n; ++i)
      if (indeg[static_cast<std::size_t>(i)] > 0)
        throw Fail{"the graph has a cycle through node '" + gp().node(i).name() + "' (" +
                   gp().node(i).op_type() + ")"};
  }
  for (int p = 0; p < n; ++p) {
    for (const auto& out : node(p).output())
      if (!out.empty()) producer_[out] = p;
    for (const auto& in : node(p).input())
      if (!in.empty()) consumers_[in].push_back(p);
  }
  absorbed_.assign(static_cast<std::size_t>(n), false);
}

// The shape of graph input `vi`: its fixed dimensions, or all of them from --input NAME=SHAPE.
Shape Importer::input_shape(const onnx::ValueInfoProto& vi) const {
  const std::string& name = vi.name();
  if (!vi.type().has_tensor_type()) throw Fail{"input '" + name + "' is not a tensor"};
  const auto& tt = vi.type().tensor_type();
  const auto bound = o_.input_shapes.find(name);
  Shape shape;
  const auto& dims = tt.shape().dim();
  if (bound != o_.input_shapes.end()) {
    shape = bound->second;
    if (tt.has_shape() && dims.size() != static_cast<int>(shape.size()))
      throw Fail{"--input " + name + "=" + shape_str(shape) + ": the model's input has rank " +
                 std::to_string(dims.size())};
  }
  for (int k = 0; k < dims.size(); ++k) {
    const auto& d = dims[k];
    const bool fixed = d.has_dim_value() && d.dim_value() > 0;
    if (bound != o_.input_shapes.end()) {
      if (fixed && d.dim_value() != shape[static_cast<std::size_t>(k)])
        throw Fail{"--input " + name + ": dimension " + std::to_string(k) + " is fixed at " +
                   std::to_string(d.dim_value()) + " in the model"};
      continue;
    }
    if (!fixed && d.has_dim_param())
      if (const auto it = dim_params_.find(d.dim_param()); it != dim_params_.end()) {
        shape.push_back(it->second);
        continue;
      }
    if (!fixed)
      throw Fail{"input '" + name + "' has a dynamic dimension" +
                 (d.has_dim_param() ? " '" + d.dim_param() + "'" : std::string()) +
                 ": bind it with --input " + name + "=SHAPE (e.g. 1x3x224x224)"};
    shape.push_back(d.dim_value());
  }
  if (!tt.has_shape() && bound == o_.input_shapes.end())
    throw Fail{"input '" + name + "' has no shape: pass --input " + name + "=SHAPE"};
  checked_numel(shape, o_.max_tensor_bytes / 4);
  return shape;
}

// The first input is the model's input; any others are state (KV caches, as the LLM tiers'
// decode steps take them): float tensors seeded at load as the executor seeds the tiers' caches.
void Importer::declare_input() {
  std::vector<const onnx::ValueInfoProto*> ins;
  for (const auto& in : gp().input())
    if (!inits_.count(in.name())) ins.push_back(&in);
  if (ins.empty()) throw Fail{"the model has no input besides initializers"};
  for (const auto& bound : o_.input_shapes) {
    const std::string& name = bound.first;  // (clang 15 lambdas capture no structured bindings)
    if (std::none_of(ins.begin(), ins.end(), [&](auto* vi) { return vi->name() == name; }))
      throw Fail{"--input " + name + ": the model has no input of that name (its input is '" +
                 ins[0]->name() + "')"};
  }
  // A symbolic dimension bound in one input binds it in every input that names it.
  for (const auto* in : ins) {
    const auto bound = o_.input_shapes.find(in->name());
    if (bound == o_.input_shapes.end() || !in->type().has_tensor_type()) continue;
    const auto& dims = in->type().tensor_type().shape().dim();
    for (int k = 0; k < dims.size() && k < static_cast<int>(bound->second.size()); ++k) {
      if (!dims[k].has_dim_param() || dims[k].has_dim_value()) continue;
      const std::int64_t v = bound->second[static_cast<std::size_t>(k)];
      const auto [it, fresh] = dim_params_.emplace(dims[k].dim_param(), v);
      if (!fresh && it->second != v)
        throw Fail{"--input " + in->name() + ": dimension '" + dims[k].dim_param() + "' is " +
                   std::to_string(v) + " here and " + std::to_string(it->second) +
                   " in another binding"};
    }
  }
  const auto& vi = *ins[0];
  input_ = vi.name();
  const Shape shape = input_shape(vi);
  sum_.input_name = input_, sum_.input_shape = shape;
  const int et = vi.type().tensor_type().elem_type();
  Sym s;
  s.shape = shape;
  if (et == onnx::TensorProto::FLOAT) {
    const auto& cons = consumers(input_);
    const auto image_op = [&](int p) {
      const std::string& op = node(p).op_type();
      return op == "Conv" || op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool";
    };
    const bool images = shape.size() == 4 && std::any_of(cons.begin(), cons.end(), image_op);
    if (images) {  // computed NHWC, like the tiers' images
      s.base = {shape[0], shape[2], shape[3], shape[1]};
      s.perm = {0, 3, 1, 2};
      s.value = b_.input(input_, DType::f32, s.base);
      sum_.input_nhwc = true;
    } else {
      s.value = b_.input(input_, DType::f32, shape);
    }
  } else if (et == onnx::TensorProto::INT64 || et == onnx::TensorProto::INT32) {
    s.is_float = false;
    s.value = b_.input(input_, DType::s32, shape);
    if (et == onnx::TensorProto::INT64) sum_.notes.push_back("int64 input ids are fed as int32");
  } else {
    throw Fail{"input '" + input_ + "' has element type " +
               onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(et)) +
               "; float and integer ids are supported"};
  }
  define(input_, std::move(s));
  // Hugging Face's decode-step inputs, bound once the past length is known.
  std::vector<const onnx::ValueInfoProto*> step;
  for (std::size_t k = 1; k < ins.size(); ++k) {
    const std::string& name = ins[k]->name();
    const int e = ins[k]->type().has_tensor_type() ? ins[k]->type().tensor_type().elem_type() : 0;
    const bool integer = e == onnx::TensorProto::INT64 || e == onnx::TensorProto::INT32;
    if (integer &&
        (name == "position_ids" || name == "attention_mask" || name == "cache_position")) {
      step.push_back(ins[k]);
      continue;
    }
    if (e != onnx::TensorProto::FLOAT && e != onnx::TensorProto::BFLOAT16)
      throw Fail{"input '" + name + "': the model has " + std::to_string(ins.size()) +
                 " inputs; inputs after the first are run as state (KV caches), which are float "
                 "or bfloat16 tensors, or are a decode step's position_ids, attention_mask or "
                 "cache_position"};
    Sym st;
    st.shape = input_shape(*ins[k]);
    Shape state = st.shape;
    if (const std::int64_t past = grown_past(name, st.shape); past >= 0) {
      if (past_ >= 0 && past != past_)
        throw Fail{"input '" + name + "': a past of " + std::to_string(past) + " tokens, " +
                   std::to_string(past_) + " in another cache"};
      past_ = past;
      grown_.insert(name);
      const std::size_t r = st.shape.size();  // [1][kv][past][d] or [kv][past][d]
      state = {st.shape[r - 3], past + 1, st.shape[r - 1]};
    }
    // A bf16 graph keeps its KV caches bf16, as the bf16 tiers do (f32 in the file or not).
    const bool bf = e == onnx::TensorProto::BFLOAT16 || b_.dtype() == DType::bf16;
    st.value = b_.state(name, bf ? DType::bf16 : DType::f32, state);
    define(name, std::move(st));
    sum_.states.push_back(name);
  }
  if (!sum_.states.empty())
    sum_.notes.push_back(std::to_string(sum_.states.size()) +
                         " input(s) after the first run as state (first: '" + sum_.states[0] +
                         "'), seeded at load as tierbench seeds its KV caches (uniform in +-1); "
                         "a Concat writing one row of such a cache updates it in place");
  if (!grown_.empty())
    sum_.notes.push_back(
        std::to_string(grown_.size()) + " past cache(s) of " + std::to_string(past_) +
        " tokens grown by Concat: each runs as a state of " + std::to_string(past_ + 1) +
        " rows whose last row the step writes in place (the present output is that state)");
  for (const auto* in : step) declare_step_input(*in);
}

// The past length of input `name` when it is a past KV cache in Hugging Face's form: a float
// [1][kv][past][d] (or [kv][past][d]) that only a Concat on its token axis reads, with one
// other input (the new token's keys or values); -1 otherwise.
std::int64_t Importer::grown_past(const std::string& name, const Shape& shape) const {
  const std::size_t r = shape.size();
  if ((r != 3 && r != 4) || (r == 4 && shape[0] != 1) || outputs_.count(name)) return -1;
  const int c = sole_consumer(name);
  if (c < 0) return -1;
  const auto& n = node(c);
  const std::int64_t axis = attr_i(n, "axis", 0);
  if (n.op_type() != "Concat" || n.input_size() != 2 || n.input(0) != name ||
      (axis != static_cast<std::int64_t>(r) - 2 && axis != -2))
    return -1;
  return shape[r - 2];
}

// A decode step's position_ids, cache_position ([past, past + tokens)) or attention_mask (ones
// over past + tokens): constants of the step tierbench runs (the past length from the grown
// caches, 0 without any; the tokens from the model input's last dimension).
void Importer::declare_step_input(const onnx::ValueInfoProto& vi) {
  const std::string& name = vi.name();
  const std::int64_t past = std::max<std::int64_t>(past_, 0);
  const Shape& in = sum_.input_shape;
  if (in.empty() || sym(input_).is_float)
    throw Fail{"input '" + name + "': a decode step's " + name + " needs token ids as the input"};
  const std::int64_t tokens = in.back();
  if (tokens <= 0) throw Fail{"input '" + name + "': a decode step of no tokens"};
  const auto& dims = vi.type().tensor_type().shape().dim();
  Shape shape;
  std::vector<std::int64_t> v;
  if (name == "attention_mask") {
    if (dims.size() != 2) throw Fail{"input 'attention_mask' must be [batch][past + tokens]"};
    shape = {in.front(), past + tokens};
    v.assign(static_cast<std::size_t>(checked_numel(shape, o_.max_tensor_bytes / 8)), 1);
  } else {
    if (name == "cache_position" ? dims.size() != 1 : dims.size() != 2)
      throw Fail{"input '" + name + "' must be [" +
                 std::string(name == "cache_position" ? "" : "batch][") + "tokens]"};
    shape = name == "cache_position" ? Shape{tokens} : Shape{in.front(), tokens};
    for (std::int64_t b = 0; b < checked_numel(shape, o_.max_tensor_bytes / 8) / tokens; ++b)
      for (std::int64_t t = 0; t < tokens; ++t) v.push_back(past + t);
  }
  for (int k = 0; k < dims.size(); ++k)
    if (dims[k].has_dim_value() && dims[k].dim_value() > 0 &&
        dims[k].dim_value() != shape[static_cast<std::size_t>(k)])
      throw Fail{"input '" + name + "': dimension " + std::to_string(k) + " is fixed at " +
                 std::to_string(dims[k].dim_value()) + ", the step needs " +
                 std::to_string(shape[static_cast<std::size_t>(k)])};
  Sym s;
  s.shape = shape, s.is_float = false;
  s.c = std::make_shared<Const>(Const::ints(shape, std::move(v)));
  define(name, std::move(s));
  sum_.notes.push_back("input '" + name + "' bound to the decode step (" +
                       (name == "attention_mask"
                            ? "ones over " + std::to_string(past + tokens) + " tokens"
                            : "positions from " + std::to_string(past)) +
                       ")");
}

// --- layouts ------------------------------------------------------------------------------------

Sym Importer::transposed(const Sym& s, const std::vector<int>& t) const {
  Sym r = s;
  const std::vector<int> p = s.perm.empty() ? identity(s.shape.size()) : s.perm;
  if (s.perm.empty()) r.base = s.shape;
  r.perm.clear(), r.shape.clear();
  for (int j : t) {
    r.perm.push_back(p.at(static_cast<std::size_t>(j)));
    r.shape.push_back(s.shape.at(static_cast<std::size_t>(j)));
  }
  return r;
}

// Copies an Expand makes along its axis (each an operand of one host concat).
constexpr std::int64_t kMaxCopies = 4096;

// x without its unit axis a: the same value and layout.
Sym drop_unit_axis(Sym x, std::size_t a) {
  x.shape.erase(x.shape.begin() + static_cast<std::ptrdiff_t>(a));
  if (x.perm.empty()) return x;
  const int d = x.perm[a];
  x.perm.erase(x.perm.begin() + static_cast<std::ptrdiff_t>(a));
  x.base.erase(x.base.begin() + d);
  for (int& p : x.perm) p -= p > d ? 1 : 0;
  return x;
}

Sym Importer::materialize(const Sym& s) {
  if (!s.rep) return s;
  const Repeat& rp = *s.rep;
  const Sym& src = rp.src;  // [.., kv, s, d]
  const std::size_t r = src.shape.size();
  const auto key = std::make_tuple(src.value, src.perm, rp.g);
  int v;
  if (const auto it = repeated_.find(key); it != repeated_.end()) {
    v = it->second;
  } else {
    const int x = need(src, {}, true);
    const std::int64_t outer = std::accumulate(src.shape.begin(), src.shape.end() - 2,
                                               std::int64_t{1}, std::multiplies<>());
    Shape shape = src.shape;
    shape[r - 3] *= rp.g;
    v = b_.concat(b_.value(x).name + ".repeat", std::vector<int>(static_cast<std::size_t>(rp.g), x),
                  outer, shape);
    repeated_[key] = v;
  }
  Sym y;
  y.shape = s.shape, y.is_float = s.is_float, y.value = v;
  if (rp.swapped) {  // [.., h, d, s] viewed on the [.., h, s, d] copies
    y.base = s.shape;
    std::swap(y.base[y.base.size() - 1], y.base[y.base.size() - 2]);
    y.perm = identity(s.shape.size());
    std::swap(y.perm[y.perm.size() - 1], y.perm[y.perm.size() - 2]);
  }
  return y;
}

// Expand along one axis: g copies (a host concat). Grouped-query attention's form, [.., kv, 1,
// s, d] to [.., kv, g, s, d] then Reshaped for a MatMul (through a Transpose for K^T), stays
// uncomputed (Repeat): the attention kernel reads the kv heads themselves.
void Importer::emit_expand(int pos) {
  const auto& n = node(pos);
  check_attrs(n, {});
  const Sym& x = runtime_in(n, 0);
  const Const& sc = need_const(n, 1, "shape");
  if (sc.is_float) throw Fail{"Expand's shape is not integers"};
  const Shape out = broadcast_shape(x.shape, sc.i);
  checked_numel(out, o_.max_tensor_bytes / 4);
  if (out.size() != x.shape.size()) throw Fail{"Expand that adds dimensions is not supported"};
  std::vector<std::size_t> grown;
  for (std::size_t a = 0; a < out.size(); ++a)
    if (out[a] != x.shape[a]) grown.push_back(a);
  if (grown.empty()) return define(n.output(0), x);
  if (grown.size() > 1) throw Fail{"Expand along more than one axis is not supported"};
  const std::size_t a = grown[0], r = out.size();
  const std::int64_t g = out[a];
  if (g > kMaxCopies)
    throw Fail{"Expand to " + std::to_string(g) + " copies along one axis (at most " +
               std::to_string(kMaxCopies) + ")"};
  // Read only by a Reshape and then a MatMul's right side, directly (V) or transposed (K^T).
  const auto gqa = [&] {
    const int pr = sole_consumer(n.output(0));
    if (r < 4 || a != r - 3 || pr < 0 || node(pr).op_type() != "Reshape") return false;
    int pm = sole_consumer(node(pr).output(0));
    std::string t = node(pr).output(0);
    if (pm >= 0 && node(pm).op_type() == "Transpose") t = node(pm).output(0), pm = sole_consumer(t);
    return pm >= 0 && node(pm).op_type() == "MatMul" && node(pm).input_size() == 2 &&
           node(pm).input(1) == t;
  };
  Sym y;
  y.shape = out, y.is_float = x.is_float;
  if (gqa()) {
    auto rp = std::make_shared<Repeat>();
    rp->src = drop_unit_axis(x, a), rp->g = g;
    y.rep = std::move(rp);
    return define(n.output(0), std::move(y));
  }
  const int v = need(x, {}, true);
  const std::int64_t outer =
      std::accumulate(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(a), std::int64_t{1},
                      std::multiplies<>());
  y.value = b_.concat(layer_name(n), std::vector<int>(static_cast<std::size_t>(g), v), outer, out);
  define(n.output(0), std::move(y));
}

int Importer::f32_value(int v) {
  if (b_.value(v).dtype != DType::bf16) return v;
  if (const auto it = as_f32_.find(v); it != as_f32_.end()) return it->second;
  const int r = b_.host(b_.value(v).name + ".f32", HostOp::cast, {Operand::v(v)}, DType::f32,
                        b_.value(v).shape);
  as_f32_[v] = r;
  return r;
}

int Importer::need(const Sym& s, const std::vector<int>& layout, bool keep_bf16) {
  if (s.quant)
    throw Fail{
        "reads a tensor quantised to int8 (QuantizeLinear / DequantizeLinear), which only "
        "the input of an int8 Conv, Gemm or MatMul may be"};
  const int v = need_raw(s, layout);
  return keep_bf16 ? v : f32_value(v);
}

int Importer::need_raw(const Sym& s, const std::vector<int>& layout) {
  if (s.c) throw Fail{"a constant where a computed tensor is needed"};
  if (s.rep) return need_raw(materialize(s), layout);
  const std::size_t r = s.shape.size();
  const std::vector<int> w = layout.empty() ? identity(r) : layout;
  if (s.perm.empty() && layout.empty()) return s.value;
  const std::vector<int> p = s.perm.empty() ? identity(r) : s.perm;
  const Shape& base = s.perm.empty() ? s.shape : s.base;
  // The value's dimensions in the wanted order, unit dimensions dropped.
  std::vector<int> q;
  for (int j : w) {
    const int d = p[static_cast<std::size_t>(j)];
    if (base[static_cast<std::size_t>(d)] != 1) q.push_back(d);
  }
  if (std::is_sorted(q.begin(), q.end())) return s.value;
  if (const auto it = permuted_.find({s.value, q}); it != permuted_.end()) return it->second;
  // Ranks of q among the non-unit dims: a swap of two adjacent groups [A][B][C] -> [B][A][C].
  std::vector<int> sorted = q;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> rank;
  for (int d : q)
    rank.push_back(
        static_cast<int>(std::lower_bound(sorted.begin(), sorted.end(), d) - sorted.begin()));
  const int k = static_cast<int>(rank.size());
  for (int sa = 1; sa < k; ++sa)
    for (int sb = sa + 1; sb <= k; ++sb) {
      std::vector<int> cand;
      for (int x = sa; x < sb; ++x) cand.push_back(x);
      for (int x = 0; x < sa; ++x) cand.push_back(x);
      for (int x = sb; x < k; ++x) cand.push_back(x);
      if (cand != rank) continue;
      const auto prod = [&](int from, int to) {
        std::int64_t v = 1;
        for (int x = from; x < to; ++x) v *= base[static_cast<std::size_t>(sorted[x])];
        return v;
      };
      const std::int64_t a = prod(0, sa), bb = prod(sa, sb), c = prod(sb, k);
      const int v = b_.permute(b_.value(s.value).name + ".permute", s.value, a, bb, c);
      permuted_[{s.value, q}] = v;
      return v;
    }
  std::string ps;
  for (int d : q) ps += (ps.empty() ? "" : ",") + std::to_string(d);
  throw Fail{"needs a transpose (" + ps + ") that is not a swap of two dimension groups"};
}

int Importer::need_shaped(const Sym& s, const std::vector<int>& layout, bool keep_bf16) {
  const int v = need(s, layout, keep_bf16);
  Shape want;
  for (int j : layout) want.push_back(s.shape.at(static_cast<std::size_t>(j)));
  if (b_.value(v).shape == want) return v;
  return b_.host(b_.value(v).name + ".shaped", HostOp::cast, {Operand::v(v)}, b_.value(v).dtype,
                 want);
}

// --- patterns -----------------------------------------------------------------------------------

// The activation pattern starting at node `pos` (on its input 0): Relu, Clip(0, 6), Gelu,
// x * Sigmoid(x), or the erf GELU 0.5 x (1 + erf(x / sqrt 2)) (Div or Mul by 1/sqrt 2, Erf,
// Add 1, Mul x, Mul 0.5).
std::optional<ActMatch> Importer::match_act_at(int pos) const {
  const auto& n = node(pos);
  if (n.input_size() < 1) return std::nullopt;
  const std::string& t = n.input(0);
  const std::string& op = n.op_type();
  const auto scalar = [&](const onnx::NodeProto& m, int k) -> std::optional<double> {
    const Const* c = has(m, k) && syms_.count(m.input(k)) ? sym(m.input(k)).c.get() : nullptr;
    if (!c || c->numel() != 1) return std::nullopt;
    return c->at(0);
  };
  const auto other = [&](const onnx::NodeProto& m, const std::string& x) {
    return m.input_size() == 2 && m.input(0) == x ? 1 : 0;
  };
  ActMatch m{Activation::none, {pos}, n.output(0)};
  if (op == "Relu") m.act = Activation::relu;
  if (op == "Gelu" && attr_s(n, "approximate", "none") == "none") m.act = Activation::gelu;
  if (op == "Clip") {
    double lo = attr_f(n, "min", -INFINITY), hi = attr_f(n, "max", INFINITY);
    if (has(n, 1)) lo = scalar(n, 1).value_or(NAN);
    if (has(n, 2)) hi = scalar(n, 2).value_or(NAN);
    if (lo == 0 && hi == 6) m.act = Activation::relu6;
    if (lo == 0 && std::isinf(hi) && hi > 0) m.act = Activation::relu;
  }
  if (m.act != Activation::none) return m;
  const auto is_mul_of = [&](int p, const std::string& a, const std::string& b) {
    const auto& x = node(p);
    return x.op_type() == "Mul" && x.input_size() == 2 &&
           ((x.input(0) == a && x.input(1) == b) || (x.input(0) == b && x.input(1) == a));
  };
  if (op == "Sigmoid") {
    const int pm = sole_consumer(n.output(0));
    if (pm >= 0 && is_mul_of(pm, t, n.output(0)))
      return ActMatch{Activation::silu, {pos, pm}, node(pm).output(0)};
    return std::nullopt;
  }
  const bool div = op == "Div" && near(scalar(n, 1).value_or(0), std::numbers::sqrt2);
  const bool mul = op == "Mul" && near(scalar(n, other(n, t)).value_or(0), 1 / std::numbers::sqrt2);
  if (!div && !mul) return std::nullopt;
  const int pe = sole_consumer(n.output(0));
  if (pe < 0 || node(pe).op_type() != "Erf") return std::nullopt;
  const int pa = sole_consumer(node(pe).output(0));
  if (pa < 0 || node(pa).op_type() != "Add" ||
      !near(scalar(node(pa), other(node(pa), node(pe).output(0))).value_or(0), 1))
    return std::nullopt;
  const int p2 = sole_consumer(node(pa).output(0));
  if (p2 < 0 || !is_mul_of(p2, t, node(pa).output(0))) return std::nullopt;
  const int ph = sole_consumer(node(p2).output(0));
  if (ph < 0 || node(ph).op_type() != "Mul" ||
      !near(scalar(node(ph), other(node(ph), node(p2).output(0))).value_or(0), 0.5))
    return std::nullopt;
  return ActMatch{Activation::gelu, {pos, pe, pa, p2, ph}, node(ph).output(0)};
}

// An activation pattern that is everything reading tensor t (so that it fuses into t's kernel).
std::optional<ActMatch> Importer::match_act(const std::string& t) const {
  if (outputs_.count(t)) return std::nullopt;
  const auto& cons = consumers(t);
  for (int p : cons) {
    auto m = match_act_at(p);
    if (!m || node(p).input(0) != t) continue;
    const bool all = std::all_of(cons.begin(), cons.end(), [&](int c) {
      return std::find(m->nodes.begin(), m->nodes.end(), c) != m->nodes.end();
    });
    if (all) return m;
  }
  return std::nullopt;
}

const Const* Importer::peek_const(const std::string& t, int depth) const {
  if (const auto it = syms_.find(t); it != syms_.end()) return it->second.c.get();
  if (const auto it = peeked_.find(t); it != peeked_.end()) return it->second.get();
  const auto pr = producer_.find(t);
  if (depth <= 0 || pr == producer_.end()) return nullptr;
  const auto& n = node(pr->second);
  const std::string& op = n.op_type();
  if (n.output(0) != t || (op != "Reshape" && op != "Unsqueeze" && op != "Squeeze" &&
                           op != "Identity" && op != "Cast" && op != "Flatten"))
    return nullptr;
  std::vector<const Const*> in;
  for (int k = 0; k < n.input_size(); ++k) {
    in.push_back(n.input(k).empty() ? nullptr : peek_const(n.input(k), depth - 1));
    if (!n.input(k).empty() && !in.back()) return nullptr;
  }
  try {
    auto outs = fold(n, in, opset_);
    if (outs.empty()) return nullptr;
    auto c = std::make_shared<const Const>(std::move(outs[0]));
    return (peeked_[t] = std::move(c)).get();
  } catch (const Fail&) {
    return nullptr;
  } catch (const std::exception&) {
    return nullptr;
  }
}

Chain Importer::chain(int head) const {
  Chain c;
  c.head = head;
  const auto& h = node(head);
  std::string t = h.output(0);
  const auto step = [&](int p) {
    c.nodes.push_back(p);
    t = node(p).output(0);
  };
  if (int p = sole_consumer(t); h.op_type() == "Conv" && p >= 0 &&
                                node(p).op_type() == "BatchNormalization" &&
                                node(p).input(0) == t) {
    c.bn = p;
    step(p);
  }
  // A constant Add per output channel: the bias (MatMul's; a Gemm's without C; a Conv's added
  // to its own, as int8 exports write it after the dequantised Conv).
  const bool gemm_no_c = h.op_type() == "Gemm" && !has(h, 2);
  if (int p = sole_consumer(t); (h.op_type() == "MatMul" || gemm_no_c || h.op_type() == "Conv") &&
                                p >= 0 && node(p).op_type() == "Add" && node(p).input_size() == 2) {
    const auto& a = node(p);
    const std::string other = a.input(0) == t ? a.input(1) : a.input(0);
    const Const* bc = peek_const(other);
    if (bc && !bc->is_float) bc = nullptr;
    const auto wi = syms_.find(h.input(1));
    if (bc && wi != syms_.end() && !wi->second.shape.empty()) {
      const Shape& ws = wi->second.shape;
      bool ok = false;
      if (h.op_type() == "Conv") {
        ok = ws.size() == 4 &&
             (bc->shape == Shape{1, ws[0], 1, 1} || bc->shape == Shape{ws[0], 1, 1});
      } else {
        const std::int64_t n_out =
            gemm_no_c ? (attr_i(h, "transB", 0) && ws.size() == 2 ? ws[0] : ws.back()) : ws.back();
        ok = bc->numel() == n_out && bc->shape.size() <= 1;
      }
      if (ok) {
        c.bias = bc;
        step(p);
      }
    }
  }
  if (auto a = match_act(t)) {
    c.act = a->act;
    for (int p : a->nodes) c.nodes.push_back(p);
    t = a->out;
  }
  if (int p = sole_consumer(t); p >= 0 && node(p).op_type() == "Add") {
    const auto& a = node(p);
    const std::string other = a.input(0) == t ? a.input(1) : a.input(0);
    // The later of two kernels feeding the Add claims it (as the tiers fuse the residual into
    // the last conv of a block); an Add of a value computed later than this head is left to it.
    // The kernel behind `other`: its producer, or (int8 exports: bias Add, activation) the
    // kernel a few epilogue nodes back.
    int kp = -1;
    for (auto pr = producer_.find(other); pr != producer_.end() && kp < 0;) {
      const auto& pn = node(pr->second);
      const std::string& pop = pn.op_type();
      if (pop == "Conv" || pop == "Gemm" || pop == "MatMul" || pop == "BatchNormalization")
        kp = pr->second;
      else if ((pop == "Add" || pop == "Relu" || pop == "Clip") && pn.input_size() > 0)
        pr = producer_.find(pn.input(0));
      else
        break;
    }
    const bool later_kernel = kp > head;
    if (other != t && is_runtime_or_later(other) && !later_kernel) {
      c.residual = other;
      step(p);
    }
  }
  c.out = t;
  return c;
}

// ReduceMean(x) -> Sub(x, mean) -> {Pow(d, 2) | Mul(d, d)} -> ReduceMean -> Add eps -> Sqrt ->
// Div(d, .) -> Mul gamma -> Add beta: LayerNormalization decomposed (as exported by PyTorch < 2
// and Keras).
bool Importer::match_layernorm(int pos) {
  const auto& rm = node(pos);
  const std::string x = rm.input(0);
  const int ps = sole_consumer(rm.output(0));
  if (ps < 0 || node(ps).op_type() != "Sub" || node(ps).input(0) != x) return false;
  const std::string d = node(ps).output(0);
  const auto& dc = consumers(d);
  if (dc.size() != 2 || outputs_.count(d)) return false;
  int psq = -1, pdiv = -1;
  for (int p : dc) {
    const auto& n = node(p);
    if (n.op_type() == "Div" && n.input(0) == d) pdiv = p;
    if (n.op_type() == "Mul" && n.input(0) == d && n.input(1) == d) psq = p;
    if (n.op_type() == "Pow" && n.input(0) == d && const_in(n, 1) && const_in(n, 1)->numel() == 1 &&
        const_in(n, 1)->at(0) == 2)
      psq = p;
  }
  if (psq < 0 || pdiv < 0) return false;
  const int pv = next_op(psq, "ReduceMean");
  const int pe = pv < 0 ? -1 : next_op(pv, "Add");
  const int pq = pe < 0 ? -1 : next_op(pe, "Sqrt");
  if (pq < 0 || sole_consumer(node(pq).output(0)) != pdiv ||
      node(pdiv).input(1) != node(pq).output(0))
    return false;
  const int pg = next_op(pdiv, "Mul");
  const int pb = pg < 0 ? -1 : next_op(pg, "Add");
  if (pb < 0) return false;
  const auto other_const = [&](int p, const std::string& t) -> const Const* {
    const auto& n = node(p);
    return const_in(n, n.input(0) == t ? 1 : 0);
  };
  const Const* eps = other_const(pe, node(pv).output(0));
  const Const* gamma = other_const(pg, node(pdiv).output(0));
  const Const* beta = other_const(pb, node(pg).output(0));
  const Sym& xs = sym(x);
  if (!eps || !gamma || !beta || xs.c || xs.shape.empty() || eps->numel() != 1) return false;
  const std::int64_t n = xs.shape.back();
  if (gamma->numel() != n || beta->numel() != n) return false;
  const Shape axes1 = node_axes(rm, has(rm, 1) ? const_in(rm, 1) : nullptr);
  const Shape axes2 = node_axes(node(pv), has(node(pv), 1) ? const_in(node(pv), 1) : nullptr);
  const auto last = [&](const Shape& a) {
    return a.size() == 1 &&
           norm_axis(a[0], xs.shape.size()) == static_cast<int>(xs.shape.size()) - 1;
  };
  if (!last(axes1) || !last(axes2)) return false;
  if (eps->at(0) > 1e-5 * (1 + 1e-6))
    throw Fail{"LayerNorm epsilon " + std::to_string(eps->at(0)) +
               ": the layernorm kernel uses 1e-5"};
  if (!near(eps->at(0), 1e-5, 1e-3))
    sum_.notes.push_back("LayerNorm at '" + rm.name() + "': epsilon " + std::to_string(eps->at(0)) +
                         " computed as 1e-5");
  const std::string name = layer_name(rm);
  const std::int64_t m =
      checked_numel(xs.shape, o_.max_tensor_bytes) / std::max<std::int64_t>(n, 1);
  const int v = b_.row(name, RowKind::layernorm, need(xs), m, n);
  fill(name + ".weight", gamma->f);
  fill(name + ".bias", beta->f);
  for (int p : {ps, psq, pdiv, pv, pe, pq, pg, pb}) absorbed_[static_cast<std::size_t>(p)] = true;
  define_value(node(pb).output(0), v, xs.shape);
  return true;
}

// {Mul(x, x) | Pow(x, 2)} -> ReduceMean(last axis) -> Add eps -> Sqrt -> {Div(x, .) |
// Reciprocal -> Mul(x, .)} -> Mul gamma: RMSNorm (LLaMA's), as the rmsnorm kernel.
bool Importer::match_rmsnorm(int pos) {
  const auto& sq = node(pos);
  if (sq.input_size() != 2 || outputs_.count(sq.output(0))) return false;
  const std::string x = sq.input(0);
  const Const* two = sq.op_type() == "Pow" ? const_in(sq, 1) : nullptr;
  if (!(sq.op_type() == "Mul" ? sq.input(1) == x : two && two->numel() == 1 && two->at(0) == 2))
    return false;
  const auto pair_of = [&](int p, const std::string& a, const std::string& b) {
    const auto& n = node(p);
    return n.input_size() == 2 &&
           ((n.input(0) == a && n.input(1) == b) || (n.input(0) == b && n.input(1) == a));
  };
  const int pv = next_op(pos, "ReduceMean"), pe = next_op(pv, "Add"), pq = next_op(pe, "Sqrt");
  if (pq < 0) return false;
  const std::string rms = node(pq).output(0);
  int pn = next_op(pq, "Div"), pr = -1;
  if (pn >= 0 && (node(pn).input(0) != x || node(pn).input(1) != rms)) return false;
  if (pn < 0) {
    pr = next_op(pq, "Reciprocal");
    pn = next_op(pr, "Mul");
    if (pn < 0 || !pair_of(pn, x, node(pr).output(0))) return false;
  }
  const int pg = next_op(pn, "Mul");
  if (pg < 0) return false;
  const auto other_const = [&](int p, const std::string& t) -> const Const* {
    const auto& n = node(p);
    if (n.input_size() != 2 || (n.input(0) != t && n.input(1) != t)) return nullptr;
    return const_in(n, n.input(0) == t ? 1 : 0);
  };
  const Const* eps = other_const(pe, node(pv).output(0));
  const Const* gamma = other_const(pg, node(pn).output(0));
  const Sym& xs = sym(x);
  if (!eps || !gamma || xs.c || xs.rep || !xs.is_float || xs.shape.empty() || eps->numel() != 1)
    return false;
  const std::int64_t n = xs.shape.back();
  if (gamma->numel() != n) return false;
  const Shape axes = node_axes(node(pv), has(node(pv), 1) ? const_in(node(pv), 1) : nullptr);
  if (axes.size() != 1 ||
      norm_axis(axes[0], xs.shape.size()) != static_cast<int>(xs.shape.size()) - 1 ||
      attr_i(node(pv), "keepdims", 1) == 0)
    return false;
  if (eps->at(0) > 1e-5 * (1 + 1e-6))
    throw Fail{"RMSNorm epsilon " + std::to_string(eps->at(0)) + ": the rmsnorm kernel uses 1e-5"};
  if (!near(eps->at(0), 1e-5, 1e-3))
    sum_.notes.push_back("RMSNorm at '" + sq.name() + "': epsilon " + std::to_string(eps->at(0)) +
                         " computed as 1e-5");
  const std::string name = layer_name(node(pg));
  const std::int64_t m =
      checked_numel(xs.shape, o_.max_tensor_bytes) / std::max<std::int64_t>(n, 1);
  const int v = b_.row(name, RowKind::rmsnorm, need(xs), m, n);
  fill(name + ".weight", broadcast_to(*gamma, {n}).f);
  for (int p : {pos, pv, pe, pq, pr, pn, pg})
    if (p >= 0) absorbed_[static_cast<std::size_t>(p)] = true;
  define_value(node(pg).output(0), v, xs.shape);
  return true;
}

// The rows [rows][half] of the tiers' RoPE tables: row r, column i at angle
// (pos0 + r) theta^(-i / half) (Executor::initial_values). pos0 and theta are read from the last
// row's two lowest frequencies (theta to 3 significant digits), then every entry is checked.
std::optional<std::pair<std::int64_t, double>> rope_params(const std::vector<float>& c,
                                                           const std::vector<float>& s,
                                                           std::int64_t rows, std::int64_t half) {
  const auto at = [&](std::int64_t r, std::int64_t i) {
    return static_cast<std::size_t>(r * half + i);
  };
  const auto angle = [&](std::int64_t r, std::int64_t i) {
    return std::atan2(static_cast<double>(s[at(r, i)]), static_cast<double>(c[at(r, i)]));
  };
  double theta = 1e4;
  std::int64_t pos0 = 0;
  if (half >= 3) {
    const std::int64_t last = rows - 1;
    const double a1 = angle(last, half - 1), a2 = angle(last, half - 2);
    if (a1 > 0 && a2 > a1) {
      theta = std::pow(a1 / a2, -static_cast<double>(half));
      if (!std::isfinite(theta) || theta <= 1 || theta > 1e12) return std::nullopt;
      const double mag = std::pow(10.0, std::floor(std::log10(theta)) - 2);
      theta = std::round(theta / mag) * mag;
      const double pos = a1 * std::pow(theta, (half - 1.0) / static_cast<double>(half));
      if (!(pos >= 0 && pos < 1e9)) return std::nullopt;
      pos0 = std::llround(pos) - last;
    } else if (a1 != 0 || a2 != 0) {
      return std::nullopt;
    }
  }
  if (pos0 < 0 || theta <= 1) return std::nullopt;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t i = 0; i < half; ++i) {
      const double ang =
          static_cast<double>(pos0 + r) *
          std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(2 * half));
      if (std::abs(static_cast<float>(std::cos(ang)) - c[at(r, i)]) > 1e-5f ||
          std::abs(static_cast<float>(std::sin(ang)) - s[at(r, i)]) > 1e-5f)
        return std::nullopt;
    }
  return std::make_pair(pos0, theta);
}

Operand Importer::rope_table(const std::vector<float>& t, std::int64_t rows, std::int64_t half,
                             bool sin, const std::vector<float>& other) {
  if (const auto pt = sin ? rope_params(other, t, rows, half) : rope_params(t, other, rows, half)) {
    const auto key = std::make_tuple(sin, rows, half, pt->first, pt->second);
    if (const auto it = rope_consts_.find(key); it != rope_consts_.end())
      return Operand::v(it->second);
    std::string name = sin ? "rope.sin" : "rope.cos";
    if (!rope_consts_.empty()) name += "#" + std::to_string(rope_consts_.size() / 2 + 1);
    const int v =
        b_.constant(name, DType::f32, {rows, half}, sin ? ConstKind::rope_sin : ConstKind::rope_cos,
                    pt->first, pt->second);
    rope_consts_[key] = v;
    return Operand::v(v);
  }
  if (const auto it = rope_weights_.find(t); it != rope_weights_.end())
    return Operand::w(it->second);
  const std::string name =
      std::string(sin ? "rope.sin" : "rope.cos") + ".table" + std::to_string(rope_weights_.size());
  const int w = b_.weight(name, DType::f32, {rows, half}, Init{});
  fill(name, t);
  rope_weights_[t] = w;
  return Operand::w(w);
}

// Rotary position embedding (rotate-half, GPT-NeoX / LLaMA) of x [.., a, b, D], tokens on one
// of a and b and heads on the other, in either of the two forms exports write:
//   halves: Concat(x1 cos - x2 sin, x2 cos + x1 sin), x1 = x[.., :D/2], x2 = x[.., D/2:], cos
//           and sin [.., t, D/2] (tierbench's export);
//   full:   x cos + Concat(-x2, x1) sin, cos and sin [.., t, D] with equal halves (Hugging Face's
//           rotate_half);
// as the rope kernel, which reads x as [t][h][D] and the tables as [t][D/2]. Tried at each node
// that reads only x (a Slice, or the full form's Mul), so at the pattern's first.

bool Importer::match_rope(int pos) {
  const auto& n0 = node(pos);
  std::vector<std::string> xs;
  if (n0.op_type() == "Slice" && n0.input_size() > 0) xs = {n0.input(0)};
  if (n0.op_type() == "Mul" && n0.input_size() == 2) xs = {n0.input(0), n0.input(1)};
  for (const std::string& x : xs) {
    if (!syms_.count(x)) continue;
    const Sym& s = sym(x);
    if (s.c || s.rep || !s.is_float || s.shape.size() < 3 || s.shape.back() % 2 != 0) continue;
    const std::size_t r = s.shape.size();
    const std::int64_t D = s.shape.back();
    const auto half_of = [&](int p) {  // 0: x[.., :D/2], 1: x[.., D/2:], else -1
      const auto& n = node(p);
      if (n.op_type() != "Slice" || n.input(0) != x || !has(n, 3)) return -1;
      const Const *st = const_in(n, 1), *en = const_in(n, 2), *ax = const_in(n, 3);
      const Const* sp = has(n, 4) ? const_in(n, 4) : nullptr;
      if (!st || !en || !ax || st->is_float || en->is_float || ax->is_float || st->numel() != 1 ||
          en->numel() != 1 || ax->numel() != 1 ||
          (has(n, 4) && (!sp || sp->numel() != 1 || sp->at(0) != 1)))
        return -1;
      if (ax->i[0] != -1 && ax->i[0] != static_cast<std::int64_t>(r) - 1) return -1;
      const SliceRange sr = slice_range(st->i[0], en->i[0], 1, D);
      if (sr.count != D / 2) return -1;
      return sr.first == 0 ? 0 : sr.first == D / 2 ? 1 : -1;
    };
    int p1 = -1, p2 = -1;
    std::vector<std::pair<int, std::string>> xmuls;  // Mul(x, constant)
    for (int p : consumers(x)) {
      const int h = half_of(p);
      if (h == 0 && p1 < 0) p1 = p;
      if (h == 1 && p2 < 0) p2 = p;
      const auto& n = node(p);
      if (n.op_type() == "Mul" && n.input_size() == 2 && const_in(n, n.input(0) == x ? 1 : 0))
        xmuls.emplace_back(p, n.input(0) == x ? n.input(1) : n.input(0));
    }
    if (p1 < 0 || p2 < 0) continue;
    const auto out = [&](int p) { return node(p).output(0); };
    const auto only = [&](const std::string& t, const char* op) {
      const int q = outputs_.count(t) ? -1 : sole_consumer(t);
      return q >= 0 && node(q).op_type() == op ? q : -1;
    };
    const auto other_const = [&](int p, const std::string& t) -> std::string {
      const auto& n = node(p);
      if (n.op_type() != "Mul" || n.input_size() != 2 || (n.input(0) != t && n.input(1) != t))
        return {};
      return const_in(n, n.input(0) == t ? 1 : 0) ? (n.input(0) == t ? n.input(1) : n.input(0))
                                                  : std::string();
    };
    const auto same = [&](const std::string& a, const std::string& b) {
      if (a == b) return true;
      const Const *ca = sym(a).c.get(), *cb = sym(b).c.get();
      return ca && cb && ca->shape == cb->shape && ca->f == cb->f;
    };
    const auto last_axis_concat = [&](int p, const std::string& a, const std::string& b) {
      const auto& n = node(p);
      return n.op_type() == "Concat" && n.input_size() == 2 && n.input(0) == a && n.input(1) == b &&
             norm_axis(attr_i(n, "axis", 0), r) == static_cast<int>(r) - 1;
    };
    std::optional<RopeMatch> m;
    // Full form: Neg(x2), Concat(-x2, x1), Mul sin; x cos; Add.
    if (const int pn = only(out(p2), "Neg"); pn >= 0 && !xmuls.empty()) {
      const int pc = only(out(pn), "Concat");
      const int pm = pc >= 0 && sole_consumer(out(p1)) == pc ? only(out(pc), "Mul") : -1;
      const std::string sn = pm >= 0 && last_axis_concat(pc, out(pn), out(p1))
                                 ? other_const(pm, out(pc))
                                 : std::string();
      for (const auto& [pa, cn] : xmuls) {
        const int add = only(out(pa), "Add");
        if (sn.empty() || add < 0 || only(out(pm), "Add") != add) continue;
        m = RopeMatch{x, out(add), cn, sn, true, {p1, p2, pn, pc, pm, pa, add}};
        break;
      }
    }
    // Halves form: four Muls by constants, Sub, Add, Concat.
    const auto muls = [&](const std::string& h) {
      std::vector<std::pair<int, std::string>> v;
      for (int p : consumers(h))
        if (const std::string c = other_const(p, h); !c.empty()) v.emplace_back(p, c);
      return v.size() == 2 && consumers(h).size() == 2 && !outputs_.count(h)
                 ? v
                 : std::vector<std::pair<int, std::string>>{};
    };
    const auto m1 = m ? decltype(muls(x)){} : muls(out(p1));
    const auto m2 = m ? decltype(muls(x)){} : muls(out(p2));
    for (std::size_t i = 0; i < m1.size() && !m; ++i)
      for (std::size_t j = 0; j < m2.size() && !m; ++j) {
        const auto& [a, ca] = m1[i];       // x1 cos
        const auto& [b, sb] = m2[j];       // x2 sin
        const auto& [a2, sa] = m1[1 - i];  // x1 sin
        const auto& [b2, cb] = m2[1 - j];  // x2 cos
        const int sub = only(out(a), "Sub"), add = only(out(b2), "Add");
        if (sub < 0 || add < 0 || only(out(b), "Sub") != sub || only(out(a2), "Add") != add ||
            node(sub).input(0) != out(a) || !same(ca, cb) || !same(sa, sb))
          continue;
        const int cat = only(out(sub), "Concat");
        if (cat < 0 || only(out(add), "Concat") != cat ||
            !last_axis_concat(cat, out(sub), out(add)))
          continue;
        m = RopeMatch{x, out(cat), ca, sa, false, {p1, p2, a, b, a2, b2, sub, add, cat}};
      }
    if (!m || std::find(m->nodes.begin(), m->nodes.end(), pos) == m->nodes.end()) continue;
    if (emit_rope(*m)) return true;
  }
  return false;
}

// The rope kernel for a matched pattern, when the tables are [t][D/2] over x's token axis (the
// same for every head); false leaves the nodes to the ops one by one.
bool Importer::emit_rope(const RopeMatch& m) {
  const Sym& xs = sym(m.x);
  const std::size_t r = xs.shape.size();
  const std::int64_t D = xs.shape.back(), half = D / 2;
  for (std::size_t k = 0; k + 3 < r; ++k)
    if (xs.shape[k] != 1) return false;
  // The tables over x's dimensions (the last: D, or D/2 in the halves form).
  Shape ts = xs.shape;
  if (!m.full) ts.back() = half;
  const Const *cc = sym(m.cos).c.get(), *sc = sym(m.sin).c.get();
  if (!cc || !sc || !cc->is_float || !sc->is_float || cc->shape.size() > r || sc->shape.size() > r)
    return false;
  // Tokens: the axis of a and b along which a table varies (its own dimension > 1); one token:
  // the axis of size 1 (b when both are).
  const auto own = [&](const Const& c, std::size_t axis) {
    const std::size_t off = r - c.shape.size();
    return axis < off ? std::int64_t{1} : c.shape[axis - off];
  };
  std::size_t tk = r - 3;
  if (own(*cc, r - 3) > 1 || own(*sc, r - 3) > 1)
    tk = r - 3;
  else if (own(*cc, r - 2) > 1 || own(*sc, r - 2) > 1)
    tk = r - 2;
  else if (xs.shape[r - 3] != 1 && xs.shape[r - 2] == 1)
    tk = r - 2;
  const std::size_t hk = tk == r - 3 ? r - 2 : r - 3;
  if (own(*cc, hk) != 1 || own(*sc, hk) != 1) return false;
  const std::int64_t T = xs.shape[tk], H = xs.shape[hk];
  const auto table = [&](const Const& c) -> std::optional<std::vector<float>> {
    const Const b = broadcast_to(c, ts);
    const std::int64_t w = ts.back();
    std::vector<float> t(static_cast<std::size_t>(T * half));
    for (std::int64_t ti = 0; ti < T; ++ti)
      for (std::int64_t i = 0; i < w; ++i) {
        const std::int64_t e = (tk == r - 3 ? ti * H : ti) * w + i;  // head 0
        const float v = b.f[static_cast<std::size_t>(e)];
        float& slot = t[static_cast<std::size_t>(ti * half + i % half)];
        if (i < half)
          slot = v;
        else if (slot != v)
          return std::nullopt;  // full form: halves differ
      }
    return t;
  };
  const auto cos = table(*cc), sin = table(*sc);
  if (!cos || !sin) return false;
  RopeDesc d;
  d.t = T, d.h = H, d.d = D;
  std::vector<int> layout = identity(r);  // [.., t, h, D]
  layout[r - 3] = static_cast<int>(tk), layout[r - 2] = static_cast<int>(hk);
  const std::string name = layer_name(node(m.nodes.back()));
  const Operand oc = rope_table(*cos, T, half, false, *sin);
  const Operand os = rope_table(*sin, T, half, true, *cos);
  const int v = b_.kernel(name, Problem{d, DType::f32, {}}, {Operand::v(need(xs, layout)), oc, os});
  for (int p : m.nodes) absorbed_[static_cast<std::size_t>(p)] = true;
  Sym y;
  y.shape = xs.shape, y.value = v;
  if (tk != r - 3) {  // ONNX [.., h, t, D] on the kernel's [.., t, h, D]
    y.base = xs.shape;
    std::swap(y.base[r - 3], y.base[r - 2]);
    y.perm = identity(r);
    std::swap(y.perm[r - 3], y.perm[r - 2]);
  }
  define(m.out, std::move(y));
  return true;
}

// Concat(Slice(C, 0, p), X, Slice(C, p + 1, S)) on axis 1 of a state C [kv][S][d] that nothing
// else reads, X [kv][1][d] (or X cast to C's type): the write of one KV-cache row, done in place
// (HostOp::kv_write), as the LLM tiers' decode steps export it.
std::optional<KvWrite> Importer::kv_write_at(int pc) const {
  const auto& n = node(pc);
  if (n.op_type() != "Concat" || n.input_size() < 2 || n.input_size() > 3) return std::nullopt;
  KvWrite kw;
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;  // rows of each slice
  int xi = -1;
  for (int k = 0; k < n.input_size(); ++k) {
    const auto pr = producer_.find(n.input(k));
    const onnx::NodeProto* sl = pr == producer_.end() ? nullptr : &node(pr->second);
    const bool state =
        sl && sl->op_type() == "Slice" && sl->input_size() >= 4 &&
        std::find(sum_.states.begin(), sum_.states.end(), sl->input(0)) != sum_.states.end();
    if (!state) {
      if (xi >= 0) return std::nullopt;
      xi = k;
      continue;
    }
    if (!kw.cache.empty() && kw.cache != sl->input(0)) return std::nullopt;
    kw.cache = sl->input(0);
    const Shape& cs = sym(kw.cache).shape;
    const auto ci = [&](int j) {
      return has(*sl, j) && syms_.count(sl->input(j)) ? sym(sl->input(j)).c.get() : nullptr;
    };
    const Const *st = ci(1), *en = ci(2), *ax = ci(3), *sp = has(*sl, 4) ? ci(4) : nullptr;
    if (cs.size() != 3 || !st || !en || !ax || st->is_float || en->is_float || ax->is_float ||
        st->numel() != 1 || en->numel() != 1 || ax->numel() != 1 ||
        (ax->i[0] != 1 && ax->i[0] != -2) ||
        (has(*sl, 4) && (!sp || sp->numel() != 1 || sp->at(0) != 1)) ||
        sole_consumer(sl->output(0)) != pc)
      return std::nullopt;
    const SliceRange r = slice_range(st->i[0], en->i[0], 1, cs[1]);
    ranges.emplace_back(r.first, r.count);
    kw.slices.push_back(pr->second);
  }
  const std::int64_t axis = attr_i(n, "axis", 0);
  if (xi < 0 || kw.cache.empty() || (axis != 1 && axis != -2)) return std::nullopt;
  const Shape& cs = sym(kw.cache).shape;
  if (consumers(kw.cache).size() != kw.slices.size() || outputs_.count(kw.cache))
    return std::nullopt;
  // Rows before X, X, rows after: [0, p), p, [p + 1, S).
  kw.pos = xi == 0 ? 0 : ranges[0].first + ranges[0].second;
  if (xi > 0 && ranges[0].first != 0) return std::nullopt;
  if (xi + 1 < n.input_size()) {
    const auto& after = ranges.back();
    if (after.first != kw.pos + 1 || after.first + after.second != cs[1]) return std::nullopt;
  } else if (kw.pos + 1 != cs[1]) {
    return std::nullopt;
  }
  kw.x = n.input(xi);
  const auto px = producer_.find(kw.x);
  if (px != producer_.end() && node(px->second).op_type() == "Cast" && sole_consumer(kw.x) == pc &&
      node(px->second).input_size() == 1) {
    kw.cast = px->second;
    kw.x = node(px->second).input(0);
  }
  return kw;
}

// MatMul(Q, K^T) [* scale | / scale] [+ mask] -> Softmax(last) -> MatMul(P, V).
bool Importer::match_attention(int pos) {
  const auto& mm = node(pos);
  std::vector<int> nodes;
  std::string t = mm.output(0);
  double scale = 1;
  const Const* mask = nullptr;
  int p = sole_consumer(t);
  const auto scalar_other = [&](int q) -> const Const* {
    const auto& n = node(q);
    const Const* c = const_in(n, n.input(0) == t ? 1 : 0);
    return c && c->numel() == 1 && n.input(0) == t ? c : nullptr;
  };
  if (p >= 0 && (node(p).op_type() == "Mul" || node(p).op_type() == "Div") && scalar_other(p)) {
    const double c = scalar_other(p)->at(0);
    scale = node(p).op_type() == "Mul" ? c : 1 / c;
    nodes.push_back(p), t = node(p).output(0), p = sole_consumer(t);
  }
  if (p >= 0 && node(p).op_type() == "Add") {
    const auto& n = node(p);
    mask = const_in(n, n.input(0) == t ? 1 : 0);
    if (!mask) return false;
    nodes.push_back(p), t = n.output(0), p = sole_consumer(t);
  }
  if (p < 0 || node(p).op_type() != "Softmax") return false;
  const Sym& q = runtime_in(mm, 0);
  const Sym& kt0 = lazy_in(mm, 1);
  const std::size_t r = q.shape.size();
  if ((r != 3 && r != 4) || kt0.shape.size() != r) return false;
  const auto sm_axis = attr_i(node(p), "axis", opset_ >= 13 ? -1 : 1);
  if (norm_axis(sm_axis, r) != static_cast<int>(r) - 1) return false;
  nodes.push_back(p), t = node(p).output(0);
  const int pv = sole_consumer(t);
  if (pv < 0 || node(pv).op_type() != "MatMul" || node(pv).input(0) != t) return false;
  // Grouped-query heads repeated by an Expand (Repeat): the kernel reads the kv heads.
  const Sym& v0 = lazy_in(node(pv), 1);
  const bool gqa = kt0.rep && v0.rep && kt0.rep->swapped && !v0.rep->swapped &&
                   kt0.rep->g == v0.rep->g && kt0.rep->src.shape.size() == r;
  const Sym kt = gqa ? transposed(kt0.rep->src,
                                  [&] {
                                    std::vector<int> sw = identity(r);
                                    std::swap(sw[r - 1], sw[r - 2]);
                                    return sw;
                                  }())
                     : runtime_in(mm, 1);
  const Sym v = gqa ? v0.rep->src : runtime_in(node(pv), 1);
  nodes.push_back(pv);
  AttentionDesc d;
  d.b = r == 4 ? q.shape[0] : 1;
  d.h = q.shape[r - 3], d.q = q.shape[r - 2], d.d = q.shape[r - 1];
  d.kv = kt.shape[r - 3], d.s = kt.shape[r - 1];
  if (kt.shape[r - 2] != d.d || v.shape.size() != r || v.shape[r - 1] != d.d ||
      v.shape[r - 2] != d.s || v.shape[r - 3] != d.kv || (r == 4 && kt.shape[0] != d.b))
    return false;
  if (d.kv == 0 || d.h % d.kv != 0) return false;
  // Another scale or mask: the ops run unfused (batched gemm, Mul, Add, Softmax, gemm).
  if (!near(scale, 1 / std::sqrt(static_cast<double>(d.d)), 1e-3)) return false;
  if (mask) {  // zeros: none; 0 on and below the (aligned) diagonal, very negative above: causal
    Const m2 = *mask;  // [1][1][q][s] as Hugging Face's 4-d masks are: its last two axes
    while (m2.shape.size() > 2 && m2.shape.front() == 1) m2.shape.erase(m2.shape.begin());
    if (m2.shape.size() > 2 || broadcast_shape(m2.shape, {d.q, d.s}) != Shape{d.q, d.s})
      return false;
    const Const mk = broadcast_to(m2, {d.q, d.s});
    bool zero = true, causal = true;
    for (std::int64_t i = 0; i < d.q; ++i)
      for (std::int64_t j = 0; j < d.s; ++j) {
        const double m = mk.at(i * d.s + j);
        zero = zero && m == 0;
        const bool seen = j <= i + (d.s - d.q);
        causal = causal && (seen ? m == 0 : m <= -1e4);
      }
    if (mask->numel() != d.q * d.s && mask->numel() != 1) causal = false;
    if (!zero && !causal) return false;
    // One query: a causal mask masks nothing (the LLM tiers' decode steps); kept causal.
    d.causal = causal && (!zero || d.q == 1);
  }
  Sym k = transposed(kt, [&] {
    std::vector<int> sw = identity(r);
    std::swap(sw[r - 1], sw[r - 2]);
    return sw;
  }());
  const std::string name = layer_name(mm);
  const bool bf = b_.dtype() == DType::bf16;  // the bf16 attention kernel reads bf16 q, k, v
  const int out = b_.attention(name, need(q, {}, bf), need(k, {}, bf), need(v, {}, bf), d);
  for (int n : nodes) absorbed_[static_cast<std::size_t>(n)] = true;
  define_value(node(pv).output(0), out, q.shape);
  return true;
}

// --- emission -----------------------------------------------------------------------------------

bool Importer::emit_grown_cache(const onnx::NodeProto& n) {
  if (n.input_size() != 2 || !grown_.count(n.input(0))) return false;
  const Sym& c = sym(n.input(0));
  const Sym& x = sym(n.input(1));
  const std::size_t r = c.shape.size();
  if (x.c || !x.is_float)
    throw Fail{"a past cache grown by '" + n.input(1) + "', not a computed float tensor"};
  if (x.shape.size() != r || x.shape[r - 3] != c.shape[r - 3] || x.shape[r - 1] != c.shape[r - 1])
    throw Fail{"a past cache " + shape_str(c.shape) + " grown by " + shape_str(x.shape)};
  if (x.shape[r - 2] != 1)
    throw Fail{"a past cache grown by " + std::to_string(x.shape[r - 2]) +
               " tokens at once (a prefill after a past); tierbench runs one decode step: bind "
               "the input's sequence length to 1"};
  b_.host(layer_name(n), HostOp::kv_write, {Operand::v(need(x, {}, true)), Operand::v(c.value)},
          b_.value(c.value).dtype, {});
  b_.graph().layers.back().pos = past_;
  Shape grown = c.shape;
  grown[r - 2] = past_ + 1;
  define_value(n.output(0), c.value, grown);
  present_.insert(n.output(0));
  return true;
}

std::string Importer::layer_name(const onnx::NodeProto& n) {
  std::string base = n.name().empty() ? n.op_type() + "_" + n.output(0) : n.name();
  std::string name = base;
  for (int k = 2; names_.count(name) || b_.graph().find_weight(name + ".weight"); ++k)
    name = base + "#" + std::to_string(k);
  names_.insert(name);
  return name;
}

// Fills the weight named `wname` (tierbench's layout) from f32 data: rounded to bf16, or
// quantised to s8 per output channel (scale max|w| / kWeightQMax in "<wname>_scale": 7 bits) as
// int8 tiers hold.
void Importer::fill(const std::string& wname, const std::vector<float>& data) {
  const auto& ws = b_.graph().weights;
  const auto it =
      std::find_if(ws.begin(), ws.end(), [&](const auto& w) { return w.name == wname; });
  if (it == ws.end()) throw Fail{"internal: no weight " + wname};
  const int wi = static_cast<int>(it - ws.begin());
  Tensor t(it->dtype, it->shape);
  if (static_cast<std::int64_t>(data.size()) != t.numel())
    throw Fail{"weight " + wname + ": " + std::to_string(data.size()) + " values for " +
               std::to_string(t.numel())};
  // A NaN or infinite weight (in the file, or made by folding a BatchNormalization) gives no
  // output worth timing or validating, and has no int8 quantisation.
  for (const float v : data)
    if (!std::isfinite(v))
      throw Fail{"weight " + wname + " holds " + (std::isnan(v) ? "NaN" : "an infinity") +
                 "; weights must be finite"};
  if (it->dtype == DType::s8) {
    const std::int64_t rows = it->shape.at(0), cols = t.numel() / std::max<std::int64_t>(rows, 1);
    std::vector<float> scale(static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r) {
      float mx = 0;
      for (std::int64_t c = 0; c < cols; ++c)
        mx = std::max(mx, std::abs(data[static_cast<std::size_t>(r * cols + c)]));
      const float s = mx > 0 ? mx / kWeightQMax : 1;
      scale[static_cast<std::size_t>(r)] = s;
      for (std::int64_t c = 0; c < cols; ++c)
        t.set(r * cols + c, std::nearbyint(data[static_cast<std::size_t>(r * cols + c)] / s));
    }
    fill(wname + "_scale", scale);
  } else if (it->dtype == DType::f32) {
    std::memcpy(t.raw(), data.data(), t.bytes());
  } else {
    for (std::int64_t e = 0; e < t.numel(); ++e) t.set(e, data[static_cast<std::size_t>(e)]);
  }
  wdata_[wi] = std::move(t);
}

void Importer::emit_chain(const Chain& c) {
  if (node(c.head).op_type() == "Conv")
    emit_conv(c);
  else
    emit_linear(c);
}

void Importer::emit_conv(const Chain& c) {
  const auto& n = node(c.head);
  check_attrs(n, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  const Sym x = kernel_input(n);
  const Const& w = need_const(n, 1, "Conv weights");
  const auto qw = b_.dtype() == DType::s8 ? qweights_.find(n.input(1)) : qweights_.end();
  if (qw != qweights_.end() && c.bn >= 0)
    throw Fail{"BatchNormalization after a Conv of int8 weights (fold it before quantising)"};
  if (x.shape.size() != 4 || w.shape.size() != 4 || !w.is_float)
    throw Fail{"only 2-D float convolutions are supported"};
  const std::int64_t K = w.shape[0], Cg = w.shape[1], R = w.shape[2], S = w.shape[3];
  const std::int64_t g = attr_i(n, "group", 1), C = x.shape[1];
  const Shape ks = attr_ints(n, "kernel_shape", {R, S}), st = attr_ints(n, "strides", {1, 1}),
              dl = attr_ints(n, "dilations", {1, 1});
  if (ks != Shape{R, S} || R != S || R <= 0) throw Fail{"kernel " + shape_str(ks)};
  if (st.size() != 2 || st[0] != st[1] || st[0] <= 0) throw Fail{"strides " + shape_str(st)};
  if (dl != Shape{1, 1}) throw Fail{"dilation " + shape_str(dl) + " is not supported"};
  const Shape pads = resolve_pads(n, {x.shape[2], x.shape[3]}, ks, st, dl);
  if (pads.size() != 4) throw Fail{"pads " + shape_str(pads) + " (4 values for 2-D)"};
  if (*std::min_element(pads.begin(), pads.end()) < 0) throw Fail{"negative pads"};
  // [top, left, bottom, right]: the conv pads top and left alike (pad) and bottom and right
  // alike, at least as much (pad + pad_end), as TensorFlow's SAME padding does.
  if (pads[0] != pads[1] || pads[2] != pads[3] || pads[2] < pads[0])
    throw Fail{"asymmetric pads " + shape_str(pads) +
               (attr_s(n, "auto_pad", "NOTSET") == "NOTSET"
                    ? std::string()
                    : " (from auto_pad " + attr_s(n, "auto_pad", "") + " on " +
                          shape_str({x.shape[2], x.shape[3]}) + ")") +
               ": the conv kernel takes top = left and bottom = right >= top"};
  if (pads[2] >= R) throw Fail{"pads " + shape_str(pads) + " as large as the kernel"};
  if (g <= 0 || C % g || K % g || Cg != C / g)
    throw Fail{"weights " + shape_str(w.shape) + " do not match " + std::to_string(C) +
               " input channels in " + std::to_string(g) + " groups"};
  // [k][c/g][r][s] -> [k][r][s][c/g]; BatchNormalization folded: w' = w * s, b' = (b - mean) s +
  // beta with s = gamma / sqrt(var + eps).
  std::vector<float> wt(static_cast<std::size_t>(w.numel())), bias(static_cast<std::size_t>(K), 0);
  if (const Const* bc = has(n, 2) ? &need_const(n, 2, "Conv bias") : nullptr) {
    if (bc->numel() != K) throw Fail{"bias of " + std::to_string(bc->numel()) + " values"};
    bias = bc->f;
  }
  std::vector<float> mul(static_cast<std::size_t>(K), 1);
  if (c.bn >= 0) {
    const auto& bn = node(c.bn);
    check_attrs(bn, {"epsilon", "momentum", "training_mode", "spatial"});
    if (attr_i(bn, "training_mode", 0)) throw Fail{"BatchNormalization in training mode"};
    const double eps = attr_f(bn, "epsilon", 1e-5f);
    const Const &gm = need_const(bn, 1, "scale"), &bt = need_const(bn, 2, "B"),
                &mn = need_const(bn, 3, "mean"), &vr = need_const(bn, 4, "var");
    for (const Const* p : {&gm, &bt, &mn, &vr})
      if (p->numel() != K || !p->is_float)
        throw Fail{"BatchNormalization parameters of wrong size"};
    for (std::int64_t k = 0; k < K; ++k) {
      const auto u = static_cast<std::size_t>(k);
      const double s = gm.f[u] / std::sqrt(static_cast<double>(vr.f[u]) + eps);
      mul[u] = static_cast<float>(s);
      bias[u] = static_cast<float>((bias[u] - mn.f[u]) * s + bt.f[u]);
    }
  }
  if (c.bias)
    for (std::int64_t k = 0; k < K; ++k)
      bias[static_cast<std::size_t>(k)] += c.bias->f[static_cast<std::size_t>(k)];
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t ci = 0; ci < Cg; ++ci)
      for (std::int64_t r = 0; r < R; ++r)
        for (std::int64_t s = 0; s < S; ++s)
          wt[static_cast<std::size_t>(((k * R + r) * S + s) * Cg + ci)] =
              w.f[static_cast<std::size_t>(((k * Cg + ci) * R + r) * S + s)] *
              mul[static_cast<std::size_t>(k)];
  const std::vector<int> nhwc = {0, 2, 3, 1};
  const int xv = need_shaped(x, nhwc, b_.dtype() == DType::bf16);
  const std::int64_t oh = (x.shape[2] + pads[0] + pads[2] - R) / st[0] + 1,
                     ow = (x.shape[3] + pads[1] + pads[3] - S) / st[0] + 1;
  if (oh <= 0 || ow <= 0) throw Fail{"the kernel is larger than the padded image"};
  int rv = -1;
  if (!c.residual.empty()) {
    const Sym& rs = sym(c.residual);
    if (rs.shape != Shape{x.shape[0], K, oh, ow}) throw Fail{"residual of another shape"};
    rv = need(rs, nhwc);
  }
  const std::string name = layer_name(n);
  // The int8 kernels pad with u8 zeros, which stand for 0 only at zero point 0: a padded Conv of
  // an input quantised with another zero point runs in f32 on the fake-quantised input (what the
  // file computes; emit_static_quant fake-quantises it for this reader).
  const bool f32_conv = b_.dtype() == DType::s8 && x.sq_scale > 0 && x.sq_zp != 0 &&
                        std::any_of(pads.begin(), pads.end(), [](auto p) { return p != 0; });
  if (f32_conv) {
    if (x.quant) throw Fail{"internal: a padded Conv of a quantised input not fake-quantised"};
    b_.set_dtype(DType::f32);
    sum_.notes.push_back("Conv '" + n.name() + "' pads an int8 input of zero point " +
                         std::to_string(x.sq_zp) +
                         " (as uint8): it runs in f32 on the fake-quantised input");
  }
  const int out = b_.conv(name, xv, K, R, st[0], pads[0], g, c.act, rv, 1.0, pads[2] - pads[0]);
  if (f32_conv) b_.set_dtype(DType::s8);
  if (!f32_conv) fix_input_quant(name, x);
  if (qw != qweights_.end() &&
      !f32_conv) {  // the file's int8 values, [k][c/g][r][s] -> [k][r][s][c/g]
    std::vector<std::int64_t> index(static_cast<std::size_t>(w.numel()));
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t ci = 0; ci < Cg; ++ci)
        for (std::int64_t r = 0; r < R; ++r)
          for (std::int64_t s = 0; s < S; ++s)
            index[static_cast<std::size_t>(((k * R + r) * S + s) * Cg + ci)] =
                ((k * Cg + ci) * R + r) * S + s;
    fill_quantized(name + ".weight", qw->second, K, R * S * Cg, index);
  } else {
    fill(name + ".weight", wt);
  }
  fill(name + ".bias", bias);
  Sym y;
  y.shape = {x.shape[0], K, oh, ow}, y.value = out, y.base = {x.shape[0], oh, ow, K};
  y.perm = {0, 3, 1, 2};
  define(c.out, std::move(y));
}

void Importer::emit_linear(const Chain& c) {
  const auto& n = node(c.head);
  const bool gemm = n.op_type() == "Gemm";
  check_attrs(n, gemm ? std::vector<std::string>{"alpha", "beta", "transA", "transB"}
                      : std::vector<std::string>{});
  const Sym x = kernel_input(n);
  const Const& bw = need_const(n, 1, "weights");
  const auto qw = b_.dtype() == DType::s8 ? qweights_.find(n.input(1)) : qweights_.end();
  if (bw.shape.size() != 2 || !bw.is_float) throw Fail{"weights are not a float matrix"};
  if (x.shape.empty()) throw Fail{"a scalar input"};
  const bool tb = gemm && attr_i(n, "transB", 0);
  if (gemm && attr_i(n, "transA", 0)) throw Fail{"transA=1 is not supported"};
  const std::int64_t K = tb ? bw.shape[1] : bw.shape[0], N = tb ? bw.shape[0] : bw.shape[1];
  if (K <= 0 || N <= 0) throw Fail{"empty weights " + shape_str(bw.shape)};
  if (x.shape.back() != K || (gemm && x.shape.size() != 2))
    throw Fail{"input " + shape_str(x.shape) + " does not match weights " + shape_str(bw.shape)};
  const std::int64_t M = checked_numel(x.shape, o_.max_tensor_bytes) / K;
  const double alpha = gemm ? attr_f(n, "alpha", 1) : 1, beta = gemm ? attr_f(n, "beta", 1) : 1;
  std::vector<float> w(static_cast<std::size_t>(N * K));  // [n][k]
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t k = 0; k < K; ++k)
      w[static_cast<std::size_t>(i * K + k)] =
          static_cast<float>(alpha * bw.f[static_cast<std::size_t>(tb ? i * K + k : k * N + i)]);
  std::optional<std::vector<float>> bias;
  const Const* bc = c.bias;
  const bool has_c = gemm && has(n, 2);
  if (has_c) bc = &need_const(n, 2, "C");
  if (bc) {
    const Const full = broadcast_to(*bc, {1, N});  // Fail unless C broadcasts along n only
    bias = std::vector<float>(static_cast<std::size_t>(N));
    for (std::int64_t i = 0; i < N; ++i)
      (*bias)[static_cast<std::size_t>(i)] = static_cast<float>((has_c ? beta : 1) * full.at(i));
  }
  Shape oshape = x.shape;
  oshape.back() = N;
  const int xv = need(x, {}, b_.dtype() == DType::bf16);
  int rv = -1;
  if (!c.residual.empty()) {
    const Sym& rs = sym(c.residual);
    if (rs.shape != oshape) throw Fail{"residual of another shape"};
    rv = need(rs);
  }
  const std::string name = layer_name(n);
  // Tied to an embedding table (the LM head of LLaMA-style models): that weight, [n][k] as it is
  // (Gemm transB=1 of the table, or MatMul by its Transpose, as PyTorch exports a tied Linear).
  std::string wsrc = n.input(1);  // through Casts (bf16 exports cast the weight to f32)
  std::string wscale;             // int8: DequantizeLinear's scales
  bool swapped = tb;              // [n][k] in the table's order
  for (auto pr = producer_.find(wsrc); pr != producer_.end(); pr = producer_.find(wsrc)) {
    const auto& p = node(pr->second);
    const bool t2 = p.op_type() == "Transpose" && bw.shape.size() == 2 &&
                    attr_ints(p, "perm", {1, 0}) == Shape{1, 0};
    if (p.op_type() != "Cast" && p.op_type() != "DequantizeLinear" && !t2) break;
    if (p.op_type() == "DequantizeLinear" && p.input_size() > 1) wscale = p.input(1);
    swapped = swapped != t2;
    wsrc = p.input(0);
  }
  auto tied = swapped && alpha == 1 ? tables_.find(wsrc) : tables_.end();
  if (tied != tables_.end()) {  // only as the dtype linear() gives its weight
    const WeightSpec* ws = b_.graph().find_weight(tied->second);
    const DType want = b_.dtype() == DType::f32 ? DType::f32 : gemm_types(b_.dtype()).b;
    const auto ts = table_scales_.find(wsrc);
    if (!ws || ws->dtype != want ||
        (want == DType::s8 && (ts == table_scales_.end() || ts->second != wscale)))
      tied = tables_.end();
  }
  const int out = b_.linear(name, xv, M, K, N, bias.has_value(), c.act, rv, 1.0,
                            tied != tables_.end() ? tied->second : std::string());
  fix_input_quant(name, x);
  if (tied != tables_.end()) {
  } else if (qw != qweights_.end()) {  // the file's int8 values as [n][k], alpha into the scales
    QuantWeight q = qw->second;
    for (auto& s : q.scale) s = static_cast<float>(alpha * s);
    std::vector<std::int64_t> index(static_cast<std::size_t>(N * K));
    for (std::int64_t i = 0; i < N; ++i)
      for (std::int64_t k = 0; k < K; ++k)
        index[static_cast<std::size_t>(i * K + k)] = tb ? i * K + k : k * N + i;
    fill_quantized(name + ".weight", q, N, K, index);
  } else {
    fill(name + ".weight", w);
  }
  if (bias) fill(name + ".bias", *bias);
  define_value(c.out, out, oshape);
}

void Importer::emit_activation(const std::string& name, const Sym& x, Activation a,
                               const std::string& out) {
  if (!x.is_float) throw Fail{"activation of integers"};
  if (x.quant) throw Fail{"activation of a tensor quantised to int8"};
  const int xv = f32_value(x.value);
  const int v =
      b_.host(name, HostOp::activation, {Operand::v(xv)}, DType::f32, b_.value(xv).shape, a);
  Sym y = x;
  y.value = v;
  define(out, std::move(y));
}

// Add, Mul, Sub, Div and Neg as elementwise kernels on the runtime operand's layout: a constant
// operand is a weight broadcast to it (Sub and Div by a constant become Add and Mul of its
// negation and reciprocal); a negated computed tensor (Neg, Sub of it) is a Mul by -1 first.
void Importer::emit_binary(const onnx::NodeProto& n) {
  check_attrs(n, {});
  std::string op = n.op_type();
  const bool neg = op == "Neg";
  const Sym &a0 = sym(n.input(0)), &a1 = neg ? a0 : sym(n.input(1));
  const bool swap = !neg && a0.c != nullptr;  // the runtime operand first (Add, Mul commute)
  const Sym &a = swap ? a1 : a0, &b = swap ? a0 : a1;
  if (op == "Div" && swap) throw Fail{"Div of a constant by a computed tensor is not supported"};
  if (!a.is_float) throw Fail{op + " of integers"};
  if (a.quant || b.quant) throw Fail{op + " of a tensor quantised to int8"};
  const std::string name = layer_name(n);
  const int av = f32_value(a.value);
  const std::int64_t count = b_.value(av).numel();
  // a's layout (value dim i is ONNX dim layout[i]).
  std::vector<int> layout(a.shape.size());
  const std::vector<int> p = a.perm.empty() ? identity(a.shape.size()) : a.perm;
  for (std::size_t j = 0; j < p.size(); ++j)
    layout[static_cast<std::size_t>(p[j])] = static_cast<int>(j);
  const auto kernel = [&](const std::string& kname, BinaryKind kind, int x, Operand y) {
    BinaryDesc d;
    d.kind = kind, d.n = count;
    return b_.kernel(kname, Problem{d, DType::f32, {}}, {Operand::v(x), y});
  };
  // A constant as a weight in a's layout, each value through f.
  const auto constant = [&](const std::string& wname, const Const& c, auto f) {
    if (broadcast_shape(a.shape, c.shape) != a.shape)
      throw Fail{"the constant " + shape_str(c.shape) + " would broadcast the output beyond " +
                 shape_str(a.shape)};
    Const full = transpose(broadcast_to(c, a.shape), layout);
    std::vector<float> v(full.f.begin(), full.f.end());
    if (!full.is_float)
      for (auto i : full.i) v.push_back(static_cast<float>(i));
    for (auto& x : v) x = f(x);
    const Operand w = Operand::w(b_.weight(wname, DType::f32, {count}, Init{}));
    fill(wname, v);
    return w;
  };
  const auto negated = [&](const std::string& nname, int x) {
    return kernel(nname, BinaryKind::mul, x,
                  constant(nname + ".const", Const::floats({}, {-1.f}), [](float v) { return v; }));
  };
  int out = -1;
  if (neg) {
    out = negated(name, av);
  } else if (b.c) {  // x op c, c op x (Add, Mul, Sub) or x op c (Sub, Div)
    const bool sub = op == "Sub", div = op == "Div";
    const int x = sub && swap ? negated(name + ".neg", av) : av;  // c - x = -x + c
    out = kernel(name, sub || op == "Add" ? BinaryKind::add : BinaryKind::mul, x,
                 constant(name + ".const", *b.c, [&](float v) {
                   return sub && !swap ? -v : div ? 1 / v : v;
                 }));
  } else {
    if (op == "Div") throw Fail{"Div of two computed tensors is not supported"};
    if (b.shape != a.shape)
      throw Fail{"broadcasting " + shape_str(b.shape) + " to " + shape_str(a.shape) +
                 " between computed tensors is not supported"};
    int bv = need(b, layout);
    if (op == "Sub") bv = negated(name + ".neg", bv);  // a - b = a + (-b)
    out = kernel(name, op == "Mul" ? BinaryKind::mul : BinaryKind::add, av, Operand::v(bv));
  }
  Sym y = a;
  y.value = out;
  define(n.output(0), std::move(y));
}

void Importer::emit_pool(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  const Sym& x = runtime_in(n, 0);
  if (x.shape.size() != 4) throw Fail{"only 2-D pooling is supported"};
  if (n.output_size() > 1 && !n.output(1).empty() && !consumers(n.output(1)).empty())
    throw Fail{"the indices output is not supported"};
  const std::string name = layer_name(n);
  const int xv = need_shaped(x, {0, 2, 3, 1});
  const std::int64_t N = x.shape[0], C = x.shape[1];
  if (op == "GlobalAveragePool") {
    check_attrs(n, {});
    define_value(n.output(0), b_.pool(name, PoolKind::global, xv, 1, 1, 0), {N, C, 1, 1});
    return;
  }
  check_attrs(n, {"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads",
                  "storage_order", "strides"});
  const Shape ks = attr_ints(n, "kernel_shape"), st = attr_ints(n, "strides", {1, 1}),
              dl = attr_ints(n, "dilations", {1, 1});
  if (ks.size() != 2 || ks[0] != ks[1] || ks[0] <= 0) throw Fail{"kernel " + shape_str(ks)};
  if (st.size() != 2 || st[0] != st[1] || st[0] <= 0) throw Fail{"strides " + shape_str(st)};
  if (dl != Shape{1, 1}) throw Fail{"dilation " + shape_str(dl) + " is not supported"};
  const std::string ap = attr_s(n, "auto_pad", "NOTSET");
  const Shape pads = resolve_pads(n, {x.shape[2], x.shape[3]}, ks, st, dl);
  if (pads.size() != 4) throw Fail{"pads " + shape_str(pads) + " (4 values for 2-D)"};
  if (*std::min_element(pads.begin(), pads.end()) < 0) throw Fail{"negative pads"};
  // [top, left, bottom, right]: as the conv, top and left alike (pad), bottom and right alike
  // with at least as much (pad + pad_end): TensorFlow's SAME max pool with stride 2.
  if (pads[0] != pads[1] || pads[2] != pads[3] || pads[2] < pads[0])
    throw Fail{"asymmetric pads " + shape_str(pads) +
               (ap == "NOTSET" ? std::string()
                               : " (from auto_pad " + ap + " on " +
                                     shape_str({x.shape[2], x.shape[3]}) + ")") +
               ": the pooling kernel takes top = left and bottom = right >= top"};
  if (pads[2] >= ks[0] || x.shape[2] + pads[0] + pads[2] < ks[0] ||
      x.shape[3] + pads[0] + pads[2] < ks[0])
    throw Fail{"pads " + shape_str(pads) + " with a " + shape_str(ks) + " window on " +
               shape_str(x.shape)};
  if (attr_i(n, "ceil_mode", 0) || attr_i(n, "storage_order", 0))
    throw Fail{"ceil_mode or storage_order is not supported"};
  const bool avg = op == "AveragePool";
  if (avg && pads[2] > 0 && attr_i(n, "count_include_pad", 0))
    throw Fail{"count_include_pad=1 with padding (the pooling kernel excludes the padding)"};
  const int out = b_.pool(name, avg ? PoolKind::avg : PoolKind::max, xv, ks[0], st[0], pads[0],
                          pads[2] - pads[0]);
  const auto& os = b_.value(out).shape;  // [n][oh][ow][c]
  Sym y;
  y.shape = {N, C, os[1], os[2]}, y.value = out, y.base = os, y.perm = {0, 3, 1, 2};
  define(n.output(0), std::move(y));
}

void Importer::emit_matmul_batched(const onnx::NodeProto& n) {
  const Sym &a = runtime_in(n, 0), &b = runtime_in(n, 1);
  const std::size_t r = a.shape.size();
  if (r < 2 || b.shape.size() != r)
    throw Fail{"MatMul of " + shape_str(a.shape) + " by " + shape_str(b.shape) +
               " (equal ranks >= 2 wanted)"};
  if (!std::equal(a.shape.begin(), a.shape.end() - 2, b.shape.begin()) ||
      a.shape[r - 1] != b.shape[r - 2])
    throw Fail{"MatMul of " + shape_str(a.shape) + " by " + shape_str(b.shape) +
               " (broadcasting batches is not supported)"};
  GemmDesc d;
  d.m = a.shape[r - 2], d.k = a.shape[r - 1], d.n = b.shape[r - 1];
  d.batch = checked_numel(a.shape, o_.max_tensor_bytes) / (d.m * d.k);
  Shape os = a.shape;
  os.back() = d.n;
  const int out = b_.kernel(layer_name(n), Problem{d, DType::f32, {}},
                            {Operand::v(need(a)), Operand::v(need(b))});
  define_value(n.output(0), out, os);
}

// Gather of a constant table by computed ids: the embed kernel (ids taken modulo the rows, which
// also absorbs the Mod that tierbench's exporter writes before it).
void Importer::emit_gather(const onnx::NodeProto& n) {
  check_attrs(n, {"axis"});
  const Const& table = need_const(n, 0, "the table");
  const Sym& ids = runtime_in(n, 1);
  const bool int8 = b_.dtype() == DType::s8 && table.elem == onnx::TensorProto::INT8;
  if (table.elem == onnx::TensorProto::INT8 && !int8)
    throw Fail{"Gather of an int8 table (tierbench's int8 form): import it with --dtype int8"};
  if (attr_i(n, "axis", 0) != 0 || table.shape.size() != 2 || (!table.is_float && !int8) ||
      ids.is_float || table.numel() == 0)
    throw Fail{"Gather other than rows of a constant float table by integer ids"};
  EmbedDesc d;
  d.v = table.shape[0], d.d = table.shape[1], d.t = checked_numel(ids.shape, o_.max_tensor_bytes);
  const std::string name = layer_name(n);
  if (int8) {
    // An int8 table with per-row scales: Cast(Gather(table, ids)) * Reshape(Gather(scales,
    // ids), [t, 1]), as the int8 tiers' host lookup (tied to an int8 LM head below).
    const int self = producer_.at(n.output(0));
    const int pc = next_op(self, "Cast"), pm = next_op(pc, "Mul");
    if (pm < 0 || attr_i(node(pc), "to", 0) != onnx::TensorProto::FLOAT)
      throw Fail{"an int8 table read other than as Cast(Gather) times the rows' scales"};
    const auto& mul = node(pm);
    const std::string other = mul.input(0) == node(pc).output(0) ? mul.input(1) : mul.input(0);
    const auto rs = producer_.find(other);
    const int pr = rs == producer_.end() ? -1 : rs->second;
    const auto gs = pr >= 0 && node(pr).op_type() == "Reshape" ? producer_.find(node(pr).input(0))
                                                               : producer_.end();
    const Const* sc = nullptr;
    if (gs != producer_.end() && node(gs->second).op_type() == "Gather" &&
        node(gs->second).input(1) == n.input(1) && syms_.count(node(gs->second).input(0)))
      sc = sym(node(gs->second).input(0)).c.get();
    if (!sc || !sc->is_float || sc->shape != Shape{d.v})
      throw Fail{"an int8 table read other than as Cast(Gather) times the rows' scales"};
    const int w = b_.weight(name + ".weight", DType::s8, table.shape, Init{});
    const int ws = b_.weight(name + ".weight_scale", DType::f32, {d.v}, Init{}, true);
    QuantWeight q;
    q.shape = table.shape, q.q = table.f, q.scale = sc->f, q.axis = 0;
    if (q.q.empty())
      for (const auto v : table.i) q.q.push_back(static_cast<float>(v));
    std::vector<std::int64_t> index(static_cast<std::size_t>(table.numel()));
    std::iota(index.begin(), index.end(), std::int64_t{0});
    fill_quantized(name + ".weight", q, d.v, d.d, index);
    tables_.emplace(n.input(0), name + ".weight");
    table_scales_.emplace(n.input(0), node(gs->second).input(0));
    const int out =
        b_.host(name, HostOp::embed, {Operand::v(need(ids)), Operand::w(w), Operand::w(ws)},
                DType::f32, {d.t, d.d});
    for (int p : {pc, pm, pr, gs->second}) absorbed_[static_cast<std::size_t>(p)] = true;
    Shape os = ids.shape;
    os.push_back(d.d);
    define_value(mul.output(0), out, os);
    return;
  }
  // A float table an LM head also reads, imported at bf16 or int8: the tiers' form, one table
  // in the head's type that the lookup and the head share (int8: rows quantised with their
  // scales, the host lookup dequantising them).
  const bool head = table.is_float && tied_to_head(n.input(0));
  if (head && b_.dtype() == DType::s8 && !tables_.count(n.input(0))) {
    const int w = b_.weight(name + ".weight", DType::s8, table.shape, Init{});
    const int ws = b_.weight(name + ".weight_scale", DType::f32, {d.v}, Init{}, true);
    fill(name + ".weight", table.f);  // per-row scales into .weight_scale
    tables_.emplace(n.input(0), name + ".weight");
    table_scales_.emplace(n.input(0), std::string());  // the head's weight has none of its own
    const int out =
        b_.host(name, HostOp::embed, {Operand::v(need(ids)), Operand::w(w), Operand::w(ws)},
                DType::f32, {d.t, d.d});
    Shape os = ids.shape;
    os.push_back(d.d);
    define_value(n.output(0), out, os);
    return;
  }
  const auto tied = tables_.find(n.input(0));
  const std::string wname = tied != tables_.end() ? tied->second : name + ".weight";
  // A bf16 graph keeps a bf16 table bf16 (a host lookup, as the bf16 tiers do: the embed
  // kernel takes f32 tables), and so a float table that a bf16 LM head shares.
  const bool bf = b_.dtype() == DType::bf16 && (table.elem == onnx::TensorProto::BFLOAT16 || head);
  const int w = b_.weight(wname, bf ? DType::bf16 : DType::f32, table.shape, Init{});
  if (tied == tables_.end()) fill(wname, table.f);
  tables_.emplace(n.input(0), wname);
  const int out =
      bf ? b_.host(name, HostOp::embed, {Operand::v(need(ids)), Operand::w(w)}, DType::f32,
                   {d.t, d.d})
         : b_.kernel(name, Problem{d, DType::f32, {}}, {Operand::w(w), Operand::v(need(ids))});
  Shape os = ids.shape;
  os.push_back(d.d);
  define_value(n.output(0), out, os);
}

// Whether an LM head reads initialiser `table` as its weight, transposed: Gemm with transB=1 of
// it, or MatMul by its Transpose (through Casts), as tied embeddings export.
bool Importer::tied_to_head(const std::string& table) const {
  std::vector<std::pair<std::string, bool>> reach = {{table, false}};  // (tensor, transposed)
  for (std::size_t k = 0; k < reach.size() && k < 8; ++k) {
    const auto [t, swapped] = reach[k];
    for (int c : consumers(t)) {
      if (c < 0) continue;
      const auto& n = node(c);
      const bool rhs = n.input_size() > 1 && n.input(1) == t;
      if (rhs && n.op_type() == "Gemm" && swapped != (attr_i(n, "transB", 0) != 0)) return true;
      if (rhs && n.op_type() == "MatMul" && swapped) return true;
      if (n.op_type() == "Cast") reach.emplace_back(n.output(0), swapped);
      if (n.op_type() == "Transpose" && attr_ints(n, "perm", {1, 0}) == Shape{1, 0})
        reach.emplace_back(n.output(0), !swapped);
    }
  }
  return false;
}

// A weight table gathered by constant positions 0..t-1 or zeros (BERT's position and token-type
// embeddings): the embed kernel with the ids computed at load, as the tiers have it, not a
// folded copy of the rows.
bool Importer::emit_gather_const_ids(const onnx::NodeProto& n) {
  if (!has(n, 1) || !inits_.count(n.input(0)) || attr_i(n, "axis", 0) != 0) return false;
  const Const* table = const_in(n, 0);
  const Const* ids = const_in(n, 1);
  if (!table || !ids || !table->is_float || table->shape.size() != 2 || ids->is_float ||
      ids->shape.size() != 1 || ids->numel() == 0 || table->numel() == 0)
    return false;
  bool iota = true, zero = true;
  for (std::int64_t i = 0; i < ids->numel(); ++i) {
    iota = iota && ids->i[static_cast<std::size_t>(i)] == i;
    zero = zero && ids->i[static_cast<std::size_t>(i)] == 0;
  }
  if (!iota && !zero) return false;
  EmbedDesc d;
  d.v = table->shape[0], d.d = table->shape[1], d.t = ids->numel();
  const std::string name = layer_name(n);
  const int w = b_.weight(name + ".weight", DType::f32, table->shape, Init{});
  fill(name + ".weight", table->f);
  const int idv = b_.constant(name + ".ids", DType::s32, {d.t},
                              iota ? ConstKind::iota_ids : ConstKind::zero_ids);
  const int out = b_.kernel(name, Problem{d, DType::f32, {}}, {Operand::w(w), Operand::v(idv)});
  define_value(n.output(0), out, {d.t, d.d});
  return true;
}

void Importer::emit_reduce_mean(int pos) {
  const auto& n = node(pos);
  check_attrs(n, {"axes", "keepdims", "noop_with_empty_axes"});
  const Sym& x = runtime_in(n, 0);
  Shape axes = node_axes(n, has(n, 1) ? &need_const(n, 1, "axes") : nullptr);
  for (auto& a : axes) a = norm_axis(a, x.shape.size());
  std::sort(axes.begin(), axes.end());
  if (x.shape.size() == 4 && axes == Shape{2, 3}) {  // a global average pool
    const int v = b_.pool(layer_name(n), PoolKind::global, need_shaped(x, {0, 2, 3, 1}), 1, 1, 0);
    const bool keep = attr_i(n, "keepdims", 1) != 0;
    define_value(n.output(0), v,
                 keep ? Shape{x.shape[0], x.shape[1], 1, 1} : Shape{x.shape[0], x.shape[1]});
    return;
  }
  if (match_layernorm(pos)) return;
  throw Fail{"ReduceMean over axes " + shape_str(axes) +
             " outside the global-pool and LayerNormalization patterns"};
}

// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout of a computed tensor: the same value.
// The order a value's memory holds its ONNX axes in: physical dimension k is ONNX axis
// layout[k] (the inverse of Sym::perm).
std::vector<int> memory_order(const Sym& s) {
  std::vector<int> l(s.shape.size());
  for (std::size_t j = 0; j < l.size(); ++j)
    l[s.perm.empty() ? j : static_cast<std::size_t>(s.perm[j])] = static_cast<int>(j);
  return l;
}

// Concat of computed tensors, and of constants with them (a class token before the patches, a
// fixed coordinate plane beside the channels): a host copy in the first computed input's memory
// order (the others are permuted to it where they differ; constants are stored in it as
// weights), so an NCHW channel concat of NHWC images stays NHWC.
void Importer::emit_concat(const onnx::NodeProto& n) {
  check_attrs(n, {"axis"});
  if (!find_attr(n, "axis")) throw Fail{"Concat without an axis"};
  int first = -1;  // the first computed input (all-constant Concats are folded before)
  for (int k = 0; k < n.input_size() && first < 0; ++k)
    if (!sym(n.input(k)).c) first = k;
  const Sym& x0 = runtime_in(n, first < 0 ? 0 : first);
  const std::size_t r = x0.shape.size();
  const auto a = static_cast<std::size_t>(norm_axis(attr_i(n, "axis", 0), r));
  const std::vector<int> order = memory_order(x0);
  Shape out = x0.shape;
  out[a] = 0;
  const std::string name = layer_name(n);
  std::vector<Operand> parts;
  for (int k = 0; k < n.input_size(); ++k) {
    if (!has(n, k)) throw Fail{"input " + std::to_string(k) + " is missing"};
    const Sym& x = sym(n.input(k));
    if (x.shape.size() != r) throw Fail{"Concat of tensors of different ranks"};
    for (std::size_t d = 0; d < r; ++d)
      if (d != a && x.shape[d] != out[d])
        throw Fail{"Concat of " + shape_str(x.shape) + " and " + shape_str(x0.shape) +
                   " along axis " + std::to_string(a)};
    out[a] += x.shape[a];
    if (!x.c) {
      parts.push_back(Operand::v(need(x, order)));
      continue;
    }
    if (!x.c->is_float || !x0.is_float)
      throw Fail{"Concat of the integer constant '" + n.input(k) + "' with computed tensors"};
    if (x.c->numel() == 0) throw Fail{"Concat of the empty constant '" + n.input(k) + "'"};
    const Const t = transpose(*x.c, order);
    const std::string wname = name + ".const" + std::to_string(k);
    parts.push_back(Operand::w(b_.weight(wname, DType::f32, {x.c->numel()}, Init{})));
    fill(wname, std::vector<float>(t.f.begin(), t.f.end()));
  }
  Shape mem;  // the output's dimensions in memory order; outer: those before the axis
  for (int d : order) mem.push_back(out[static_cast<std::size_t>(d)]);
  const auto j = x0.perm.empty() ? a : static_cast<std::size_t>(x0.perm[a]);
  const std::int64_t outer =
      std::accumulate(mem.begin(), mem.begin() + static_cast<std::ptrdiff_t>(j), std::int64_t{1},
                      std::multiplies<>());
  checked_numel(out, o_.max_tensor_bytes / 4);
  Sym y;
  y.shape = out;
  y.value = b_.concat(name, std::move(parts), outer, mem);
  if (!x0.perm.empty()) y.perm = x0.perm, y.base = mem;
  define(n.output(0), std::move(y));
}

// Slice of a computed tensor (constant starts, ends, axes and steps, as ONNX clamps them): one
// host copy per sliced axis, in the tensor's memory order.
void Importer::emit_slice(const onnx::NodeProto& n) {
  const Sym& x = runtime_in(n, 0);
  const std::size_t r = x.shape.size();
  const auto ints = [&](int k, const char* what) {
    const Const& c = need_const(n, k, what);
    if (c.is_float) throw Fail{std::string("Slice ") + what + " are not integers"};
    return c.i;
  };
  const Shape starts = ints(1, "starts"), ends = ints(2, "ends");
  Shape axes, steps;
  if (has(n, 3)) axes = ints(3, "axes");
  if (has(n, 4)) steps = ints(4, "steps");
  if (axes.empty())
    for (std::size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<std::int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw Fail{"Slice's starts, ends, axes and steps differ in length"};
  const std::vector<int> order = memory_order(x);
  Shape mem = x.perm.empty() ? x.shape : x.base, out = x.shape;
  int v = need(x, order, true);
  std::vector<bool> seen(r, false);
  const std::string name = layer_name(n);
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const auto a = static_cast<std::size_t>(norm_axis(axes[k], r));
    if (seen[a]) throw Fail{"Slice names axis " + std::to_string(a) + " twice"};
    seen[a] = true;
    const std::int64_t d = x.shape[a], st = steps[k];
    if (st == 0) throw Fail{"Slice step 0"};
    const SliceRange sr = slice_range(starts[k], ends[k], st, d);
    if (sr.count == 0) throw Fail{"Slice to an empty tensor (axis " + std::to_string(a) + ")"};
    if (sr.count == d && st == 1) continue;                                   // the whole axis
    const auto j = x.perm.empty() ? a : static_cast<std::size_t>(x.perm[a]);  // in memory
    std::int64_t outer = 1, inner = 1;
    for (std::size_t q = 0; q < j; ++q) outer *= mem[q];
    for (std::size_t q = j + 1; q < mem.size(); ++q) inner *= mem[q];
    mem[j] = sr.count, out[a] = sr.count;
    if (mem.size() == 2 && j == 0 && sr.count == 1 && sr.first == d - 1 && st == 1) {
      v = b_.host(name, HostOp::last_row, {Operand::v(v)}, b_.value(v).dtype, mem);
      continue;  // the last row of a matrix (the LM head's input)
    }
    v = b_.slice(name + (k ? "." + std::to_string(k) : std::string()), v, outer, inner, sr.first,
                 st, mem);
  }
  Sym y;
  y.shape = out, y.value = v;
  if (!x.perm.empty()) y.perm = x.perm, y.base = mem;
  define(n.output(0), std::move(y));
}

// Split of a computed tensor along one axis (sizes from the `split` input, opset 13 on, or
// attribute, opset 11; else equal parts, the last smaller, as opset 18's num_outputs has them):
// one host slice per output, in the tensor's memory order.
void Importer::emit_split(const onnx::NodeProto& n) {
  check_attrs(n, {"axis", "split", "num_outputs"});
  const Sym& x = runtime_in(n, 0);
  const std::size_t r = x.shape.size();
  const auto a = static_cast<std::size_t>(norm_axis(attr_i(n, "axis", 0), r));
  const std::int64_t d = x.shape[a];
  const auto outs = static_cast<std::int64_t>(n.output_size());
  Shape sizes;
  if (has(n, 1)) {
    const Const& c = need_const(n, 1, "split");
    if (c.is_float) throw Fail{"Split sizes are not integers"};
    sizes = c.i;
  } else if (find_attr(n, "split")) {
    sizes = attr_ints(n, "split", {});
  } else {
    if (const auto* no = find_attr(n, "num_outputs"); no && no->i() != outs)
      throw Fail{"Split's num_outputs " + std::to_string(no->i()) + " differs from its " +
                 std::to_string(outs) + " outputs"};
    const std::int64_t part = (d + outs - 1) / outs;
    for (std::int64_t k = 0; k < outs; ++k) sizes.push_back(std::min(part, d - k * part));
  }
  if (static_cast<std::int64_t>(sizes.size()) != outs)
    throw Fail{"Split into " + std::to_string(outs) + " outputs with " +
               std::to_string(sizes.size()) + " sizes"};
  std::int64_t total = 0;
  for (const std::int64_t z : sizes) {
    if (z <= 0 || z > d)
      throw Fail{"Split part of " + std::to_string(z) + " (axis of " + std::to_string(d) + ")"};
    total += z;
  }
  if (total != d)
    throw Fail{"Split parts sum to " + std::to_string(total) + ", the axis has " +
               std::to_string(d)};
  const std::vector<int> order = memory_order(x);
  const Shape base = x.perm.empty() ? x.shape : x.base;
  const int v = need(x, order, true);
  const auto j = x.perm.empty() ? a : static_cast<std::size_t>(x.perm[a]);  // in memory
  std::int64_t outer = 1, inner = 1;
  for (std::size_t q = 0; q < j; ++q) outer *= base[q];
  for (std::size_t q = j + 1; q < base.size(); ++q) inner *= base[q];
  const std::string name = layer_name(n);
  std::int64_t first = 0;
  for (int k = 0; k < n.output_size(); ++k) {
    const std::int64_t z = sizes[static_cast<std::size_t>(k)];
    if (!n.output(k).empty()) {
      Shape mem = base, out = x.shape;
      mem[j] = z, out[a] = z;
      Sym y;
      y.shape = out;
      y.value = b_.slice(name + "." + std::to_string(k), v, outer, inner, first, 1, mem);
      if (!x.perm.empty()) y.perm = x.perm, y.base = mem;
      define(n.output(k), std::move(y));
    }
    first += z;
  }
}

void Importer::emit_shape_op(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (const Sym& lz = lazy_in(n, 0); lz.rep && !lz.rep->swapped && op == "Reshape") {
    // Grouped-query heads merged, [.., kv, g, s, d] -> [.., kv * g, s, d]: still uncomputed.
    const Shape& xs = lz.shape;
    const Shape ys = reshape_shape(xs, need_const(n, 1, "shape"), attr_i(n, "allowzero", 0));
    const std::size_t r = xs.size();
    Shape merged(xs.begin(), xs.end() - 3);
    merged.back() *= xs[r - 3];
    merged.insert(merged.end(), xs.end() - 2, xs.end());
    if (r == lz.rep->src.shape.size() + 1 && ys == merged) {
      Sym y = lz;
      y.shape = ys;
      define(n.output(0), std::move(y));
      return;
    }
  }
  Sym x = runtime_in(n, 0);
  Sym y;
  y.is_float = x.is_float;
  // A quantised tensor reshaped stays quantised (int8 exports reshape the dequantised input).
  y.quant = std::exchange(x.quant, 0), y.qscale = x.qscale, y.qzp = x.qzp;
  y.sq_scale = x.sq_scale, y.sq_zp = x.sq_zp;
  if (op == "Identity" || op == "Dropout") {
    if (n.output_size() > 1 && !n.output(1).empty() && !consumers(n.output(1)).empty())
      throw Fail{"Dropout's mask output is not supported"};
    x.quant = y.quant;
    define(n.output(0), x);
    return;
  }
  if (op == "Reshape") {
    check_attrs(n, {"allowzero"});
    y.shape = reshape_shape(x.shape, need_const(n, 1, "shape"), attr_i(n, "allowzero", 0));
  } else if (op == "Flatten") {
    check_attrs(n, {"axis"});
    y.shape = flatten_shape(x.shape, attr_i(n, "axis", 1));
  } else if (op == "Squeeze" || op == "Unsqueeze") {
    check_attrs(n, {"axes"});
    const Shape axes = node_axes(n, has(n, 1) ? &need_const(n, 1, "axes") : nullptr);
    y.shape = op == "Squeeze" ? squeeze_shape(x.shape, axes) : unsqueeze_shape(x.shape, axes);
  }
  // Dropping or adding unit dimensions keeps a layout; anything else needs the ONNX one.
  Shape xs, ys;
  for (auto d : x.shape)
    if (d != 1) xs.push_back(d);
  for (auto d : y.shape)
    if (d != 1) ys.push_back(d);
  if (!x.perm.empty() && xs == ys &&
      (op == "Squeeze" || op == "Unsqueeze" || op == "Reshape" || op == "Flatten")) {
    // Keep the permuted layout: map the non-unit dims in order.
    std::vector<int> xd;  // x's non-unit ONNX dims -> base dims
    for (std::size_t j = 0; j < x.shape.size(); ++j)
      if (x.shape[j] != 1) xd.push_back(x.perm[j]);
    std::vector<int> rest;  // base unit dims, for y's unit dims
    for (std::size_t d = 0; d < x.base.size(); ++d)
      if (x.base[d] == 1) rest.push_back(static_cast<int>(d));
    Shape base = x.base;
    std::vector<int> perm;
    std::size_t k = 0;
    for (auto d : y.shape) {
      if (d != 1) {
        perm.push_back(xd[k++]);
      } else if (!rest.empty()) {
        perm.push_back(rest.back());
        rest.pop_back();
      } else {
        perm.push_back(static_cast<int>(base.size()));
        base.push_back(1);
      }
    }
    // A permutation only when every base dim is used once.
    std::vector<int> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    if (sorted == identity(base.size())) {
      y.value = x.value, y.perm = perm, y.base = base;
      define(n.output(0), std::move(y));
      return;
    }
  }
  y.value = need(x, {}, true);
  define(n.output(0), std::move(y));
}

// --- casts and int8 quantisation ----------------------------------------------------------------

Sym Importer::kernel_input(const onnx::NodeProto& n) const {
  Sym x = lazy_in(n, 0);  // an uncomputed Expand is computed by need()
  if (x.quant == 1) throw Fail{"reads the uint8 output of QuantizeLinear (DequantizeLinear first)"};
  if (x.quant == 2) {
    if (b_.dtype() != DType::s8)
      throw Fail{
          "its input is quantised to int8 as tierbench's int8 tiers quantise "
          "(QuantizeLinear / DequantizeLinear): import the model with --dtype int8"};
    x.quant = 0;  // the int8 kernel's own quantize computes exactly that (static: with the
                  // scale fix_input_quant gives it)
  }
  return x;
}

void Importer::fix_input_quant(const std::string& name, const Sym& x) {
  if (b_.dtype() == DType::s8 && x.sq_scale > 0 &&
      !b_.fix_quantize(name + ".quant", x.sq_scale, x.sq_zp))
    throw Fail{"internal: no input quantize for " + name};
}

// QuantizeLinear(x, scale, zp) with scale and zero point computed from x as tierbench's quantize
// does (and its exporter writes): lo = min(min x, 0), hi = max(max x, 0), nonneg = lo >= 0,
// range = nonneg ? hi : max(-lo, hi), scale = range > 0 ? range / (nonneg ? 255 : 127) : 1,
// zp = nonneg ? 0 : 128. The nodes computing scale and zero point are absorbed.
void Importer::match_dynamic_quant() {
  const auto in = [&](int p, int k) -> std::string {
    return p >= 0 && k < node(p).input_size() ? node(p).input(k) : std::string();
  };
  const auto prod = [&](const std::string& t, const char* op, int inputs) -> int {
    const auto it = producer_.find(t);
    if (t.empty() || it == producer_.end()) return -1;
    const auto& n = node(it->second);
    return n.op_type() == op && n.input_size() == inputs && n.domain().empty() ? it->second : -1;
  };
  const auto is = [&](const std::string& t, double v) {
    const auto it = syms_.find(t);
    return it != syms_.end() && it->second.c && it->second.c->numel() == 1 &&
           it->second.c->at(0) == v;
  };
  for (int pos = 0; pos < static_cast<int>(order_.size()); ++pos) {
    const auto& q = node(pos);
    if (q.op_type() != "QuantizeLinear" || q.input_size() != 3) continue;
    const std::string& x = q.input(0);
    const int ws = prod(q.input(1), "Where", 3);
    if (ws < 0 || !is(in(ws, 2), 1)) continue;
    const int gt = prod(in(ws, 0), "Greater", 2), dv = prod(in(ws, 1), "Div", 2);
    if (gt < 0 || dv < 0 || !is(in(gt, 1), 0) || in(gt, 0) != in(dv, 0)) continue;
    const std::string range = in(dv, 0);
    const int wd = prod(in(dv, 1), "Where", 3);
    if (wd < 0 || !is(in(wd, 1), 255) || !is(in(wd, 2), 127)) continue;
    const std::string nonneg = in(wd, 0);
    const int wr = prod(range, "Where", 3);
    if (wr < 0 || in(wr, 0) != nonneg) continue;
    const std::string hi = in(wr, 1);
    const int mx = prod(in(wr, 2), "Max", 2);
    if (mx < 0 || in(mx, 1) != hi) continue;
    const int ng = prod(in(mx, 0), "Neg", 1);
    const std::string lo = in(ng, 0);
    const int ge = prod(nonneg, "GreaterOrEqual", 2);
    if (ng < 0 || ge < 0 || in(ge, 0) != lo || !is(in(ge, 1), 0)) continue;
    const int mn = prod(lo, "Min", 2), mh = prod(hi, "Max", 2);
    if (mn < 0 || mh < 0 || !is(in(mn, 1), 0) || !is(in(mh, 1), 0)) continue;
    const int rmin = prod(in(mn, 0), "ReduceMin", 1), rmax = prod(in(mh, 0), "ReduceMax", 1);
    const auto all_axes = [&](int p) {
      return p >= 0 && in(p, 0) == x && attr_i(node(p), "keepdims", 1) == 0 &&
             !find_attr(node(p), "axes");
    };
    if (!all_axes(rmin) || !all_axes(rmax)) continue;
    const int wz = prod(q.input(2), "Where", 3);
    if (wz < 0 || in(wz, 0) != nonneg || !is(in(wz, 1), 0) || !is(in(wz, 2), 128)) continue;
    const std::vector<int> nodes = {ws, gt, dv, wd, wr, mx, ng, ge, mn, mh, rmin, rmax, wz};
    // Their tensors feed only each other and the quantisers of x.
    bool closed = true;
    for (int p : nodes)
      for (const int c : consumers(node(p).output(0)))
        closed = closed && !outputs_.count(node(p).output(0)) &&
                 (std::find(nodes.begin(), nodes.end(), c) != nodes.end() ||
                  (node(c).op_type() == "QuantizeLinear" && node(c).input(0) == x) ||
                  (node(c).op_type() == "DequantizeLinear" && in(c, 1) == q.input(1)));
    if (!closed) continue;
    for (int p : nodes) absorbed_[static_cast<std::size_t>(p)] = true;
    dynq_[pos] = nodes;
  }
}

void Importer::emit_cast(const onnx::NodeProto& n) {
  check_attrs(n, {"to", "saturate"});
  const Sym& x = runtime_in(n, 0);
  if (x.quant) throw Fail{"Cast of a tensor quantised to int8"};
  const auto to = attr_i(n, "to", 0);
  if ((to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::BFLOAT16) && x.is_float) {
    // A bf16 value stands for both (bf16 values are exact in f32); a cast to bf16 rounds, as
    // the bf16 tiers' casts before their kernels do.
    Sym y = x;
    if (to == onnx::TensorProto::BFLOAT16 && b_.value(x.value).dtype == DType::f32)
      y.value = b_.host(layer_name(n), HostOp::cast, {Operand::v(x.value)}, DType::bf16,
                        b_.value(x.value).shape);
    define(n.output(0), std::move(y));
    return;
  }
  if ((to == onnx::TensorProto::INT32 || to == onnx::TensorProto::INT64) && !x.is_float) {
    define(n.output(0), x);
    return;
  }
  throw Fail{std::string("Cast of a computed ") + (x.is_float ? "float" : "integer") +
             " tensor to " +
             onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(to)) +
             " (computed casts: float <-> bfloat16, integer ids to int32 / int64)"};
}

// QuantizeLinear / DequantizeLinear of computed tensors: tierbench's dynamic quantisation only.
void Importer::emit_quant(int pos) {
  const auto& n = node(pos);
  if (n.op_type() == "QuantizeLinear") {
    check_attrs(n, {"axis", "saturate"});
    if (!dynq_.count(pos)) return emit_static_quant(pos);
    Sym y = runtime_in(n, 0);
    if (!y.is_float || y.quant) throw Fail{"QuantizeLinear of a tensor that is not float"};
    y.quant = 1, y.is_float = false, y.qscale = n.input(1), y.qzp = n.input(2);
    y.value = f32_value(y.value);
    define(n.output(0), std::move(y));
    return;
  }
  check_attrs(n, {"axis", "block_size"});
  if (runtime_in(n, 0).sq_scale > 0) return emit_static_quant(pos);
  Sym y = runtime_in(n, 0);
  if (y.quant != 1 || !has(n, 2) || n.input(1) != y.qscale || n.input(2) != y.qzp)
    throw Fail{
        "DequantizeLinear of a computed tensor other than with the scale and zero point of its "
        "own dynamic QuantizeLinear"};
  y.quant = 2, y.is_float = true;
  define(n.output(0), std::move(y));
}

// Static quantisation: QuantizeLinear(x, scale, zero point) with a constant per-tensor scale and
// a uint8 or int8 zero point (int8 values are u8 values less 128), and its DequantizeLinear with
// the same constants. In an int8 graph, a pair whose output only Conv, Gemm and MatMul layers
// read is their input quantize with that fixed scale (Sym quant 2); otherwise the pair is a host
// fake quantisation (the value quantised and back, exactly as the file computes it), which an
// int8 kernel reading it quantises again with the same scale, losing nothing.
void Importer::emit_static_quant(int pos) {
  const auto& n = node(pos);
  const auto params = [&]() -> std::pair<float, int> {
    const Const* sc = const_in(n, 1);
    if (!sc || !sc->is_float)
      throw Fail{
          "a scale that is neither constant nor tierbench's dynamic per-tensor quantisation of "
          "its input"};
    if (sc->numel() != 1)
      throw Fail{"an activation scale of " + std::to_string(sc->numel()) +
                 " values (per-axis or blocked); activations are quantised per tensor"};
    const float scale = sc->f.at(0);
    if (!(scale > 0) || !std::isfinite(scale) || !std::isnormal(scale))
      throw Fail{"scale " + std::to_string(scale) + " (a finite normal scale > 0)"};
    if (!has(n, 2)) return {scale, 0};  // uint8, zero point 0
    const Const* z = const_in(n, 2);
    if (!z || z->is_float || z->numel() != 1)
      throw Fail{"zero point '" + n.input(2) + "' is not one constant integer"};
    const auto v = static_cast<int>(z->i.at(0));
    if (z->elem == onnx::TensorProto::UINT8 && v >= 0 && v <= 255) return {scale, v};
    if (z->elem == onnx::TensorProto::INT8 && v >= -128 && v <= 127) return {scale, v + 128};
    throw Fail{"zero point of type " +
               onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(z->elem)) +
               " (activations: uint8 or int8)"};
  };
  const auto [scale, zp] = params();
  Sym x = runtime_in(n, 0);
  if (n.op_type() == "QuantizeLinear") {
    if (!x.is_float || x.quant) throw Fail{"QuantizeLinear of a tensor that is not float"};
    x.quant = 1, x.is_float = false, x.sq_scale = scale, x.sq_zp = zp;
    x.qscale.clear(), x.qzp.clear();
    x.value = f32_value(x.value);
    define(n.output(0), std::move(x));
    return;
  }
  if (x.quant != 1 || x.sq_scale != scale || x.sq_zp != zp)
    throw Fail{"DequantizeLinear with another scale or zero point than its QuantizeLinear"};
  const std::string& out = n.output(0);
  bool kernels_only = b_.dtype() == DType::s8 && !outputs_.count(out) && !consumers(out).empty();
  const auto constant = [&](const std::string& t) {  // a constant, or int8 ones dequantised
    if (peek_const(t)) return true;
    const auto pr = producer_.find(t);
    return pr != producer_.end() && node(pr->second).op_type() == "DequantizeLinear" &&
           node(pr->second).input_size() > 0 && peek_const(node(pr->second).input(0));
  };
  for (const int c : consumers(out)) {
    const auto& k = node(c);
    const bool data_in = k.input_size() > 0 && k.input(0) == out &&
                         std::count(k.input().begin(), k.input().end(), out) == 1;
    // A padded Conv of a non-zero zero point runs in f32 on the fake-quantised input (emit_conv).
    const Shape pads = attr_ints(k, "pads", {});
    const bool padded = k.op_type() == "Conv" &&
                        (attr_s(k, "auto_pad", "NOTSET").starts_with("SAME") ||
                         std::any_of(pads.begin(), pads.end(), [](auto p) { return p != 0; }));
    kernels_only = kernels_only && data_in && !(padded && zp != 0) &&
                   (k.op_type() == "Conv" || k.op_type() == "Gemm" ||
                    (k.op_type() == "MatMul" && k.input_size() == 2 && constant(k.input(1))));
  }
  x.quant = kernels_only ? 2 : 0, x.is_float = true;
  if (!kernels_only) {
    x.value = b_.fake_quant(layer_name(n), x.value, scale, zp);
    ++fake_quants_;
  }
  define(out, std::move(x));
}

// DequantizeLinear of constants: folded to floats ((x - zp) * scale, per tensor or along axis);
// int8 values with zero zero points also kept as they are for an int8 kernel.
bool Importer::emit_dequant_const(const onnx::NodeProto& n) {
  for (int k = 0; k < n.input_size(); ++k)
    if (!n.input(k).empty() && !syms_.count(n.input(k))) return false;  // absorbed: computed
  const Const* x = const_in(n, 0);
  const Const* sc = const_in(n, 1);
  const Const* zp = has(n, 2) ? const_in(n, 2) : nullptr;
  if (!x || !sc || (has(n, 2) && !zp)) return false;
  check_attrs(n, {"axis", "block_size"});
  if (attr_i(n, "block_size", 0) != 0) throw Fail{"blocked quantisation (block_size)"};
  if (x->is_float || !sc->is_float) throw Fail{"DequantizeLinear of other than integer values"};
  const bool per_tensor = sc->numel() == 1 && sc->shape.size() <= 1;
  const int axis = per_tensor ? 0 : norm_axis(attr_i(n, "axis", 1), x->shape.size());
  if (!per_tensor &&
      (sc->shape.size() != 1 || sc->shape[0] != x->shape[static_cast<std::size_t>(axis)]))
    throw Fail{"scale " + shape_str(sc->shape) + " for values " + shape_str(x->shape)};
  if (zp && (zp->is_float || zp->shape != sc->shape))
    throw Fail{"zero point " + shape_str(zp->shape) + " unlike the scale " + shape_str(sc->shape)};
  std::int64_t inner = 1;
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < x->shape.size(); ++d)
    inner *= x->shape[d];
  const std::int64_t along = per_tensor ? 1 : sc->numel();
  QuantWeight q;
  q.shape = x->shape, q.axis = per_tensor ? -1 : axis, q.scale = sc->f;
  bool int8 = true;
  std::vector<float> f(static_cast<std::size_t>(x->numel()));
  for (std::int64_t e = 0; e < x->numel(); ++e) {
    const std::int64_t a = per_tensor ? 0 : (e / inner) % along;
    const std::int64_t z = zp ? zp->i[static_cast<std::size_t>(a)] : 0;
    const std::int64_t v = x->i[static_cast<std::size_t>(e)];
    int8 = int8 && z == 0 && v >= -128 && v <= 127;
    f[static_cast<std::size_t>(e)] = static_cast<float>(v - z) * sc->f[static_cast<std::size_t>(a)];
    q.q.push_back(static_cast<float>(v));
  }
  if (int8) qweights_[n.output(0)] = std::move(q);
  Sym s;
  s.c = std::make_shared<Const>(Const::floats(x->shape, std::move(f)));
  s.shape = x->shape;
  define(n.output(0), std::move(s));
  return true;
}

void Importer::fill_quantized(const std::string& wname, const QuantWeight& q, std::int64_t rows,
                              std::int64_t cols, const std::vector<std::int64_t>& index) {
  const auto& ws = b_.graph().weights;
  const auto it =
      std::find_if(ws.begin(), ws.end(), [&](const auto& w) { return w.name == wname; });
  if (it == ws.end() || it->dtype != DType::s8) throw Fail{"internal: no int8 weight " + wname};
  Tensor t(DType::s8, it->shape);
  if (t.numel() != rows * cols || static_cast<std::int64_t>(index.size()) != t.numel())
    throw Fail{"internal: int8 weight " + wname + " of another size"};
  std::int64_t inner = 1;
  if (q.axis >= 0)
    for (std::size_t d = static_cast<std::size_t>(q.axis) + 1; d < q.shape.size(); ++d)
      inner *= q.shape[d];
  const auto scale_of = [&](std::int64_t src) {
    const std::int64_t a =
        q.axis < 0 ? 0 : (src / inner) % static_cast<std::int64_t>(q.scale.size());
    return q.scale[static_cast<std::size_t>(a)];
  };
  std::vector<float> scale(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t e = r * cols + c, src = index[static_cast<std::size_t>(e)];
      const float s = scale_of(src);
      if (c == 0)
        scale[static_cast<std::size_t>(r)] = s;
      else if (s != scale[static_cast<std::size_t>(r)])
        throw Fail{"int8 weights quantised along axis " + std::to_string(q.axis) +
                   ", not per output channel as the int8 kernels scale them"};
      t.set(e, q.q[static_cast<std::size_t>(src)]);
    }
  for (const float s : scale)
    if (!std::isfinite(s)) throw Fail{"weight " + wname + ": a scale that is not finite"};
  wdata_[static_cast<int>(it - ws.begin())] = std::move(t);
  fill(wname + "_scale", scale);
}

void Importer::dispatch(int pos) {
  const auto& n = node(pos);
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    throw Fail{"operator domain '" + n.domain() + "' is not supported"};
  // Constants.
  if (op == "Constant") {
    const auto* a = n.attribute_size() == 1 ? &n.attribute(0) : nullptr;
    if (!a) throw Fail{"Constant without exactly one value attribute"};
    Const c;
    if (a->name() == "value")
      c = reader_.read(a->t());
    else if (a->name() == "value_float")
      c = Const::floats({}, {a->f()});
    else if (a->name() == "value_floats")
      c = Const::floats({a->floats_size()}, {a->floats().begin(), a->floats().end()});
    else if (a->name() == "value_int")
      c = Const::ints({}, {a->i()});
    else if (a->name() == "value_ints")
      c = Const::ints({a->ints_size()}, {a->ints().begin(), a->ints().end()});
    else
      throw Fail{"Constant attribute '" + a->name() + "' is not supported"};
    Sym s;
    s.shape = c.shape, s.is_float = c.is_float, s.c = std::make_shared<Const>(std::move(c));
    define(n.output(0), std::move(s));
    return;
  }
  if (op == "Shape") {
    check_attrs(n, {"start", "end"});
    const Shape& s = sym(n.input(0)).shape;
    const auto r = static_cast<std::int64_t>(s.size());
    auto clampi = [&](std::int64_t v) { return std::clamp(v < 0 ? v + r : v, std::int64_t{0}, r); };
    const std::int64_t a = clampi(attr_i(n, "start", 0)), e = clampi(attr_i(n, "end", r));
    Sym c;
    c.is_float = false;
    c.c = std::make_shared<Const>(Const::ints({std::max<std::int64_t>(0, e - a)},
                                              Shape(s.begin() + a, s.begin() + std::max(a, e))));
    c.shape = c.c->shape;
    define(n.output(0), std::move(c));
    return;
  }
  if (op == "Gather" && emit_gather_const_ids(n)) return;
  if (op == "DequantizeLinear" && emit_dequant_const(n)) return;
  // tierbench's dynamic quantisation: its scale and zero point are absorbed, never computed.
  if ((op == "QuantizeLinear" && dynq_.count(pos)) ||
      (op == "DequantizeLinear" && has(n, 0) && sym(n.input(0)).quant == 1))
    return emit_quant(pos);
  if (op == "Concat" && emit_grown_cache(n)) return;
  // A KV-cache write: its Slices were left to it.
  if (op == "Concat") {
    if (const auto kw = kv_write_at(pos)) {
      const Sym& c = sym(kw->cache);
      const Sym& x = sym(kw->x);
      if (x.c || !x.is_float)
        throw Fail{"a KV-cache write of '" + kw->x + "', not a computed float tensor"};
      if (checked_numel(x.shape, o_.max_tensor_bytes) != c.shape[0] * c.shape[2])
        throw Fail{"a KV-cache write of " + shape_str(x.shape) + " into " + shape_str(c.shape)};
      b_.host(layer_name(n), HostOp::kv_write, {Operand::v(need(x, {}, true)), Operand::v(c.value)},
              b_.value(c.value).dtype, {});
      b_.graph().layers.back().pos = kw->pos;
      define_value(n.output(0), c.value, c.shape);
      return;
    }
  }
  std::vector<const Const*> cin;
  bool all_const = n.input_size() > 0;
  for (int k = 0; k < n.input_size(); ++k) {
    if (n.input(k).empty()) {
      cin.push_back(nullptr);
      continue;
    }
    const Sym& s = sym(n.input(k));
    all_const = all_const && s.c;
    cin.push_back(s.c.get());
  }
  if (all_const) {
    auto outs = fold(n, cin, opset_);
    for (std::size_t k = 0; k < outs.size() && static_cast<int>(k) < n.output_size(); ++k) {
      Sym s;
      s.shape = outs[k].shape, s.is_float = outs[k].is_float;
      s.c = std::make_shared<Const>(std::move(outs[k]));
      define(n.output(static_cast<int>(k)), std::move(s));
    }
    return;
  }
  // Computed tensors.
  if (op == "Cast") {
    // The row a KV-cache write stores: cast there (kv_write stores in the cache's type).
    const int pc = sole_consumer(n.output(0));
    if (const auto kw = pc >= 0 ? kv_write_at(pc) : std::nullopt; kw && kw->cast == pos) return;
    return emit_cast(n);
  }
  if ((op == "Mul" || op == "Pow") && match_rmsnorm(pos)) return;
  if (op == "Mul" && match_rope(pos)) return;
  if (op == "QuantizeLinear" || op == "DequantizeLinear") return emit_quant(pos);
  if (op == "Conv" || op == "Gemm" || (op == "MatMul" && const_in(n, 1))) {
    const Chain c = chain(pos);
    for (int p : c.nodes) absorbed_[static_cast<std::size_t>(p)] = true;
    if (c.nodes.empty())
      emit_chain(c);
    else
      pending_[c.nodes.back()] = c;  // emitted at its last node
    return;
  }
  if (op == "MatMul") {
    if (!match_attention(pos)) emit_matmul_batched(n);
    return;
  }
  if (op == "Relu" || op == "Clip" || op == "Gelu" || op == "Sigmoid" || op == "Div" ||
      op == "Mul") {
    if (auto m = match_act_at(pos)) {
      for (int p : m->nodes) absorbed_[static_cast<std::size_t>(p)] = true;
      emit_activation(layer_name(n), runtime_in(n, 0), m->act, m->out);
      return;
    }
    if (op != "Div" && op != "Mul")
      throw Fail{
          "outside the activation patterns (Relu, Clip(0, 6), Gelu, x * Sigmoid(x), the "
          "erf GELU)"};
  }
  if (op == "Add" || op == "Mul" || op == "Sub" || op == "Div" || op == "Neg")
    return emit_binary(n);
  if (op == "Softmax") {
    check_attrs(n, {"axis"});
    const Sym& x = runtime_in(n, 0);
    if (norm_axis(attr_i(n, "axis", opset_ >= 13 ? -1 : 1), x.shape.size()) !=
        static_cast<int>(x.shape.size()) - 1)
      throw Fail{"Softmax over an axis other than the last"};
    const std::int64_t c = x.shape.back(), m = checked_numel(x.shape, o_.max_tensor_bytes) / c;
    define_value(n.output(0), b_.row(layer_name(n), RowKind::softmax, need(x), m, c), x.shape);
    return;
  }
  if (op == "LayerNormalization") {
    check_attrs(n, {"axis", "epsilon", "stash_type"});
    const Sym& x = runtime_in(n, 0);
    if (norm_axis(attr_i(n, "axis", -1), x.shape.size()) != static_cast<int>(x.shape.size()) - 1)
      throw Fail{"LayerNormalization over more than the last axis"};
    const double eps = attr_f(n, "epsilon", 1e-5f);
    if (eps > 1e-5 * (1 + 1e-6))
      throw Fail{"epsilon " + std::to_string(eps) + ": the layernorm kernel uses 1e-5"};
    if (!near(eps, 1e-5, 1e-3))
      sum_.notes.push_back("LayerNormalization '" + n.name() + "': epsilon " + std::to_string(eps) +
                           " computed as 1e-5");
    const std::int64_t c = x.shape.back(), m = checked_numel(x.shape, o_.max_tensor_bytes) / c;
    const Const& g = need_const(n, 1, "scale");
    std::vector<float> beta(static_cast<std::size_t>(c), 0);
    if (has(n, 2)) beta = broadcast_to(need_const(n, 2, "bias"), {c}).f;
    const std::string name = layer_name(n);
    const int v = b_.row(name, RowKind::layernorm, need(x), m, c);
    fill(name + ".weight", broadcast_to(g, {c}).f);
    fill(name + ".bias", beta);
    if (n.output_size() > 1)
      for (int k = 1; k < n.output_size(); ++k)
        if (!n.output(k).empty() && !consumers(n.output(k)).empty())
          throw Fail{"the mean / inverse-std outputs are not supported"};
    define_value(n.output(0), v, x.shape);
    return;
  }
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") return emit_pool(n);
  if (op == "ReduceMean") return emit_reduce_mean(pos);
  if (op == "Transpose") {
    check_attrs(n, {"perm"});
    if (const Sym& lz = lazy_in(n, 0); lz.rep && !lz.rep->swapped) {
      std::vector<int> swap = identity(lz.shape.size());
      std::swap(swap[swap.size() - 1], swap[swap.size() - 2]);
      if (lz.shape.size() == lz.rep->src.shape.size() && perm_of(n, lz.shape.size()) == swap) {
        Sym y = lz;  // K^T of grouped-query heads: still uncomputed
        auto rp = std::make_shared<Repeat>(*lz.rep);
        rp->swapped = true;
        y.rep = std::move(rp);
        std::swap(y.shape[swap.size() - 1], y.shape[swap.size() - 2]);
        define(n.output(0), std::move(y));
        return;
      }
    }
    const Sym& x = runtime_in(n, 0);
    Sym y = transposed(x, perm_of(n, x.shape.size()));
    // Before a Reshape (heads split or merged) the permute runs here, where the tiers run it;
    // otherwise the layout stays lazy (an NCHW view, K^T read by attention).
    int c = sole_consumer(n.output(0));
    while (c >= 0 && node(c).op_type() == "Cast")  // bf16 exports: cast between the two
      c = sole_consumer(node(c).output(0));
    if (c >= 0 && (node(c).op_type() == "Reshape" || node(c).op_type() == "Flatten")) {
      Sym plain = y;
      plain.quant = 0;
      y.value = need(plain, {}, true), y.perm.clear(), y.base.clear();
    }
    define(n.output(0), std::move(y));
    return;
  }
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      op == "Identity" || op == "Dropout")
    return emit_shape_op(n);
  if (op == "Gather") return emit_gather(n);
  if (op == "Concat") return emit_concat(n);
  if (op == "Slice") {
    const int pc = sole_consumer(n.output(0));
    if (const auto kw = pc >= 0 ? kv_write_at(pc) : std::nullopt;
        kw && std::find(kw->slices.begin(), kw->slices.end(), pos) != kw->slices.end())
      return;  // read by the KV-cache write (at the Concat)
    if (match_rope(pos)) return;
    return emit_slice(n);
  }
  if (op == "Split") return emit_split(n);
  if (op == "Expand") return emit_expand(pos);
  if (op == "Mod") {  // ids modulo the rows of the table every consumer gathers from
    const Sym& ids = runtime_in(n, 0);
    const Const& v = need_const(n, 1, "divisor");
    const auto& cons = consumers(n.output(0));
    const bool all_embed = !cons.empty() && !outputs_.count(n.output(0)) && v.numel() == 1 &&
                           std::all_of(cons.begin(), cons.end(), [&](int p) {
                             const auto& g = node(p);
                             const Const* t = const_in(g, 0);
                             return g.op_type() == "Gather" && g.input(1) == n.output(0) && t &&
                                    (t->shape.size() == 2 || t->shape.size() == 1) &&
                                    t->shape[0] == v.at(0);
                           });
    if (!all_embed) throw Fail{"Mod other than of ids before a table lookup"};
    define(n.output(0), ids);
    return;
  }
  if (op == "BatchNormalization") throw Fail{"BatchNormalization not after a Conv"};
  throw Fail{"no import of this op (on computed tensors)"};
}

void Importer::emit_output() {
  // The outputs after the first may be the grown caches (present.*): the states themselves.
  int others = 0;
  for (int k = 1; k < gp().output_size(); ++k) others += !present_.count(gp().output(k).name());
  if (gp().output_size() < 1 || others > 0)
    throw Fail{"the model has " + std::to_string(gp().output_size()) +
               " outputs; tierbench graphs have one (besides the present KV caches of a decode "
               "step)"};
  const std::string& name = gp().output(0).name();
  if (present_.count(name)) throw Fail{"the first output '" + name + "' is a KV cache"};
  const Sym& s = sym(name);
  if (s.c) throw Fail{"the output '" + name + "' is a constant"};
  int v = need(s);
  if (v == b_.graph().input) throw Fail{"the output is the input"};
  sum_.output_name = name;
  b_.graph().output = v;
}

Result<ImportedModel> Importer::run() {
  for (const auto& os : m_.opset_import())
    if (os.domain().empty() || os.domain() == "ai.onnx") opset_ = static_cast<int>(os.version());
  if (opset_ < 11)
    return make_error("opset " + std::to_string(opset_) + ": tierbench imports opset 11 and later");
  sum_.opset = opset_;
  sum_.producer =
      m_.producer_name() + (m_.producer_version().empty() ? "" : " " + m_.producer_version());
  std::int64_t weight_bytes = 0;
  for (const auto& t : gp().initializer()) {
    if (inits_.count(t.name())) return make_error("initializer '" + t.name() + "' is given twice");
    inits_[t.name()] = &t;
    try {
      Const c = reader_.read(t);
      weight_bytes += c.numel() * 4;
      if (weight_bytes > o_.max_weight_bytes)
        return make_error("initializers exceed " + std::to_string(o_.max_weight_bytes) + " bytes");
      Sym s;
      s.shape = c.shape, s.is_float = c.is_float, s.c = std::make_shared<Const>(std::move(c));
      syms_[t.name()] = std::move(s);
    } catch (const Fail& f) {
      return make_error("initializer '" + t.name() + "': " + f.what);
    }
  }
  try {
    sort_nodes();
    for (const auto& out : gp().output()) outputs_.insert(out.name());
    declare_input();
    match_dynamic_quant();
  } catch (const Fail& f) {
    return make_error(f.what);
  } catch (const std::exception& e) {
    return make_error(std::string("malformed graph (") + e.what() + ")");
  }
  for (const auto& n : gp().node()) sum_.op_counts[n.op_type()]++;
  for (int pos = 0; pos < static_cast<int>(order_.size()); ++pos) {
    const auto it = pending_.find(pos);
    const int at = it != pending_.end() ? it->second.head : pos;
    if (it == pending_.end() && absorbed_[static_cast<std::size_t>(pos)]) continue;
    try {
      if (it != pending_.end())
        emit_chain(it->second);
      else
        dispatch(pos);
    } catch (const Fail& f) {
      const auto& n = node(at);
      return make_error("node '" + n.name() + "' (" + n.op_type() + "): " + f.what);
    } catch (const std::exception& e) {  // an index the file's data puts out of range
      const auto& n = node(at);
      return make_error("node '" + n.name() + "' (" + n.op_type() + "): malformed (" + e.what() +
                        ")");
    }
  }
  if (fake_quants_ > 0)
    sum_.notes.push_back(
        std::to_string(fake_quants_) +
        " static QuantizeLinear / DequantizeLinear pair(s) run as host fake quantisation" +
        (b_.dtype() == DType::s8
             ? std::string(" (read by other ops than Conv, Gemm and MatMul)")
             : std::string("; --dtype int8 runs int8 kernels with the file's scales")));
  try {
    emit_output();
  } catch (const Fail& f) {
    return make_error(f.what);
  }
  ImportedModel im;
  im.graph = std::move(b_.graph());
  if (auto v = im.graph.verify(); !v) return make_error("imported graph: " + v.error().message);
  for (std::size_t w = 0; w < im.graph.weights.size(); ++w) {
    auto it = wdata_.find(static_cast<int>(w));
    if (it == wdata_.end())
      return make_error("internal: weight " + im.graph.weights[w].name + " unfilled");
    im.weights.push_back(std::move(it->second));
  }
  return im;
}

std::string hex(const unsigned char* p, unsigned n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) s += d[p[i] >> 4], s += d[p[i] & 15];
  return s;
}

}  // namespace

Result<ImportedModel> import_onnx_bytes(const std::string& bytes, const std::string& dir,
                                        const OnnxImportOptions& o) {
  if (o.dtype != DType::f32 && o.dtype != DType::bf16 && o.dtype != DType::s8)
    return make_error("import: dtype " + std::string(dtype_name(o.dtype)) +
                      " (valid: f32, bf16, int8)");
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes))
    return make_error(
        "not an ONNX model (the protobuf does not parse: truncated or another "
        "format)");
  if (!m.has_graph()) return make_error("the ONNX model has no graph");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
  OnnxImportSummary sum;
  TensorReader reader(dir, o.max_tensor_bytes,
                      [&](const void* p, std::size_t n) { EVP_DigestUpdate(ctx.get(), p, n); });
  Importer imp(m, o, reader, sum);
  auto r = imp.run();
  if (!r) return r.error();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  sum.hash = hex(md, len);
  sum.name = "onnx-" + sum.hash.substr(0, 12);
  sum.files = reader.files();
  sum.file_bytes = static_cast<std::int64_t>(bytes.size()) + reader.external_bytes();
  r->graph.tier = sum.name;
  r->graph.variant = shape_str(sum.input_shape);
  r->summary = std::move(sum);
  return r;
}

Result<ImportedModel> import_onnx(const std::string& path, const OnnxImportOptions& o) {
  // Protobuf parses at most INT_MAX bytes: a larger file is refused by its size, before a byte is
  // read (a model that large keeps its weights as external data, which are read by tensor).
  constexpr std::uintmax_t kMaxFileBytes = std::numeric_limits<int>::max();
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error("cannot read " + path + ": " + ec.message());
  if (size > kMaxFileBytes)
    return make_error(
        path + ": " + std::to_string(size) + " bytes, more than the " +
        std::to_string(kMaxFileBytes) +
        " an ONNX file may have (protobuf's limit; keep the weights as external data)");
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error("cannot read " + path);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  f.read(bytes.data(), static_cast<std::streamsize>(size));
  if (f.gcount() != static_cast<std::streamsize>(size)) return make_error("cannot read " + path);
  auto r = import_onnx_bytes(bytes, std::filesystem::path(path).parent_path().string(), o);
  if (!r) return make_error(path + ": " + r.error().message);
  r->summary.files.insert(r->summary.files.begin(), path);
  return r;
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string r;
  for (auto d : s) r += (r.empty() ? "" : "x") + std::to_string(d);
  return r.empty() ? "scalar" : r;
}

Result<std::vector<std::int64_t>> parse_shape(const std::string& s) {
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, 'x')) {
    if (part.empty() || part.size() > 12 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return make_error("shape '" + s + "': dimensions are positive integers joined by x");
    out.push_back(std::stoll(part));
    if (out.back() <= 0) return make_error("shape '" + s + "': dimension 0");
  }
  if (out.empty()) return make_error("empty shape");
  return out;
}

Result<std::pair<std::string, std::vector<std::int64_t>>> parse_input_binding(
    const std::string& s) {
  const auto eq = s.rfind('=');
  if (eq == std::string::npos || eq == 0)
    return make_error("'" + s + "': expected NAME=SHAPE, e.g. input=1x3x224x224");
  auto shape = parse_shape(s.substr(eq + 1));
  if (!shape) return shape.error();
  return std::make_pair(s.substr(0, eq), std::move(*shape));
}

Result<void> drop_file_cache(const std::vector<std::string>& files) {
  for (const auto& p : files) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error("cannot open " + p);
    ::fdatasync(fd);
    const int e = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
    if (e != 0) return make_error("posix_fadvise " + p + " failed");
  }
  return {};
}

}  // namespace tb::workloads

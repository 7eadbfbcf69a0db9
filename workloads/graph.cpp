#include <algorithm>
#include <cmath>
#include <numeric>

#include "builder.h"

namespace tb::workloads {

namespace {
std::int64_t product(const std::vector<std::int64_t>& s) {
  return std::accumulate(s.begin(), s.end(), std::int64_t{1}, std::multiplies<>());
}
}  // namespace

std::int64_t Value::numel() const {
  return product(shape);
}
std::int64_t Value::bytes() const {
  return numel() * static_cast<std::int64_t>(dtype_size(dtype));
}
std::int64_t WeightSpec::numel() const {
  return product(shape);
}
std::int64_t WeightSpec::bytes() const {
  return numel() * static_cast<std::int64_t>(dtype_size(dtype));
}

const WeightSpec* Graph::find_weight(const std::string& name) const {
  for (const auto& w : weights)
    if (w.name == name) return &w;
  return nullptr;
}

Figures Graph::figures() const {
  Figures f;
  for (const auto& w : weights) {
    f.weight_bytes += w.bytes();
    if (!w.is_scale) f.params += w.numel();
  }
  for (const auto& l : layers) {
    if (!l.problem) {
      ++f.host_layers;
      continue;
    }
    ++f.kernel_layers;
    const Problem& p = *l.problem;
    if (p.as<GemmDesc>() || p.as<ConvDesc>() || p.as<AttentionDesc>()) f.macs += p.flops() / 2;
  }
  // Liveness: a value lives from the layer that writes it (the input: from the start) to its
  // last reader (the output: to the end). States and constants live throughout.
  const int n = static_cast<int>(layers.size());
  std::vector<int> first(values.size(), n), last(values.size(), -1);
  for (std::size_t v = 0; v < values.size(); ++v) {
    if (values[v].kind == ValueKind::state || values[v].kind == ValueKind::constant)
      f.state_bytes += values[v].bytes();
    if (values[v].kind == ValueKind::input) first[v] = 0, last[v] = 0;
  }
  for (int i = 0; i < n; ++i) {
    const Layer& l = layers[static_cast<std::size_t>(i)];
    for (const auto& o : l.in)
      if (o.kind == Operand::value) last[static_cast<std::size_t>(o.index)] = i;
    const auto out = static_cast<std::size_t>(l.out);
    first[out] = std::min(first[out], i);
    last[out] = std::max(last[out], i);
  }
  if (output >= 0) last[static_cast<std::size_t>(output)] = n - 1;
  for (int i = 0; i < n; ++i) {
    std::int64_t live = 0;
    for (std::size_t v = 0; v < values.size(); ++v) {
      const auto k = values[v].kind;
      if (k != ValueKind::activation && k != ValueKind::input) continue;
      if (first[v] <= i && last[v] >= i) live += values[v].bytes();
    }
    f.peak_activation_bytes = std::max(f.peak_activation_bytes, live);
  }
  return f;
}

namespace {

// A host concat or slice reads and writes only inside its operands: checked before anything
// runs it (an imported file sets these numbers). A concat may copy weights (constant parts), a
// slice only a value.
Result<void> verify_copy(const std::vector<Value>& values, const std::vector<WeightSpec>& weights,
                         const Layer& l, const std::string& where) {
  const auto& ov = values.at(static_cast<std::size_t>(l.out));
  const std::int64_t out = ov.numel();
  std::int64_t sum = 0;
  for (const auto& o : l.in) {
    if (o.kind != Operand::value && (o.kind != Operand::weight || l.host != HostOp::concat))
      return make_error(where + "copies a weight");
    const auto idx = static_cast<std::size_t>(o.index);
    const DType dt = o.kind == Operand::value ? values.at(idx).dtype : weights.at(idx).dtype;
    const std::int64_t n =
        o.kind == Operand::value ? values.at(idx).numel() : weights.at(idx).numel();
    if (dt != ov.dtype) return make_error(where + "mixes dtypes");
    if (l.outer < 1 || n % l.outer) return make_error(where + "rows do not divide");
    sum += n;
  }
  if (l.host == HostOp::concat) {
    if (l.in.empty() || sum != out) return make_error(where + "concat sizes do not add up");
    return {};
  }
  const std::int64_t row = l.outer * l.inner;
  if (l.in.size() != 1 || l.inner < 1 || sum % row || out % row || l.step == 0)
    return make_error(where + "slice sizes do not divide");
  const std::int64_t d = sum / row, cnt = out / row;
  if (cnt > 1 && (l.step > d || l.step < -d)) return make_error(where + "slice step too large");
  const std::int64_t last = l.start + (cnt - 1) * l.step;
  if (cnt < 1 || l.start < 0 || l.start >= d || last < 0 || last >= d)
    return make_error(where + "slice rows outside the input");
  return {};
}

}  // namespace

Result<void> Graph::verify() const {
  std::vector<bool> written(values.size(), false);
  for (std::size_t v = 0; v < values.size(); ++v)
    written[v] = values[v].kind != ValueKind::activation;
  const auto operand_info = [&](const Operand& o, DType& dt, std::int64_t& numel) {
    if (o.kind == Operand::weight) {
      const auto& w = weights.at(static_cast<std::size_t>(o.index));
      dt = w.dtype, numel = w.numel();
    } else {
      const auto& v = values.at(static_cast<std::size_t>(o.index));
      dt = v.dtype, numel = v.numel();
    }
  };
  for (const auto& l : layers) {
    const std::string where = tier + ": layer " + l.name + ": ";
    for (const auto& o : l.in)
      if (o.kind == Operand::value && !written.at(static_cast<std::size_t>(o.index)))
        return make_error(where + "reads " + values[static_cast<std::size_t>(o.index)].name +
                          " before it is written");
    if (l.problem) {
      const auto specs = l.problem->inputs();
      if (specs.size() != l.in.size())
        return make_error(where + "has " + std::to_string(l.in.size()) + " operands, " +
                          l.problem->str() + " takes " + std::to_string(specs.size()));
      for (std::size_t i = 0; i < specs.size(); ++i) {
        DType dt;
        std::int64_t numel;
        operand_info(l.in[i], dt, numel);
        if (dt != specs[i].dtype || numel != spec_numel(specs[i]))
          return make_error(where + "operand " + specs[i].name + " is " +
                            std::string(dtype_name(dt)) + " x" + std::to_string(numel) +
                            ", expected " + std::string(dtype_name(specs[i].dtype)) + " x" +
                            std::to_string(spec_numel(specs[i])));
      }
      const auto outs = l.problem->outputs();
      const auto& ov = values.at(static_cast<std::size_t>(l.out));
      if (outs.size() != 1 || ov.dtype != outs[0].dtype || ov.numel() != spec_numel(outs[0]))
        return make_error(where + "output value does not match " + l.problem->str());
    }
    if (l.host == HostOp::concat || l.host == HostOp::slice)
      if (auto r = verify_copy(values, weights, l, where); !r) return r;
    if (l.host == HostOp::quantize || l.host == HostOp::fake_quant) {
      // A static scale and zero point come from a file: checked before anything runs them.
      const bool fixed = l.qscale > 0;
      if (!(l.qscale == 0 || (fixed && std::isfinite(l.qscale))) || l.qzp < 0 || l.qzp > 255 ||
          (l.host == HostOp::fake_quant && !fixed))
        return make_error(where + "quantisation scale " + std::to_string(l.qscale) +
                          " and zero point " + std::to_string(l.qzp) +
                          " (a finite scale > 0, a zero point in 0..255)");
      if (l.host == HostOp::fake_quant) {
        DType dt;
        std::int64_t numel;
        operand_info(l.in.at(0), dt, numel);
        const auto& ov = values.at(static_cast<std::size_t>(l.out));
        if (dt != DType::f32 || ov.dtype != DType::f32 || numel != ov.numel())
          return make_error(where + "fake quantisation of other than f32 into f32 alike");
      }
    }
    written.at(static_cast<std::size_t>(l.out)) = true;
  }
  if (output < 0 || !written.at(static_cast<std::size_t>(output)))
    return make_error(tier + ": the output is never written");
  return {};
}

// --- Builder ------------------------------------------------------------------------------------

Builder::Builder(std::string tier, std::string variant, DType dtype) {
  g_.tier = std::move(tier);
  g_.variant = std::move(variant);
  g_.dtype = dtype;
}

int Builder::input(const std::string& name, DType dt, std::vector<std::int64_t> shape) {
  g_.values.push_back({name, dt, std::move(shape), ValueKind::input});
  g_.input = static_cast<int>(g_.values.size()) - 1;
  return g_.input;
}

int Builder::state(const std::string& name, DType dt, std::vector<std::int64_t> shape) {
  g_.values.push_back({name, dt, std::move(shape), ValueKind::state});
  return static_cast<int>(g_.values.size()) - 1;
}

int Builder::constant(const std::string& name, DType dt, std::vector<std::int64_t> shape,
                      ConstKind kind, std::int64_t pos0, double theta) {
  Value v{name, dt, std::move(shape), ValueKind::constant, kind};
  v.pos0 = pos0;
  v.rope_theta = theta;
  g_.values.push_back(std::move(v));
  return static_cast<int>(g_.values.size()) - 1;
}

int Builder::weight(const std::string& name, DType dt, std::vector<std::int64_t> shape, Init init,
                    bool is_scale) {
  for (std::size_t i = 0; i < g_.weights.size(); ++i)
    if (g_.weights[i].name == name) return static_cast<int>(i);
  WeightSpec w{name, dt, std::move(shape), init};
  w.is_scale = is_scale;
  g_.weights.push_back(std::move(w));
  return static_cast<int>(g_.weights.size()) - 1;
}

int Builder::kernel(const std::string& name, Problem p, std::vector<Operand> in) {
  const auto outs = p.outputs();
  g_.values.push_back({name, outs.at(0).dtype, outs.at(0).shape, ValueKind::activation});
  Layer l;
  l.name = name;
  l.problem = std::move(p);
  l.in = std::move(in);
  l.out = static_cast<int>(g_.values.size()) - 1;
  g_.layers.push_back(std::move(l));
  return g_.layers.back().out;
}

int Builder::host(const std::string& name, HostOp op, std::vector<Operand> in, DType out_dt,
                  std::vector<std::int64_t> out_shape, Activation act) {
  int out;
  if (op == HostOp::kv_write) {
    out = in.at(1).index;  // writes the state in place
  } else {
    g_.values.push_back({name, out_dt, std::move(out_shape), ValueKind::activation});
    out = static_cast<int>(g_.values.size()) - 1;
  }
  Layer l;
  l.name = name;
  l.host = op;
  l.act = act;
  l.in = std::move(in);
  l.out = out;
  g_.layers.push_back(std::move(l));
  return out;
}

int Builder::concat(const std::string& name, std::vector<Operand> xs, std::int64_t outer,
                    std::vector<std::int64_t> shape) {
  const Operand& x0 = xs.at(0);
  const DType dt = x0.kind == Operand::weight
                       ? g_.weights.at(static_cast<std::size_t>(x0.index)).dtype
                       : value(x0.index).dtype;
  const int out = host(name, HostOp::concat, std::move(xs), dt, std::move(shape));
  g_.layers.back().outer = outer;
  return out;
}

int Builder::concat(const std::string& name, const std::vector<int>& xs, std::int64_t outer,
                    std::vector<std::int64_t> shape) {
  std::vector<Operand> in;
  for (int x : xs) in.push_back(Operand::v(x));
  return concat(name, std::move(in), outer, std::move(shape));
}

int Builder::slice(const std::string& name, int x, std::int64_t outer, std::int64_t inner,
                   std::int64_t start, std::int64_t step, std::vector<std::int64_t> shape) {
  const int out = host(name, HostOp::slice, {Operand::v(x)}, value(x).dtype, std::move(shape));
  auto& l = g_.layers.back();
  l.outer = outer, l.inner = inner, l.start = start, l.step = step;
  return out;
}

Init Builder::uniform_for(std::int64_t fan_in, Activation act, double gain) const {
  // Variance-preserving uniform init: He (gain sqrt 2) before ReLU-like activations, LeCun else.
  const double a = act == Activation::none || act == Activation::gelu ? 1.0 : 2.0;
  Init i;
  i.bound = gain * std::sqrt(3.0 * a / static_cast<double>(fan_in));
  return i;
}

int Builder::to_kernel_input(const std::string& name, int x) {
  if (g_.dtype == DType::bf16 && value(x).dtype == DType::f32)
    return host(name + ".cast", HostOp::cast, {Operand::v(x)}, DType::bf16, value(x).shape);
  return x;
}

namespace {
Init constant_init(double v) {
  Init i;
  i.kind = Init::constant;
  i.value = v;
  return i;
}
Init bias_init() {
  Init i;
  i.bound = 0.05;
  return i;
}
}  // namespace

bool Builder::fix_quantize(const std::string& layer, float scale, int zp) {
  for (auto& l : g_.layers)
    if (l.name == layer && l.host == HostOp::quantize) {
      l.qscale = scale, l.qzp = zp;
      return true;
    }
  return false;
}

int Builder::fake_quant(const std::string& name, int x, float scale, int zp) {
  const int out = host(name, HostOp::fake_quant, {Operand::v(x)}, DType::f32, value(x).shape);
  g_.layers.back().qscale = scale, g_.layers.back().qzp = zp;
  return out;
}

int Builder::linear(const std::string& name, int x, std::int64_t m, std::int64_t k, std::int64_t n,
                    bool bias, Activation act, int residual, double gain,
                    const std::string& weight_name) {
  const std::string wname = weight_name.empty() ? name + ".weight" : weight_name;
  const Init init = uniform_for(k, act, gain);
  GemmDesc d;
  d.m = m, d.n = n, d.k = k, d.trans_b = true;
  Problem p{d, g_.dtype, {}};
  if (g_.dtype == DType::s8) {
    const int xq = host(name + ".quant", HostOp::quantize, {Operand::v(x)}, DType::u8, {m, k});
    const int w = weight(wname, DType::s8, {n, k}, {});
    const int s =
        weight(wname + "_scale", DType::f32, {n}, constant_init(init.bound / kWeightQMax), true);
    const int acc = kernel(name, p, {Operand::v(xq), Operand::w(w)});
    std::vector<Operand> in = {Operand::v(acc), Operand::v(xq), Operand::w(w), Operand::w(s)};
    in.push_back(bias ? Operand::w(weight(name + ".bias", DType::f32, {n}, bias_init()))
                      : Operand{});
    in.push_back(residual >= 0 ? Operand::v(residual) : Operand{});
    return host(name + ".dequant", HostOp::dequantize, in, DType::f32, {m, n}, act);
  }
  p.post = {bias, act, residual >= 0};
  const int xi = to_kernel_input(name, x);
  const int w = weight(wname, gemm_types(g_.dtype).b, {n, k}, init);
  std::vector<Operand> in = {Operand::v(xi), Operand::w(w)};
  if (bias) in.push_back(Operand::w(weight(name + ".bias", DType::f32, {n}, bias_init())));
  if (residual >= 0) in.push_back(Operand::v(residual));
  return kernel(name, p, in);
}

int Builder::conv(const std::string& name, int x, std::int64_t k, std::int64_t r,
                  std::int64_t stride, std::int64_t pad, std::int64_t groups, Activation act,
                  int residual, double gain, std::int64_t pad_end) {
  const auto& s = value(x).shape;  // [n][h][w][c]
  ConvDesc d;
  d.n = s[0], d.h = s[1], d.w = s[2], d.c = s[3], d.k = k, d.r = r, d.s = r;
  d.stride = stride, d.pad = pad, d.pad_end = pad_end, d.groups = groups;
  const std::int64_t fan_in = r * r * (d.c / groups);
  const Init init = uniform_for(fan_in, act, gain);
  const std::vector<std::int64_t> wshape = {k, r, r, d.c / groups};
  Problem p{d, g_.dtype, {}};
  if (g_.dtype == DType::s8) {
    const int xq =
        host(name + ".quant", HostOp::quantize, {Operand::v(x)}, DType::u8, value(x).shape);
    const int w = weight(name + ".weight", DType::s8, wshape, {});
    const int sc = weight(name + ".weight_scale", DType::f32, {k},
                          constant_init(init.bound / kWeightQMax), true);
    const int acc = kernel(name, p, {Operand::v(xq), Operand::w(w)});
    const int b = weight(name + ".bias", DType::f32, {k}, bias_init());
    return host(name + ".dequant", HostOp::dequantize,
                {Operand::v(acc), Operand::v(xq), Operand::w(w), Operand::w(sc), Operand::w(b),
                 residual >= 0 ? Operand::v(residual) : Operand{}},
                DType::f32, {d.n, d.oh(), d.ow(), k}, act);
  }
  p.post = {true, act, residual >= 0};
  const int xi = to_kernel_input(name, x);
  std::vector<Operand> in = {
      Operand::v(xi), Operand::w(weight(name + ".weight", gemm_types(g_.dtype).b, wshape, init)),
      Operand::w(weight(name + ".bias", DType::f32, {k}, bias_init()))};
  if (residual >= 0) in.push_back(Operand::v(residual));
  return kernel(name, p, in);
}

int Builder::row(const std::string& name, RowKind kind, int x, std::int64_t m, std::int64_t n) {
  RowDesc d;
  d.kind = kind, d.m = m, d.n = n;
  std::vector<Operand> in = {Operand::v(x)};
  if (kind != RowKind::softmax)
    in.push_back(Operand::w(weight(name + ".weight", DType::f32, {n}, constant_init(1.0))));
  if (kind == RowKind::layernorm)
    in.push_back(Operand::w(weight(name + ".bias", DType::f32, {n}, constant_init(0.0))));
  return kernel(name, Problem{d, elementwise_dtype(), {}}, in);
}

int Builder::pool(const std::string& name, PoolKind kind, int x, std::int64_t r,
                  std::int64_t stride, std::int64_t pad, std::int64_t pad_end) {
  const auto& s = value(x).shape;
  PoolDesc d;
  d.kind = kind, d.n = s[0], d.h = s[1], d.w = s[2], d.c = s[3];
  d.r = r, d.s = r, d.stride = stride, d.pad = pad, d.pad_end = pad_end;
  return kernel(name, Problem{d, elementwise_dtype(), {}}, {Operand::v(x)});
}

int Builder::binary(const std::string& name, BinaryKind kind, int a, int b) {
  BinaryDesc d;
  d.kind = kind, d.n = value(a).numel();
  return kernel(name, Problem{d, elementwise_dtype(), {}}, {Operand::v(a), Operand::v(b)});
}

int Builder::attention(const std::string& name, int q, int k, int v, AttentionDesc d) {
  const DType dt = g_.dtype == DType::bf16 ? DType::bf16 : DType::f32;
  const auto cast = [&](int x, const char* what) {
    return value(x).dtype == dt ? x
                                : host(name + "." + what + ".cast", HostOp::cast, {Operand::v(x)},
                                       dt, value(x).shape);
  };
  const int qi = cast(q, "q"), ki = cast(k, "k"), vi = cast(v, "v");
  return kernel(name, Problem{d, dt, {}}, {Operand::v(qi), Operand::v(ki), Operand::v(vi)});
}

int Builder::permute(const std::string& name, int x, std::int64_t a, std::int64_t b,
                     std::int64_t c) {
  return host(name, HostOp::permute, {Operand::v(x)}, value(x).dtype, {b, a, c});
}

Graph Builder::finish(int output) {
  g_.output = output;
  return std::move(g_);
}

std::string_view host_op_name(HostOp op) {
  switch (op) {
    case HostOp::none:
      return "none";
    case HostOp::cast:
      return "cast";
    case HostOp::quantize:
      return "quantize";
    case HostOp::dequantize:
      return "dequantize";
    case HostOp::activation:
      return "activation";
    case HostOp::permute:
      return "permute";
    case HostOp::kv_write:
      return "kv_write";
    case HostOp::last_row:
      return "last_row";
    case HostOp::embed:
      return "embed";
    case HostOp::concat:
      return "concat";
    case HostOp::slice:
      return "slice";
    case HostOp::fake_quant:
      return "fake_quant";
  }
  return "host";
}

}  // namespace tb::workloads

#include "executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

#include "reference/reference_backend.h"
#include "seeded_random.h"

namespace tb::workloads {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double unit(std::uint64_t& s) {
  return static_cast<double>(splitmix64(s) >> 11) * 0x1.0p-53;
}

float load_f(const Tensor& t, std::int64_t i) {
  if (t.dtype() == DType::f32) return t.data<float>()[i];
  if (t.dtype() == DType::bf16) return bf16_to_f32(t.data<std::uint16_t>()[i]);
  return static_cast<float>(t.at(i));
}
void store_f(Tensor& t, std::int64_t i, float v) {
  if (t.dtype() == DType::f32)
    t.data<float>()[i] = v;
  else if (t.dtype() == DType::bf16)
    t.data<std::uint16_t>()[i] = f32_to_bf16(v);
  else
    t.set(i, v);
}

// min(0, x...) and max(0, x...). Sixteen independent lanes: one running min is a dependency
// chain per element (and float min/max reductions do not vectorise without -ffast-math).
std::pair<float, float> min_max0(const float* p, std::int64_t n) {
  constexpr int kLanes = 16;
  float lo[kLanes] = {}, hi[kLanes] = {};
  const std::int64_t body = n / kLanes * kLanes;
  for (std::int64_t i = 0; i < body; i += kLanes)
    for (int j = 0; j < kLanes; ++j)
      lo[j] = std::min(lo[j], p[i + j]), hi[j] = std::max(hi[j], p[i + j]);
  for (std::int64_t i = body; i < n; ++i)
    lo[0] = std::min(lo[0], p[i]), hi[0] = std::max(hi[0], p[i]);
  return {*std::min_element(lo, lo + kLanes), *std::max_element(hi, hi + kLanes)};
}

}  // namespace

// One step of an inference: a host op, or a segment of kernel layers run as one device graph.
struct Executor::Step {
  int host_layer = -1;
  std::vector<std::size_t> kernel_layers;
  DeviceGraph graph;
  std::unique_ptr<PreparedGraph> prepared;
  std::vector<const Tensor*> inputs, constants;  // DeviceGraph::inputs / constants order
  std::vector<int> input_value;                  // graph value of each input (-1: fused params)
  std::vector<Tensor*> outputs;
  std::vector<const Tensor*> states;  // DeviceGraph::states order: KV caches kept on the device
  bool fallback = false;              // prepared by the reference backend (Fallback)
};

std::vector<Tensor> Executor::initial_values(const Graph& g, std::uint64_t seed) {
  std::vector<Tensor> values;
  std::uint64_t s = seed ^ 0x5eedull;
  values.reserve(g.values.size());
  for (const auto& v : g.values) {
    Tensor t(v.dtype, v.shape);
    const std::int64_t n = t.numel();
    if (v.kind == ValueKind::state) {  // a KV cache holding a seeded past context
      for (std::int64_t i = 0; i < n; ++i) store_f(t, i, static_cast<float>(2 * unit(s) - 1));
    } else if (v.kind == ValueKind::constant) {
      const std::int64_t rows = v.shape[0], half = n / rows;
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t i = 0; i < half; ++i) {
          const double ang =
              static_cast<double>(v.pos0 + r) *
              std::pow(v.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(2 * half));
          const std::int64_t k = r * half + i;
          switch (v.constant) {
            case ConstKind::rope_cos:
              t.data<float>()[k] = static_cast<float>(std::cos(ang));
              break;
            case ConstKind::rope_sin:
              t.data<float>()[k] = static_cast<float>(std::sin(ang));
              break;
            case ConstKind::iota_ids:
              t.data<std::int32_t>()[k] = static_cast<std::int32_t>(v.pos0 + r);
              break;
            default:
              t.data<std::int32_t>()[k] = 0;
          }
        }
    } else {
      std::memset(t.raw(), 0, t.bytes());
    }
    values.push_back(std::move(t));
  }
  return values;
}

Executor::Executor(Graph g, std::vector<Tensor> weights, std::uint64_t seed)
    : g_(std::move(g)), weights_(std::move(weights)), seed_(seed) {
  values_ = initial_values(g_, seed);
  for (std::size_t li = 0; li < g_.layers.size(); ++li)
    if (g_.layers[li].host == HostOp::kv_write || g_.layers[li].host == HostOp::permute ||
        g_.layers[li].host == HostOp::last_row || g_.layers[li].host == HostOp::slice ||
        g_.layers[li].host == HostOp::embed)
      movable_.push_back({li, g_.layers[li].host, g_.layers[li].in});
  device_state_.assign(g_.values.size(), false);
  qscale_.assign(g_.values.size(), 1.0f);
  qzp_.assign(g_.values.size(), 0);
  // Static quantisation (an imported file's scales): known before any inference.
  for (const Layer& l : g_.layers)
    if (l.host == HostOp::quantize && l.qscale > 0)
      qscale_[static_cast<std::size_t>(l.out)] = l.qscale,
      qzp_[static_cast<std::size_t>(l.out)] = l.qzp;

  colsum_.resize(g_.layers.size());
  for (std::size_t li = 0; li < g_.layers.size(); ++li) {
    const Layer& l = g_.layers[li];
    if (l.host == HostOp::dequantize) {  // zero-point compensation: row sums of the s8 weights
      const Tensor& w = weights_[static_cast<std::size_t>(l.in[2].index)];
      const std::int64_t rows = w.shape()[0], cols = w.numel() / rows;
      auto& cs = colsum_[li];
      cs.assign(static_cast<std::size_t>(rows), 0);
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
          cs[static_cast<std::size_t>(r)] += w.data<std::int8_t>()[r * cols + c];
    }
  }
  dequant_of_.assign(g_.layers.size(), -1);
  fused_.assign(g_.layers.size(), false);
  fused_dequant_.assign(g_.layers.size(), false);
  fused_a_scale_.resize(g_.layers.size());
  fused_bias_.resize(g_.layers.size());
  for (std::size_t li = 0; li < g_.layers.size(); ++li) {
    const Layer& l = g_.layers[li];
    if (l.host != HostOp::dequantize) continue;
    for (std::size_t ki = 0; ki < li; ++ki)
      if (g_.layers[ki].problem && g_.layers[ki].out == l.in[0].index)
        dequant_of_[ki] = static_cast<int>(li);
  }
  for (const auto& l : g_.layers)
    if (!l.problem)
      for (const auto& o : l.in)
        input_read_by_host_ =
            input_read_by_host_ || (o.kind == Operand::value && o.index == g_.input);
}

// The kernel problem with its dequantize layer's work as a +scales epilogue. The activation's
// zero point folds into the bias (see fused_params), so the bias is always present.
Problem Executor::fused_problem(std::size_t li) const {
  const Layer& dq = g_.layers[static_cast<std::size_t>(dequant_of_[li])];
  Problem p = *g_.layers[li].problem;
  p.post = {true, dq.act, dq.in[5].kind != Operand::none, true};
  return p;
}

// Per inference: the activation scale and the bias with the zero-point compensation folded in,
//   bias'[n] = bias[n] - zp s_a s_w[n] sum_k w[n][k]
// (y = act(s_a s_w[n] (acc - zp sum_k w) + bias) = act(acc s_a s_w[n] + bias')).
void Executor::fused_params(std::size_t li) {
  const auto dqi = static_cast<std::size_t>(dequant_of_[li]);
  const Layer& dq = g_.layers[dqi];
  const auto qin = static_cast<std::size_t>(dq.in[1].index);
  const float sa = qscale_[qin];
  const int zp = qzp_[qin];
  const float* sw = operand(dq.in[3]).data<float>();
  const float* bias = dq.in[4].kind == Operand::none ? nullptr : operand(dq.in[4]).data<float>();
  const auto& cs = colsum_[dqi];
  fused_a_scale_[li].data<float>()[0] = sa;
  float* b = fused_bias_[li].data<float>();
  for (std::size_t n = 0; n < cs.size(); ++n)
    b[n] =
        static_cast<float>((bias ? bias[n] : 0.0) - static_cast<double>(zp) * sa * sw[n] * cs[n]);
}

Executor::NodeIo Executor::node_io(std::size_t li) const {
  const Layer& l = g_.layers[li];
  NodeIo io;
  for (const auto& o : l.in) {
    io.in.push_back(&operand(o));
    io.in_value.push_back(o.kind == Operand::value ? o.index : -1);
    // Weights, and values computed once at load (RoPE tables, position ids), are uploaded once.
    io.constant.push_back(
        o.kind == Operand::weight ||
        (o.kind == Operand::value &&
         g_.values[static_cast<std::size_t>(o.index)].kind == ValueKind::constant));
  }
  // A folded quantize or cast: the node reads its f32 input and converts it (quantises with the
  // calibrated scale, or rounds to bf16).
  if (const int q = quant_of_value(io.in_value[0]); q >= 0) {
    const Layer& ql = g_.layers[static_cast<std::size_t>(q)];
    const Operand& x = ql.in[0];
    io.in[0] = &operand(x), io.in_value[0] = x.index;
    const auto qv = static_cast<std::size_t>(ql.out);
    if (ql.host == HostOp::quantize)
      io.quant = {true, qscale_[qv], qzp_[qv]};
    else
      io.cast = true;
  }
  io.out = l.out;
  if (act_after_of_[li] >= 0) io.out = g_.layers[static_cast<std::size_t>(act_after_of_[li])].out;
  if (!fused_[li]) return io;
  // +scales inputs after the weights: a_scale, b_scale, bias (zero point folded), residual.
  const Layer& dq = g_.layers[static_cast<std::size_t>(dequant_of_[li])];
  const bool fixed = io.quant.on;  // a static scale: a_scale and bias' are constants
  io.in.push_back(&fused_a_scale_[li]), io.in_value.push_back(-1), io.constant.push_back(fixed);
  io.in.push_back(&operand(dq.in[3])), io.in_value.push_back(-1), io.constant.push_back(true);
  io.in.push_back(&fused_bias_[li]), io.in_value.push_back(-1), io.constant.push_back(fixed);
  if (dq.in[5].kind != Operand::none) {
    io.in.push_back(&operand(dq.in[5]));
    io.in_value.push_back(dq.in[5].kind == Operand::value ? dq.in[5].index : -1);
    io.constant.push_back(dq.in[5].kind == Operand::weight);
  }
  io.out =
      act_after_of_[li] >= 0 ? g_.layers[static_cast<std::size_t>(act_after_of_[li])].out : dq.out;
  return io;
}

Executor::~Executor() = default;

Tensor Executor::make_input(const Graph& g, std::uint64_t seed) {
  const Value& v = g.values.at(static_cast<std::size_t>(g.input));
  Tensor t(v.dtype, v.shape);
  std::uint64_t s = seed ^ 0x1a2b3c4dull;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (v.dtype == DType::s32)
      t.data<std::int32_t>()[i] = static_cast<std::int32_t>(splitmix64(s) % 30000);
    else
      store_f(t, i, static_cast<float>(unit(s)));
  }
  return t;
}

std::optional<Problem> kv_write_problem(const Graph& g, const Layer& l) {
  if (l.host != HostOp::kv_write || l.in.size() != 2 || l.in[0].kind != Operand::value ||
      l.in[1].kind != Operand::value)
    return std::nullopt;
  const Value& x = g.values[static_cast<std::size_t>(l.in[0].index)];
  const Value& c = g.values[static_cast<std::size_t>(l.in[1].index)];
  if (x.dtype != DType::f32 || c.shape.size() != 3) return std::nullopt;
  KvWriteDesc d;
  d.h = c.shape[0], d.s = c.shape[1], d.d = c.shape[2], d.p = l.pos;
  if (d.p < 0 || d.p >= d.s || x.numel() != d.h * d.d) return std::nullopt;
  return Problem{d, c.dtype, {}};
}

std::vector<std::size_t> device_kv_writes(Graph& g, const std::function<bool(const Problem&)>& runs,
                                          const std::vector<bool>& keep_host) {
  std::vector<std::size_t> moved;
  for (std::size_t li = 0; li < g.layers.size(); ++li) {
    if (li < keep_host.size() && keep_host[li]) continue;
    const auto p = kv_write_problem(g, g.layers[li]);
    if (!p || !runs(*p)) continue;
    const int state = g.layers[li].in[1].index;
    bool ok =
        g.values[static_cast<std::size_t>(state)].kind == ValueKind::state && state != g.output;
    for (std::size_t ri = 0; ri < g.layers.size() && ok; ++ri) {
      const Layer& r = g.layers[ri];
      if (ri == li) continue;
      for (const auto& o : r.in)
        if (o.kind == Operand::value && o.index == state)
          ok = ok && r.problem && !r.problem->as<KvWriteDesc>() && runs(*r.problem);
      ok = ok && r.out != state;  // one writer
    }
    if (!ok) continue;
    g.layers[li].problem = *p;
    g.layers[li].host = HostOp::none;
    moved.push_back(li);
  }
  return moved;
}

namespace {
// The embed host op's lookup (in0 ids, in1 table: f32, bf16 or f16; or s8 with in2 its f32 row
// scales) as an embed kernel, whose operands are table first, then ids (then the scales).
std::optional<Problem> embed_problem(const Graph& g, const Layer& l) {
  if (l.host != HostOp::embed || l.in.size() < 2 || l.in.size() > 3 ||
      l.in[0].kind != Operand::value || l.in[1].kind == Operand::none)
    return std::nullopt;
  const Value& ids = g.values[static_cast<std::size_t>(l.in[0].index)];
  const auto& [dt, shape] =
      l.in[1].kind == Operand::weight
          ? std::pair{g.weights[static_cast<std::size_t>(l.in[1].index)].dtype,
                      g.weights[static_cast<std::size_t>(l.in[1].index)].shape}
          : std::pair{g.values[static_cast<std::size_t>(l.in[1].index)].dtype,
                      g.values[static_cast<std::size_t>(l.in[1].index)].shape};
  const Value& y = g.values[static_cast<std::size_t>(l.out)];
  const bool scaled = l.in.size() == 3;
  if (scaled ? dt != DType::s8 : dt != DType::f32 && dt != DType::bf16 && dt != DType::f16)
    return std::nullopt;
  if (ids.dtype != DType::s32 || y.dtype != DType::f32 || shape.size() != 2) return std::nullopt;
  EmbedDesc d;
  d.v = shape[0], d.d = shape[1], d.t = ids.numel();
  if (d.v <= 0 || d.d <= 0 || d.t <= 0 || y.numel() != d.t * d.d) return std::nullopt;
  if (scaled) {  // f32 [v]
    const Operand& s = l.in[2];
    if (s.kind == Operand::none) return std::nullopt;
    const auto [sdt, sn] = s.kind == Operand::weight
                               ? std::pair{g.weights[static_cast<std::size_t>(s.index)].dtype,
                                           g.weights[static_cast<std::size_t>(s.index)].numel()}
                               : std::pair{g.values[static_cast<std::size_t>(s.index)].dtype,
                                           g.values[static_cast<std::size_t>(s.index)].numel()};
    if (sdt != DType::f32 || sn != d.v) return std::nullopt;
  }
  return Problem{d, dt, {}};
}
}  // namespace

std::optional<Problem> copy_problem(const Graph& g, const Layer& l) {
  if (l.host == HostOp::embed) return embed_problem(g, l);
  const bool copy =
      l.host == HostOp::permute || l.host == HostOp::last_row || l.host == HostOp::slice;
  if (!copy || l.in.size() != 1 || l.in[0].kind != Operand::value) return std::nullopt;
  const Value& x = g.values[static_cast<std::size_t>(l.in[0].index)];
  const Value& y = g.values[static_cast<std::size_t>(l.out)];
  if (x.dtype != DType::f32 && x.dtype != DType::bf16 && x.dtype != DType::f16) return std::nullopt;
  if (y.dtype != x.dtype || y.numel() <= 0) return std::nullopt;
  if (l.host == HostOp::permute) {
    if (y.shape.size() != 3) return std::nullopt;
    PermuteDesc d;
    d.b = y.shape[0], d.a = y.shape[1], d.c = y.shape[2];
    if (x.numel() != d.a * d.b * d.c) return std::nullopt;
    return Problem{d, x.dtype, {}};
  }
  SliceDesc d;
  if (l.host == HostOp::last_row) {  // [m][n] -> [1][n]: o 1, rows m, from m - 1
    d.n = y.numel(), d.r = x.numel() / d.n, d.s = d.r - 1, d.c = 1;
    if (d.r * d.n != x.numel()) return std::nullopt;
  } else {  // a negative step stays on the host
    if (l.outer <= 0 || l.inner <= 0 || l.step < 1 || l.start < 0) return std::nullopt;
    d.o = l.outer, d.n = l.inner, d.t = l.step, d.s = l.start;
    d.r = x.numel() / (d.o * d.n), d.c = y.numel() / (d.o * d.n);
    if (d.o * d.r * d.n != x.numel() || d.o * d.c * d.n != y.numel()) return std::nullopt;
  }
  auto p = Problem::parse("slice:" + d.dims() + ":" + std::string(dtype_name(x.dtype)));
  if (!p) return std::nullopt;  // rows out of range: the graph's verify() says so
  return p.value();
}

std::vector<std::size_t> device_copies(Graph& g, const std::function<bool(const Problem&)>& runs) {
  std::vector<std::size_t> moved;
  for (std::size_t li = 0; li < g.layers.size(); ++li) {
    const auto p = copy_problem(g, g.layers[li]);
    if (!p || !runs(*p)) continue;
    if (g.layers[li].host == HostOp::embed) std::swap(g.layers[li].in[0], g.layers[li].in[1]);
    g.layers[li].problem = *p;
    g.layers[li].host = HostOp::none;
    moved.push_back(li);
  }
  return moved;
}

std::vector<std::size_t> kv_writes_apart(const Graph& g, const ExecutionPlan& p,
                                         const std::vector<std::size_t>& moved) {
  std::vector<int> step_of(g.layers.size(), -1);
  for (std::size_t si = 0; si < p.steps.size(); ++si)
    for (std::size_t li : p.steps[si].kernel_layers) step_of[li] = static_cast<int>(si);
  std::vector<std::size_t> apart;
  for (std::size_t li : moved) {
    const int state = g.layers[li].out;
    bool ok = step_of[li] >= 0;
    for (std::size_t ri = 0; ri < g.layers.size(); ++ri)
      for (const auto& o : g.layers[ri].in)
        ok = ok && !(o.kind == Operand::value && o.index == state && step_of[ri] != step_of[li]);
    if (!ok) apart.push_back(li);
  }
  return apart;
}

Fallback plan_fallback(const Graph& g, Backend& b, int device) {
  Fallback f;
  double all = 0, moved = 0;
  std::string first;
  for (std::size_t li = 0; li < g.layers.size(); ++li) {
    const Layer& l = g.layers[li];
    if (!l.problem) continue;
    const double macs = l.problem->flops() / 2;
    all += macs;
    if (auto s = b.supports(*l.problem, device); !s.supported) {
      if (first.empty()) first = l.problem->str() + ": " + s.reason;
      f.layers.push_back(li);
      moved += macs;
    }
  }
  f.mac_share = all > 0 ? moved / all : (f.layers.empty() ? 0 : 1);
  if (!f.layers.empty() && f.mac_share > kMaxFallbackShare)
    f.unsupported = first + " (" + std::to_string(f.layers.size()) + " layers unsupported, " +
                    std::to_string(static_cast<int>(std::lround(100 * f.mac_share))) +
                    "% of the MACs: more than a per-layer fallback may take)";
  return f;
}

std::string Executor::unsupported(Backend& b, int device) const {
  return plan_fallback(g_, b, device).unsupported;
}

Result<PrepareCost> Executor::prepare(Backend& b, int device, int threads) {
  if (weights_released_)
    return make_error("prepare after upload_weights: the weights are released");
  PrepareOptions po;
  po.device = device;
  po.threads = threads;
  const auto t0 = Clock::now();
  // int8: calibrate the activation scales once (one inference with dynamic quantisation on the
  // seeded input, on this backend), then quantise statically inside the segments. A graph whose
  // every quantize has a static scale (an imported QDQ model) needs no calibration.
  double calibrate_s = 0;
  const bool quantized = std::any_of(g_.layers.begin(), g_.layers.end(),
                                     [](const Layer& l) { return l.host == HostOp::quantize; });
  const bool dynamic = std::any_of(g_.layers.begin(), g_.layers.end(), [](const Layer& l) {
    return l.host == HostOp::quantize && l.qscale <= 0;
  });
  if (quantized && !dynamic) calibrated_ = true;
  if (quantized && !calibrated_) {
    const auto tc = Clock::now();
    if (auto r = plan(b, po, false); !r) return r.error();
    for (auto& s : steps_)
      if (s.prepared)
        if (auto r = s.prepared->set_constants(s.constants); !r)
          return make_error("calibration: " + r.error().message);
    if (auto r = infer(make_input(g_, seed_)); !r)
      return make_error("calibration: " + r.error().message);
    calibrated_ = true;
    calibrate_s = since(tc);
  }
  if (auto r = plan(b, po, calibrated_); !r) return r.error();
  PrepareCost c;
  c.seconds = since(t0);
  // Times, counts and hits add up over segments; settings (threads, cache capacity) do not.
  const auto additive = [](const std::string& key) {
    for (const char* end : {"_s", "_hit", "_hits", "primitives", "_bytes", "kernels", "reorders",
                            "post_ops", "layers", "nodes"})
      if (key.ends_with(end)) return true;
    return false;
  };
  std::map<std::string, double> sums;
  for (const auto& s : steps_)
    if (s.prepared)
      for (const auto& [key, v] : s.prepared->details())
        sums[key] = additive(key) ? sums[key] + v : std::max(sums[key], v);
  sums["int8_fused_layers"] = static_cast<double>(std::count(fused_.begin(), fused_.end(), true));
  sums["int8_static_quantize_layers"] = static_cast<double>(
      std::count_if(folded_quant_.begin(), folded_quant_.end(), [](int q) { return q >= 0; }));
  if (quantized) sums["calibrate_s"] = calibrate_s;
  sums["segments"] = segments();
  c.details.assign(sums.begin(), sums.end());
  return c;
}

Result<Graph> Executor::static_scales() const {
  const bool quantized = std::any_of(g_.layers.begin(), g_.layers.end(),
                                     [](const Layer& l) { return l.host == HostOp::quantize; });
  if (!quantized) return make_error("the graph quantises no activation (not an int8 graph)");
  if (!calibrated_) return make_error("the activation scales are not calibrated (prepare first)");
  Graph g = g_;
  restore_host_ops(g);
  for (auto& l : g.layers)
    if (l.host == HostOp::quantize)
      l.qscale = qscale_[static_cast<std::size_t>(l.out)],
      l.qzp = qzp_[static_cast<std::size_t>(l.out)];
  if (auto r = g.verify(); !r) return r.error();
  return g;
}

int Executor::quant_of_value(int v) const {
  return v >= 0 && !folded_quant_.empty() ? folded_quant_[static_cast<std::size_t>(v)] : -1;
}

bool ExecutionPlan::folded(const Graph& g, std::size_t li) const {
  const Layer& l = g.layers[li];
  if (l.host == HostOp::dequantize) return fused_dequant[li];
  if (l.host == HostOp::quantize || l.host == HostOp::cast)
    return folded_quant[static_cast<std::size_t>(l.out)] == static_cast<int>(li);
  if (l.host == HostOp::activation)
    return std::find(act_after_of.begin(), act_after_of.end(), static_cast<int>(li)) !=
           act_after_of.end();
  return false;
}

ExecutionPlan plan_execution(const Graph& g,
                             const std::function<bool(std::size_t kernel_layer)>& fuses_dequant,
                             bool fold_quant,
                             const std::function<bool(std::size_t kernel_layer)>& runs_here) {
  const std::size_t nl = g.layers.size();
  ExecutionPlan p;
  p.dequant_of.assign(nl, -1);
  p.fused.assign(nl, false);
  p.fused_dequant.assign(nl, false);
  p.act_after_of.assign(nl, -1);
  p.folded_quant.assign(g.values.size(), -1);
  for (std::size_t li = 0; li < nl; ++li) {
    const Layer& l = g.layers[li];
    if (l.host != HostOp::dequantize) continue;
    for (std::size_t ki = 0; ki < li; ++ki)
      if (g.layers[ki].problem && g.layers[ki].out == l.in[0].index)
        p.dequant_of[ki] = static_cast<int>(li);
  }
  // int8 layers run their dequantize fused where the backend has +scales, on the host where not.
  for (std::size_t li = 0; li < nl; ++li) {
    if (!g.layers[li].problem || p.dequant_of[li] < 0) continue;
    p.fused[li] = fuses_dequant(li);
    p.fused_dequant[static_cast<std::size_t>(p.dequant_of[li])] = p.fused[li];
  }
  std::vector<int> readers(g.values.size(), 0);
  for (const auto& l : g.layers)
    for (const auto& o : l.in)
      if (o.kind == Operand::value) ++readers[static_cast<std::size_t>(o.index)];
  for (std::size_t li = 0; li < nl; ++li) {
    const Layer& l = g.layers[li];
    const Operand& x = l.in.empty() ? Operand{} : l.in[0];
    const DType in_dtype =
        x.kind == Operand::value    ? g.values[static_cast<std::size_t>(x.index)].dtype
        : x.kind == Operand::weight ? g.weights[static_cast<std::size_t>(x.index)].dtype
                                    : DType::f32;
    const bool cast = l.host == HostOp::cast && x.kind != Operand::none && in_dtype == DType::f32 &&
                      g.values[static_cast<std::size_t>(l.out)].dtype == DType::bf16;
    if (!cast && !(fold_quant && l.host == HostOp::quantize)) continue;
    bool ok = l.out != g.output;
    for (const auto& r : g.layers)
      for (std::size_t i = 0; i < r.in.size(); ++i)
        if (r.in[i].kind == Operand::value && r.in[i].index == l.out)
          ok = ok && ((r.problem && i == 0) || (r.host == HostOp::dequantize && i == 1));
    if (ok) p.folded_quant[static_cast<std::size_t>(l.out)] = static_cast<int>(li);
  }
  for (std::size_t li = 0; li < nl; ++li) {
    const Layer& l = g.layers[li];
    if (l.host == HostOp::dequantize && p.fused_dequant[li]) continue;  // runs in its kernel
    if ((l.host == HostOp::quantize || l.host == HostOp::cast) &&
        p.folded_quant[static_cast<std::size_t>(l.out)] >= 0)
      continue;  // in its consumers
    if (l.host == HostOp::activation && !p.steps.empty() && p.steps.back().host_layer < 0) {
      const std::size_t k = p.steps.back().kernel_layers.back();
      const int v = l.in[0].index;
      const int written =
          p.fused[k] ? g.layers[static_cast<std::size_t>(p.dequant_of[k])].out : g.layers[k].out;
      if (written == v && p.act_after_of[k] < 0 && v != g.output &&
          readers[static_cast<std::size_t>(v)] == 1 &&
          g.values[static_cast<std::size_t>(l.out)].dtype == DType::f32) {
        p.act_after_of[k] = static_cast<int>(li);
        continue;
      }
    }
    if (!l.problem) {
      ExecutionPlan::Step s;
      s.host_layer = static_cast<int>(li);
      p.steps.push_back(std::move(s));
      continue;
    }
    const bool fallback = runs_here && !runs_here(li);
    if (p.steps.empty() || p.steps.back().host_layer >= 0 || p.steps.back().fallback != fallback) {
      p.steps.emplace_back();
      p.steps.back().fallback = fallback;
    }
    p.steps.back().kernel_layers.push_back(li);
  }
  return p;
}

void Executor::restore_host_ops(Graph& g) const {
  for (const auto& m : movable_) {
    g.layers[m.layer].problem.reset();
    g.layers[m.layer].host = m.op;
    g.layers[m.layer].in = m.in;
  }
}

Result<void> Executor::plan(Backend& b, const PrepareOptions& po, bool fold_quant) {
  const int device = po.device;
  steps_.clear();
  // Copies (permutes, slices, a prefill's last row) run on the backend where it runs them. So do
  // KV-cache writes, where it also runs every reader of the cache, in the same segment (the
  // segment keeps the cache, DeviceGraph::states); a write whose cache is read in another step
  // goes back to the host, and the plan is made again. TB_MOVES_ON_HOST=1: all stay host ops (the
  // anchor).
  const char* env = std::getenv("TB_MOVES_ON_HOST");
  const bool on_host = env && std::string(env) == "1";
  std::vector<bool> keep_host(g_.layers.size(), on_host);
  std::vector<bool> here;
  std::vector<std::size_t> moved;
  ExecutionPlan plan;
  for (;;) {
    restore_host_ops(g_);
    if (!on_host)
      device_copies(g_, [&](const Problem& p) { return b.supports(p, device).supported; });
    moved = device_kv_writes(
        g_, [&](const Problem& p) { return b.supports(p, device).supported; }, keep_host);
    const Fallback fb = plan_fallback(g_, b, device);
    if (!fb.unsupported.empty()) return make_error("unsupported: " + fb.unsupported);
    here.assign(g_.layers.size(), true);
    for (std::size_t li : fb.layers) here[li] = false;
    if (!fb.layers.empty() && !fallback_) fallback_ = make_reference_backend();
    const auto backend_of = [&](std::size_t li) -> Backend& { return here[li] ? b : *fallback_; };
    plan = plan_execution(
        g_,
        [&](std::size_t li) {
          return backend_of(li).supports(fused_problem(li), here[li] ? device : 0).supported;
        },
        fold_quant, [&](std::size_t li) { return here[li]; });
    const std::vector<std::size_t> apart = kv_writes_apart(g_, plan, moved);
    if (apart.empty()) break;
    for (std::size_t li : apart) keep_host[li] = true;
  }
  device_state_.assign(g_.values.size(), false);
  for (std::size_t li : moved) device_state_[static_cast<std::size_t>(g_.layers[li].out)] = true;
  fused_ = plan.fused;
  fused_dequant_ = plan.fused_dequant;
  act_after_of_ = plan.act_after_of;
  folded_quant_ = plan.folded_quant;
  fixed_params_.assign(g_.layers.size(), false);
  for (std::size_t li = 0; li < g_.layers.size(); ++li)
    if (fused_[li]) {
      const auto n =
          static_cast<std::int64_t>(colsum_[static_cast<std::size_t>(dequant_of_[li])].size());
      fused_a_scale_[li] = Tensor(DType::f32, {1});
      fused_bias_[li] = Tensor(DType::f32, {n});
      fixed_params_[li] = node_io(li).quant.on;
      if (fixed_params_[li]) fused_params(li);  // the calibrated scale: once, as weights
    }
  for (const auto& ps : plan.steps) {
    Step s;
    s.host_layer = ps.host_layer;
    s.kernel_layers = ps.kernel_layers;
    s.fallback = ps.fallback;
    steps_.push_back(std::move(s));
  }
  // Which step reads each value (a segment's outputs are the values read after it).
  std::vector<int> last_reader(g_.values.size(), -1);
  for (std::size_t si = 0; si < steps_.size(); ++si) {
    const auto mark = [&](int v) {
      if (v >= 0) last_reader[static_cast<std::size_t>(v)] = static_cast<int>(si);
    };
    if (steps_[si].host_layer >= 0) {
      for (const auto& o : g_.layers[static_cast<std::size_t>(steps_[si].host_layer)].in)
        if (o.kind == Operand::value) mark(o.index);
    } else {
      for (std::size_t li : steps_[si].kernel_layers)
        for (int v : node_io(li).in_value) mark(v);
    }
  }
  for (std::size_t si = 0; si < steps_.size(); ++si) {
    Step& s = steps_[si];
    if (s.host_layer >= 0) continue;
    DeviceGraph& dg = s.graph;
    std::map<int, int> value_id;               // graph value -> device graph value
    std::map<const Tensor*, int> constant_id;  // weight -> device graph value
    std::vector<int> produced;                 // graph values written in this segment
    for (std::size_t li : s.kernel_layers) {
      const Layer& l = g_.layers[li];
      const Problem p = fused_[li] ? fused_problem(li) : *l.problem;
      const NodeIo io = node_io(li);
      const auto specs = p.inputs();
      DeviceGraph::Node node;
      node.name = l.name;
      node.problem = p;
      if (act_after_of_[li] >= 0)
        node.act_after = g_.layers[static_cast<std::size_t>(act_after_of_[li])].act;
      node.in_quant = io.quant;
      node.in_cast = io.cast;
      for (std::size_t i = 0; i < io.in.size(); ++i) {
        const int v = io.in_value[i];
        if (v >= 0 && value_id.count(v)) {
          node.in.push_back(value_id[v]);
          continue;
        }
        if (io.constant[i] && constant_id.count(io.in[i])) {
          node.in.push_back(constant_id[io.in[i]]);
          continue;
        }
        const int id = dg.add_value({specs[i].name, io.in[i]->dtype(), io.in[i]->shape()});
        if (v >= 0 && device_state_[static_cast<std::size_t>(v)]) {
          dg.states.push_back(id), s.states.push_back(io.in[i]);
          value_id[v] = id;
        } else if (io.constant[i]) {
          dg.constants.push_back(id), s.constants.push_back(io.in[i]);
          constant_id[io.in[i]] = id;
        } else {
          dg.inputs.push_back(id), s.inputs.push_back(io.in[i]), s.input_value.push_back(v);
          if (v >= 0) value_id[v] = id;
        }
        node.in.push_back(id);
      }
      if (device_state_[static_cast<std::size_t>(io.out)]) {  // a KV cache, written in place
        node.out = value_id.at(io.out);
        dg.nodes.push_back(std::move(node));
        continue;
      }
      const Tensor& out = values_[static_cast<std::size_t>(io.out)];
      node.out = dg.add_value(
          {g_.values[static_cast<std::size_t>(io.out)].name, out.dtype(), out.shape()});
      value_id[io.out] = node.out;
      produced.push_back(io.out);
      dg.nodes.push_back(std::move(node));
    }
    for (int v : produced)
      if (last_reader[static_cast<std::size_t>(v)] > static_cast<int>(si) || v == g_.output ||
          g_.values[static_cast<std::size_t>(v)].kind == ValueKind::state) {
        dg.outputs.push_back(value_id[v]);
        s.outputs.push_back(&values_[static_cast<std::size_t>(v)]);
      }
    if (auto v = dg.verify(); !v)
      return make_error("segment at " + g_.layers[s.kernel_layers[0]].name + ": " +
                        v.error().message);
    PrepareOptions spo = po;
    if (s.fallback) spo.device = 0;
    auto pg = (s.fallback ? *fallback_ : b).prepare_graph(dg, spo);
    if (!pg)
      return make_error("prepare segment at " + g_.layers[s.kernel_layers[0]].name + ": " +
                        pg.error().message);
    s.prepared = std::move(pg.value());
    if (auto r = s.prepared->set_states(s.states); !r)
      return make_error("segment at " + g_.layers[s.kernel_layers[0]].name + ": " +
                        r.error().message);
  }
  return {};
}

int Executor::segments() const {
  return static_cast<int>(
      std::count_if(steps_.begin(), steps_.end(), [](const Step& s) { return s.host_layer < 0; }));
}

std::string Executor::config() const {
  std::map<std::string, int> configs;
  for (const auto& s : steps_)
    if (s.prepared) ++configs[s.prepared->config()];
  std::string out;
  for (const auto& [c, n] : configs)
    out += (out.empty() ? "" : "; ") + (n > 1 ? std::to_string(n) + " x " : "") + c;
  const int host = static_cast<int>(steps_.size()) - segments();
  if (host > 0) out += "; " + std::to_string(host) + " host ops between segments";
  std::string moved;
  int n = 0;
  for (const auto& s : steps_)
    if (s.fallback)
      for (std::size_t li : s.kernel_layers) {
        ++n;
        if (n <= 3) moved += (moved.empty() ? "" : ", ") + g_.layers[li].problem->str();
      }
  if (n > 0)
    out += "; " + std::to_string(n) + " layer" + (n > 1 ? "s" : "") +
           " fell back to the reference backend (" + moved + (n > 3 ? ", ..." : "") + ")";
  return out;
}

Result<double> Executor::upload_weights() {
  const auto t0 = Clock::now();
  for (auto& s : steps_) {
    if (s.host_layer >= 0) continue;
    if (!s.prepared) return make_error("upload before prepare");
    if (auto r = s.prepared->set_constants(s.constants); !r)
      return make_error("upload weights of the segment at " + g_.layers[s.kernel_layers[0]].name +
                        ": " + r.error().message);
  }
  // The backends hold their copies now: free the host ones no host op reads, so that memory
  // figures count each weight once.
  std::vector<bool> host_reads(weights_.size(), false);
  for (const auto& l : g_.layers)
    if (!l.problem)
      for (const auto& o : l.in)
        if (o.kind == Operand::weight) host_reads[static_cast<std::size_t>(o.index)] = true;
  for (std::size_t i = 0; i < weights_.size(); ++i)
    if (!host_reads[i]) weights_[i] = Tensor();
  weights_released_ = true;
  return since(t0);
}

const Tensor& Executor::operand(const Operand& o) const {
  if (o.kind == Operand::weight) return weights_[static_cast<std::size_t>(o.index)];
  return values_[static_cast<std::size_t>(o.index)];
}

const Tensor& Executor::output() const {
  return values_[static_cast<std::size_t>(g_.output)];
}

MemoryStats Executor::memory() const {
  MemoryStats m;
  for (const auto& s : steps_)
    if (s.prepared) {
      const auto x = s.prepared->memory();
      m.device_bytes += x.device_bytes, m.host_bytes += x.host_bytes,
          m.uploaded_bytes += x.uploaded_bytes;
    }
  return m;
}

Result<InferCost> Executor::infer(const Tensor& input) {
  InferCost c;
  Tensor& in = values_[static_cast<std::size_t>(g_.input)];
  if (input.bytes() != in.bytes() || input.dtype() != in.dtype())
    return make_error("input has " + input.shape_str() + ", the graph takes " + in.shape_str());
  const auto t0 = Clock::now();
  // Segments read the caller's input in place; host ops read the graph's copy.
  if (input_read_by_host_) std::memcpy(in.raw(), input.raw(), in.bytes());
  std::vector<const Tensor*> ins;
  if (timing_) layer_s_.assign(g_.layers.size(), 0.0);
  for (auto& s : steps_) {
    if (s.host_layer >= 0) {
      const auto li = static_cast<std::size_t>(s.host_layer);
      const auto th = Clock::now();
      if (auto r = run_host(g_.layers[li], li); !r)
        return make_error(g_.layers[li].name + ": " + r.error().message);
      const double h = since(th);
      c.host_s += h;
      if (timing_) layer_s_[li] = h;
      continue;
    }
    const auto th = Clock::now();
    for (std::size_t li : s.kernel_layers)
      if (fused_[li] && !fixed_params_[li]) fused_params(li);  // a scalar, a per-channel vector
    c.host_s += since(th);
    ins = s.inputs;
    for (std::size_t i = 0; i < ins.size(); ++i)
      if (s.input_value[i] == g_.input) ins[i] = &input;
    const auto ts = Clock::now();
    auto r = s.prepared->run(ins, s.outputs);
    if (!r)
      return make_error("segment at " + g_.layers[s.kernel_layers[0]].name + ": " +
                        r.error().message);
    const double seg = since(ts);
    if (timing_) {
      const auto ns = s.prepared->node_seconds();
      for (std::size_t j = 0; j < ns.size() && j < s.kernel_layers.size(); ++j)
        layer_s_[s.kernel_layers[j]] = ns[j];
    }
    c.kernel_s += r->kernel_s;
    c.transfer_s += std::max(0.0, seg - r->kernel_s);
    c.host_round_trips += r->host_round_trips;
    c.bytes_to_device += r->bytes_to_device;
    c.bytes_from_device += r->bytes_from_device;
  }
  c.wall_s = since(t0);
  return c;
}

bool Executor::time_layers(bool on) {
  timing_ = on;
  if (!on) layer_s_.clear();
  bool all = true;
  for (auto& s : steps_)
    if (s.prepared) all = s.prepared->time_nodes(on) && all;
  return all;
}

Result<void> Executor::run_host(const Layer& l, std::size_t li) {
  Tensor& out = values_[static_cast<std::size_t>(l.out)];
  const Tensor& x = operand(l.in.at(0));
  const std::int64_t n = x.numel();
  switch (l.host) {
    case HostOp::cast:
      for (std::int64_t i = 0; i < n; ++i) store_f(out, i, load_f(x, i));
      return {};
    case HostOp::activation:
      for (std::int64_t i = 0; i < n; ++i) store_f(out, i, apply_activation(l.act, load_f(x, i)));
      return {};
    case HostOp::quantize: {
      DeviceGraph::Node::Quant q;
      if (l.qscale > 0) {
        q.scale = l.qscale, q.zp = l.qzp;
      } else {
        const auto [lo, hi] = min_max0(x.data<float>(), n);
        const bool nonneg = lo >= 0;
        const float range = nonneg ? hi : std::max(-lo, hi);
        q.scale = range > 0 ? range / (nonneg ? 255.0f : 127.0f) : 1.0f;
        q.zp = nonneg ? 0 : 128;
      }
      quantize_u8(x, q, out);
      qscale_[static_cast<std::size_t>(l.out)] = q.scale;
      qzp_[static_cast<std::size_t>(l.out)] = q.zp;
      return {};
    }
    case HostOp::dequantize: {
      const auto qin = static_cast<std::size_t>(l.in[1].index);
      const float sa = qscale_[qin];
      const int zp = qzp_[qin];
      const float* sw = operand(l.in[3]).data<float>();
      const float* bias = l.in[4].kind == Operand::none ? nullptr : operand(l.in[4]).data<float>();
      const float* res = l.in[5].kind == Operand::none ? nullptr : operand(l.in[5]).data<float>();
      const auto& cs = colsum_[li];
      const std::int64_t N = static_cast<std::int64_t>(cs.size()), rows = n / N;
      const std::int32_t* acc = x.data<std::int32_t>();
      float* y = out.data<float>();
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t j = 0; j < N; ++j) {
          const std::int64_t i = r * N + j;
          const auto a = static_cast<double>(acc[i]) -
                         static_cast<double>(zp) * cs[static_cast<std::size_t>(j)];
          float v = static_cast<float>(a * sa * sw[j]) + (bias ? bias[j] : 0.0f);
          v = apply_activation(l.act, v);
          y[i] = res ? v + res[i] : v;
        }
      return {};
    }
    case HostOp::permute: {  // [a][b][c] -> [b][a][c]
      const std::int64_t b = out.shape()[0], a = out.shape()[1], c = out.shape()[2];
      const std::size_t es = dtype_size(x.dtype());
      for (std::int64_t i = 0; i < a; ++i)
        for (std::int64_t j = 0; j < b; ++j)
          std::memcpy(out.raw() + ((j * a + i) * c) * es, x.raw() + ((i * b + j) * c) * es,
                      static_cast<std::size_t>(c) * es);
      return {};
    }
    case HostOp::kv_write: {  // x [1][kv][d] -> cache [kv][s][d] at row pos
      const std::int64_t kv = out.shape()[0], s = out.shape()[1], d = out.shape()[2];
      if (x.dtype() == out.dtype()) {  // rows copied (an element-wise store took 1.7 us for 768 B)
        const std::size_t es = dtype_size(x.dtype()), row = static_cast<std::size_t>(d) * es;
        for (std::int64_t h = 0; h < kv; ++h)
          std::memcpy(out.raw() + static_cast<std::size_t>((h * s + l.pos) * d) * es,
                      x.raw() + static_cast<std::size_t>(h * d) * es, row);
        return {};
      }
      for (std::int64_t h = 0; h < kv; ++h)
        for (std::int64_t i = 0; i < d; ++i)
          store_f(out, (h * s + l.pos) * d + i, load_f(x, h * d + i));
      return {};
    }
    case HostOp::last_row: {
      const std::int64_t cols = out.numel();
      std::memcpy(out.raw(),
                  x.raw() + (n - cols) * static_cast<std::int64_t>(dtype_size(x.dtype())),
                  out.bytes());
      return {};
    }
    case HostOp::embed: {
      const Tensor& table = operand(l.in[1]);
      const std::int64_t v = table.shape()[0], d = table.shape()[1];
      const float* scale = l.in.size() > 2 ? operand(l.in[2]).data<float>() : nullptr;
      for (std::int64_t t = 0; t < n; ++t) {
        const std::int64_t r = EmbedDesc::row(x.data<std::int32_t>()[t], v);
        for (std::int64_t i = 0; i < d; ++i)
          out.data<float>()[t * d + i] =
              scale ? static_cast<float>(table.data<std::int8_t>()[r * d + i]) * scale[r]
                    : load_f(table, r * d + i);
      }
      return {};
    }
    case HostOp::concat: {  // each input [outer][n_i] -> [outer][sum n_i]
      const std::size_t es = dtype_size(out.dtype());
      std::byte* y = out.raw();
      for (std::int64_t o = 0; o < l.outer; ++o)
        for (const auto& op : l.in) {
          const Tensor& t = operand(op);
          const auto row = static_cast<std::size_t>(t.numel() / l.outer) * es;
          std::memcpy(y, t.raw() + static_cast<std::size_t>(o) * row, row);
          y += row;
        }
      return {};
    }
    case HostOp::slice: {  // [outer][d][inner] -> [outer][cnt][inner], rows start + i * step
      const std::size_t es = dtype_size(x.dtype());
      const std::int64_t d = n / (l.outer * l.inner), cnt = out.numel() / (l.outer * l.inner);
      const auto row = static_cast<std::size_t>(l.inner) * es;
      for (std::int64_t o = 0; o < l.outer; ++o)
        for (std::int64_t i = 0; i < cnt; ++i)
          std::memcpy(out.raw() + static_cast<std::size_t>(o * cnt + i) * row,
                      x.raw() + static_cast<std::size_t>(o * d + l.start + i * l.step) * row, row);
      return {};
    }
    case HostOp::fake_quant: {  // quantised to u8 and back, in blocks on the stack
      DeviceGraph::Node::Quant q;
      q.scale = l.qscale, q.zp = l.qzp;
      constexpr std::int64_t kBlock = 4096;
      std::uint8_t u[kBlock];
      for (std::int64_t i0 = 0; i0 < n; i0 += kBlock) {
        const std::int64_t m = std::min(kBlock, n - i0);
        quantize_u8(x.data<float>() + i0, m, q, u);
        for (std::int64_t i = 0; i < m; ++i)
          out.data<float>()[i0 + i] = static_cast<float>(static_cast<int>(u[i]) - q.zp) * q.scale;
      }
      return {};
    }
    case HostOp::none:
      break;
  }
  return make_error("not a host op");
}

}  // namespace tb::workloads

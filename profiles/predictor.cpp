#include "predictor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "buckets.h"
#include "executor.h"

namespace tb::profiles {

namespace {

using json = nlohmann::json;
using workloads::Graph;
using workloads::HostOp;
using workloads::Layer;
using workloads::Operand;

bool is_int8(std::string_view dt) {
  return dt == "int8" || dt == "s8" || dt == "u8";
}

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// y at x, piecewise linear in log-log between sorted points (x, y) that bracket x.
double loglog_between(const std::vector<std::pair<double, double>>& pts, double x) {
  for (std::size_t i = 1; i < pts.size(); ++i) {
    const auto [x0, y0] = pts[i - 1];
    const auto [x1, y1] = pts[i];
    if (x > x1) continue;
    if (x1 == x0) return (y0 + y1) / 2;
    const double f = std::log(x / x0) / std::log(x1 / x0);
    return std::exp(std::log(y0) + f * (std::log(y1) - std::log(y0)));
  }
  return pts.back().second;
}

// How cold a graph of `working_set` bytes runs: 0 up to the entry's warm_bytes, 1 from its
// cold_bytes on, log-linear in the working set between (0 where the entry does not say).
double cold_fraction(const BackendCalibration& c, double working_set) {
  if (c.warm_bytes <= 0 || c.cold_bytes <= c.warm_bytes || working_set <= c.warm_bytes) return 0;
  return std::min(1.0,
                  std::log(working_set / c.warm_bytes) / std::log(c.cold_bytes / c.warm_bytes));
}

// The node time of a calibrated point inside a graph whose weights are `graph_weights` bytes:
// warm (node_s) to cold (node_cold_s), log-linear by the graph's cold_fraction.
double point_s(const OpPoint& p, const BackendCalibration& c, double graph_weights) {
  const double f = cold_fraction(c, graph_weights);
  if (p.node_cold_s <= p.node_s || f <= 0) return p.node_s;
  return std::exp((1 - f) * std::log(p.node_s) + f * std::log(p.node_cold_s));
}

// The node time of a class at `work`, piecewise linear in log-log over the calibrated points,
// constant throughput beyond them; negative when the entry has no point of the class.
double class_time_1d(const BackendCalibration& c, const std::string& cls, double work,
                     double graph_weights) {
  const bool mem = memory_bound_class(cls);
  std::vector<std::pair<double, double>> pts;  // (work, node time)
  for (const auto& p : c.points)
    if (p.op_class == cls && p.node_s > 0) {
      const double x = mem ? p.bytes : p.flops;
      if (x > 0) pts.emplace_back(x, point_s(p, c, graph_weights));
    }
  if (pts.empty() || work <= 0) return pts.empty() ? -1 : 0;
  std::sort(pts.begin(), pts.end());
  if (work <= pts.front().first) return pts.front().second * work / pts.front().first;
  if (work >= pts.back().first) return pts.back().second * work / pts.back().first;
  return loglog_between(pts, work);
}

// Where a problem lies in its class's shape space, in log2 units: a convolution by its output
// side, its narrower and its wider channel count (depthwise: its channels twice, and its stride);
// a GEMM by m x batch, k and n. Empty for the other classes.
std::vector<double> shape_features(const Problem& p) {
  if (const auto* c = p.as<ConvDesc>()) {
    const double side = std::sqrt(static_cast<double>(c->n * c->oh() * c->ow()));
    const double lo = static_cast<double>(std::min(c->c, c->k));
    const double hi = static_cast<double>(std::max(c->c, c->k));
    std::vector<double> f = {std::log2(std::max(side, 1.0)), std::log2(std::max(lo, 1.0)),
                             std::log2(std::max(hi, 1.0))};
    // A strided depthwise layer reads four times its output: its time follows its output on
    // some backends (lavapipe) and its input on others, so it sits apart from the stride-1 ones
    // (stride 2 as far as a side 8x larger).
    if (c->groups > 1 && c->groups == c->c)
      f.push_back(3 * std::log2(static_cast<double>(std::max<std::int64_t>(c->stride, 1))));
    return f;
  }
  if (const auto* g = p.as<GemmDesc>())
    return {std::log2(static_cast<double>(std::max<std::int64_t>(g->batch * g->m, 1))),
            std::log2(static_cast<double>(std::max<std::int64_t>(g->k, 1))),
            std::log2(static_cast<double>(std::max<std::int64_t>(g->n, 1)))};
  return {};
}

// The node time of `p` (work = its FLOPs or bytes) from the calibrated points of its class that
// lie nearest in shape space (shape_features): their throughputs (work per second), averaged in
// log space with weights 1 / (0.25 + distance^2) over the kNearest nearest. A layer of a network
// runs at the efficiency of the calibrated shapes that resemble it (a thin 1x1 at 56x56 like the
// thin ones, not like a wide 1x1 of the same FLOPs at 7x7); beyond the grid, at its edge's
// throughput. Where the backend runs nodes of fewer than serial_flops on one thread, a layer
// takes the points on its side of that line when it has two of them (SmolLM's down_proj, 1.8
// MFLOP on two threads, had been put 17-26% high by the 576-square GEMV beside it, 0.7 MFLOP on
// one). Negative with fewer than two such points (class_time_1d then decides).
double class_time_nearest(const BackendCalibration& c, const std::string& cls, const Problem& p,
                          double work, double graph_weights) {
  constexpr std::size_t kNearest = 3;
  const std::vector<double> f = shape_features(p);
  if (f.empty() || work <= 0) return -1;
  const bool mem = memory_bound_class(cls);
  const auto serial = [&](double flops) { return c.serial_flops > 0 && flops < c.serial_flops; };
  std::size_t same_side = 0;
  for (const auto& pt : c.points)
    same_side += pt.op_class == cls && pt.node_s > 0 && serial(pt.flops) == serial(p.flops());
  std::vector<std::pair<double, double>> near;  // (distance^2, log throughput)
  for (const auto& pt : c.points) {
    if (same_side >= 2 && serial(pt.flops) != serial(p.flops())) continue;
    if (pt.op_class != cls || pt.node_s <= 0) continue;
    auto q = Problem::parse(pt.problem);
    if (!q) continue;
    const std::vector<double> g = shape_features(*q);
    const double w = mem ? pt.bytes : pt.flops;
    if (g.size() != f.size() || w <= 0) continue;
    double d2 = 0;
    for (std::size_t i = 0; i < f.size(); ++i) d2 += (f[i] - g[i]) * (f[i] - g[i]);
    near.emplace_back(d2, std::log(w / point_s(pt, c, graph_weights)));
  }
  if (near.size() < 2) return -1;
  std::sort(near.begin(), near.end());
  double sw = 0, sl = 0;
  for (std::size_t i = 0; i < std::min(kNearest, near.size()); ++i) {
    const double w = 1 / (0.25 + near[i].first);
    sw += w, sl += w * near[i].second;
  }
  return work / std::exp(sl / sw);
}

double class_time(const BackendCalibration& c, const std::string& cls, const Problem* p,
                  double work, double graph_weights) {
  if (p)
    if (const double t = class_time_nearest(c, cls, *p, work, graph_weights); t >= 0) return t;
  return class_time_1d(c, cls, work, graph_weights);
}

// The shortest node any class took: no kernel dispatch is faster than this.
double dispatch_floor(const BackendCalibration& c) {
  double m = std::numeric_limits<double>::infinity();
  for (const auto& p : c.points)
    if (p.node_s > 0) m = std::min(m, p.node_s);
  return std::isfinite(m) ? m : 0;
}

// How the executor runs the graph on this backend: workloads::plan_execution, the executor's
// own planning (the one statement of the fusion rules), with the dequantize fused wherever the
// calibration saw the backend fuse the +scales epilogue; then, for the walk, which layers run
// inside a kernel, the steps (a host op alone, or a segment of kernel layers), and the values
// the folded layers read.
struct Plan {
  std::vector<bool> folded;                     // per layer: runs inside a kernel
  std::vector<std::vector<std::size_t>> steps;  // layer indices; host steps have one
  std::vector<bool> is_segment;
  std::vector<int> source;  // per value: the value a folded quantize / cast reads, else itself
  // Per step: the values its folded dequantize / activation layers write, and what they read.
  std::vector<std::vector<std::size_t>> folded_into;
};

Plan make_plan(const Graph& g, bool fuse_epilogue, bool fold_quant) {
  const std::size_t nl = g.layers.size();
  const workloads::ExecutionPlan ep = workloads::plan_execution(
      g, [fuse_epilogue](std::size_t) { return fuse_epilogue; }, fold_quant);
  Plan p;
  p.folded.assign(nl, false);
  for (std::size_t li = 0; li < nl; ++li) p.folded[li] = ep.folded(g, li);
  p.source.resize(g.values.size());
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const int q = ep.folded_quant[v];
    p.source[v] = q >= 0 ? g.layers[static_cast<std::size_t>(q)].in[0].index : static_cast<int>(v);
  }
  for (const auto& s : ep.steps) {
    p.is_segment.push_back(s.host_layer < 0);
    p.steps.push_back(s.host_layer < 0
                          ? s.kernel_layers
                          : std::vector<std::size_t>{static_cast<std::size_t>(s.host_layer)});
  }
  std::vector<int> writer(g.values.size(), -1);
  for (std::size_t li = 0; li < nl; ++li)
    writer[static_cast<std::size_t>(g.layers[li].out)] = static_cast<int>(li);
  // Folded dequantize and activation layers belong to the segment of the kernel they follow.
  p.folded_into.resize(p.steps.size());
  std::vector<int> step_of(nl, -1);
  for (std::size_t si = 0; si < p.steps.size(); ++si)
    for (std::size_t li : p.steps[si]) step_of[li] = static_cast<int>(si);
  for (std::size_t li = 0; li < nl; ++li) {
    const Layer& l = g.layers[li];
    if (!p.folded[li] || (l.host != HostOp::dequantize && l.host != HostOp::activation)) continue;
    const int w = writer[static_cast<std::size_t>(l.in[0].index)];
    if (w < 0) continue;
    step_of[li] = step_of[static_cast<std::size_t>(w)];
    if (step_of[li] >= 0) p.folded_into[static_cast<std::size_t>(step_of[li])].push_back(li);
  }
  return p;
}

std::int64_t value_bytes(const Graph& g, int v) {
  return v < 0 ? 0 : g.values[static_cast<std::size_t>(v)].bytes();
}

// Per layer, the bytes it reads across a change in thread count (thread_crossing_bytes): a
// kernel node runs on all threads from serial_flops on, else on one, as host ops and the caller
// do; a folded layer runs where the kernel it is folded into does. All 0 without serial_flops.
std::vector<double> crossing_bytes(const Graph& g, const Plan& plan, double serial_flops) {
  const std::size_t nl = g.layers.size();
  std::vector<double> out(nl, 0);
  if (serial_flops <= 0) return out;
  std::vector<int> writer(g.values.size(), -1);
  for (std::size_t li = 0; li < nl; ++li)
    writer[static_cast<std::size_t>(g.layers[li].out)] = static_cast<int>(li);
  std::vector<char> threaded(nl, 0);
  for (std::size_t si = 0; si < plan.steps.size(); ++si)
    if (plan.is_segment[si])
      for (std::size_t li : plan.steps[si])
        threaded[li] = g.layers[li].problem && g.layers[li].problem->flops() >= serial_flops;
  // Whether value v was written on all threads: by its writer, or for a folded writer by the
  // kernel it follows.
  const auto written_threaded = [&](int v) {
    for (int w = writer[static_cast<std::size_t>(v)]; w >= 0;) {
      const auto wi = static_cast<std::size_t>(w);
      if (!plan.folded[wi]) return threaded[wi] != 0;
      if (g.layers[wi].in.empty() || g.layers[wi].in[0].kind != Operand::value) return false;
      w = writer[static_cast<std::size_t>(g.layers[wi].in[0].index)];
    }
    return false;
  };
  for (std::size_t li = 0; li < nl; ++li) {
    if (plan.folded[li]) continue;
    for (const auto& o : g.layers[li].in) {
      if (o.kind != Operand::value) continue;
      const int v = plan.source[static_cast<std::size_t>(o.index)];
      if (written_threaded(v) != (threaded[li] != 0))
        out[li] += static_cast<double>(value_bytes(g, v));
    }
  }
  return out;
}

// The quantised (u8) value an int8 convolution layer reads through a folded quantize, else -1.
int quantised_input(const Graph& g, const Plan& plan, std::size_t li) {
  const Layer& l = g.layers[li];
  if (!l.problem || l.problem->dtype != DType::s8 || !l.problem->as<ConvDesc>() || l.in.empty() ||
      l.in[0].kind != Operand::value)
    return -1;
  const int v = l.in[0].index;
  return plan.source[static_cast<std::size_t>(v)] != v ? v : -1;
}

// Per value: whether a backend that requantises (BackendCalibration::requantises_int8) writes
// it as u8 in the graph, so that its readers skip their quantising pass: written by an int8
// convolution (its dequantize folded into it), read only through folded quantizes (the value's
// one calibrated scale), whose readers are all int8 convolutions, and not the graph's output.
std::vector<bool> requantised_values(const Graph& g, const Plan& plan) {
  const std::size_t nl = g.layers.size(), nv = g.values.size();
  std::vector<int> writer(nv, -1), others(nv, 0);  // others: readers besides folded quantizes
  for (std::size_t li = 0; li < nl; ++li)
    writer[static_cast<std::size_t>(g.layers[li].out)] = static_cast<int>(li);
  std::vector<bool> conv_readers_only(nv, true);  // per quantised value
  for (std::size_t li = 0; li < nl; ++li) {
    const Layer& l = g.layers[li];
    for (std::size_t k = 0; k < l.in.size(); ++k) {
      if (l.in[k].kind != Operand::value) continue;
      // A dequantize reads its kernel's accumulators and u8 input (for the zero-point offsets);
      // only its further operands (a residual) are readers of their own.
      if (l.host == HostOp::dequantize && k < 2) continue;
      const auto v = static_cast<std::size_t>(l.in[k].index);
      if (l.host != HostOp::quantize || !plan.folded[li] || k != 0) ++others[v];
      if (plan.source[v] != static_cast<int>(v) &&
          (k != 0 || !l.problem || l.problem->dtype != DType::s8 || !l.problem->as<ConvDesc>()))
        conv_readers_only[v] = false;
    }
  }
  std::vector<bool> out(nv, false);
  for (std::size_t li = 0; li < nl; ++li) {
    const Layer& q = g.layers[li];
    if (q.host != HostOp::quantize || !plan.folded[li] || q.in.empty()) continue;
    const auto src = static_cast<std::size_t>(q.in[0].index);
    const int w = writer[src];
    if (w < 0 || static_cast<int>(src) == g.output || others[src] != 0 ||
        !conv_readers_only[static_cast<std::size_t>(q.out)])
      continue;
    // The writer: an int8 convolution, through the dequantize and activations folded into it.
    int k = w;
    while (k >= 0 && !g.layers[static_cast<std::size_t>(k)].problem &&
           plan.folded[static_cast<std::size_t>(k)] &&
           !g.layers[static_cast<std::size_t>(k)].in.empty() &&
           g.layers[static_cast<std::size_t>(k)].in[0].kind == Operand::value)
      k = writer[static_cast<std::size_t>(g.layers[static_cast<std::size_t>(k)].in[0].index)];
    const Layer* kl = k >= 0 ? &g.layers[static_cast<std::size_t>(k)] : nullptr;
    out[src] = kl && kl->problem && kl->problem->dtype == DType::s8 && kl->problem->as<ConvDesc>();
  }
  return out;
}

struct Costs {
  std::vector<double> layer_s;  // per layer
  // Per layer, the part of layer_s that is its segment's graph run and transfers (charged to the
  // segment's first layer), not the layer's own computation.
  std::vector<double> overhead_s;
  double total_s = 0;
  std::set<std::string> problems;  // distinct kernels (compiles)
  std::map<std::string, int> class_nodes;
  std::set<std::string> assumed;  // what the calibration lacked (node_time)
};

// Projection of a time measured here onto the target: the same efficiency on its roofline.
struct Projector {
  const BackendCalibration* c = nullptr;
  const DeviceSpec* target = nullptr;
  double node(double t, double flops, double bytes) const {
    if (!target) return t;
    const double here = roofline_s(flops, bytes, c->peak_gflops, c->bandwidth_gbps);
    const double there =
        roofline_s(flops, bytes, target->peak_for(c->dtype), target->bandwidth_gbps);
    return here > 0 && there > 0 ? t * there / here : t;
  }
  double bandwidth(double t) const {
    if (!target || c->bandwidth_gbps <= 0 || target->bandwidth_gbps <= 0) return t;
    return t * c->bandwidth_gbps / target->bandwidth_gbps;
  }
};

double rate_s(double bytes, double gbps) {
  return gbps > 0 ? bytes / (gbps * 1e9) : 0;
}

// Falls back to the f32 entry of the backend for a class this dtype did not calibrate, then to
// the roofline at the entry's median efficiency (said in `assumed`).
// working_set: what an inference touches (point_s: warm or cold caches).
double node_time(const Calibration& cal, const BackendCalibration& c, const Problem& p,
                 double working_set, std::set<std::string>& assumed) {
  const std::string cls = op_class(p);
  const double flops = p.flops(), bytes = traffic_bytes(p);
  const double work = memory_bound_class(cls) ? bytes : flops;
  double t = class_time(c, cls, &p, work, working_set);
  // A calibration of method 3 or older has no stems: convolutions stand in.
  if (t < 0 && cls == "stem") t = class_time(c, "conv", &p, work, working_set);
  if (t < 0 && c.dtype != "f32")
    if (const auto* f = cal.find(c.backend, "f32")) t = class_time(*f, cls, &p, work, working_set);
  if (t < 0) {
    std::vector<double> effs;
    for (const auto& pt : c.points)
      if (pt.efficiency > 0) effs.push_back(pt.efficiency);
    const double roof = roofline_s(flops, bytes, c.peak_gflops, c.bandwidth_gbps);
    t = roof > 0 && !effs.empty() ? roof / median(effs) : 0;
    assumed.insert(cls + " layers: not calibrated on " + c.backend + " " + c.dtype + "; " +
                   (t > 0 ? "the roofline at the calibration's median efficiency"
                          : "no roofline either: the shortest calibrated node"));
  }
  return std::max(t, dispatch_floor(c));
}

Costs walk(const Graph& g, const Calibration& cal, const BackendCalibration& c, const Plan& plan,
           const Projector& sc) {
  Costs out;
  out.layer_s.assign(g.layers.size(), 0);
  out.overhead_s.assign(g.layers.size(), 0);
  const double weight_bytes = static_cast<double>(g.figures().weight_bytes);
  // The working set of an inference: the weights and the activations alive together, about
  // twice the largest value (a layer's input and output).
  std::int64_t largest = 0;
  for (std::size_t v = 0; v < g.values.size(); ++v)
    largest = std::max(largest, value_bytes(g, static_cast<int>(v)));
  const double working_set = weight_bytes + 2.0 * static_cast<double>(largest);
  const double cold = cold_fraction(c, working_set);
  // A dtype's small ops run in f32 (calibrate measures the streamed chain there), and its GEMVs
  // stream as the f32 ones do.
  const BackendCalibration* f32 = c.dtype == "f32" ? &c : cal.find(c.backend, "f32");
  const double stream_s = f32 ? f32->stream_node_s : 0;
  const auto scale_at = [&](std::vector<std::pair<double, double>> pts) {
    if (pts.empty()) return 1.0;
    std::sort(pts.begin(), pts.end());
    return weight_bytes <= pts.front().first  ? pts.front().second
           : weight_bytes >= pts.back().first ? pts.back().second
                                              : loglog_between(pts, weight_bytes);
  };
  // A quantising pass (f32 in, u8 out; requantises_int8) is the backend's own reorder, a stream
  // as its f32 elementwise ops are: the smallest calibrated one's time, plus the bytes at the
  // largest one's rate. Not the host ops' rate, measured on strided permutes: 2.5 GB/s against
  // oneDNN's 87, which had charged MobileNetV2's image 0.31 ms where oneDNN takes about 0.01.
  double quant_fixed_s = c.host_op_s, quant_gbps = c.host_gbps;
  if (f32) {
    const OpPoint *lo = nullptr, *hi = nullptr;
    for (const auto& p : f32->points) {
      if (p.op_class != "eltwise" || p.node_s <= 0 || p.bytes <= 0) continue;
      if (!lo || p.bytes < lo->bytes) lo = &p;
      if (!hi || p.bytes > hi->bytes) hi = &p;
    }
    if (lo && hi && hi->bytes > lo->bytes) {
      quant_fixed_s = lo->node_s;
      quant_gbps = hi->bytes / hi->node_s / 1e9;
    }
  }
  const double gemv_scale = f32 ? scale_at(f32->stream_gemv) : 1;
  const double gemv_scale_serial =
      f32 && !f32->stream_gemv_serial.empty() ? scale_at(f32->stream_gemv_serial) : gemv_scale;
  // This machine's cores (not projected onto another device's).
  const std::vector<double> crossing = c.cross_core_gbps > 0 && !sc.target
                                           ? crossing_bytes(g, plan, c.serial_flops)
                                           : std::vector<double>(g.layers.size(), 0);
  const std::vector<bool> requantised =
      c.requantises_int8 ? requantised_values(g, plan) : std::vector<bool>();
  std::vector<int> last_step(g.values.size(), -1);
  for (std::size_t si = 0; si < plan.steps.size(); ++si)
    for (const auto* list : {&plan.steps[si], &plan.folded_into[si]})
      for (std::size_t li : *list)
        for (const auto& o : g.layers[li].in)
          if (o.kind == Operand::value)
            last_step[static_cast<std::size_t>(plan.source[static_cast<std::size_t>(o.index)])] =
                static_cast<int>(si);
  for (std::size_t si = 0; si < plan.steps.size(); ++si) {
    const auto& step = plan.steps[si];
    if (!plan.is_segment[si]) {
      const Layer& l = g.layers[step[0]];
      double bytes = static_cast<double>(value_bytes(g, l.out));
      for (const auto& o : l.in)
        if (o.kind == Operand::value) bytes += static_cast<double>(value_bytes(g, o.index));
      // A KV-cache write reads its rows (in0) and writes them into the cache (in1, aliased by
      // the output), whose other rows it leaves alone.
      if (l.host == HostOp::kv_write && !l.in.empty() && l.in[0].kind == Operand::value)
        bytes = 2.0 * static_cast<double>(value_bytes(g, l.in[0].index));
      out.layer_s[step[0]] = c.host_op_s + sc.bandwidth(rate_s(bytes, c.host_gbps)) +
                             rate_s(crossing[step[0]], c.cross_core_gbps);
      continue;
    }
    // Segment: its inputs (values written before it) and outputs (read after it).
    std::set<int> produced, inputs;
    double io = 0;
    std::vector<std::size_t> members = step;
    members.insert(members.end(), plan.folded_into[si].begin(), plan.folded_into[si].end());
    std::sort(members.begin(), members.end());  // execution order: writers before readers
    for (std::size_t li : members) {
      for (const auto& o : g.layers[li].in) {
        if (o.kind != Operand::value) continue;
        const int v = plan.source[static_cast<std::size_t>(o.index)];
        if (!produced.count(v) && inputs.insert(v).second)
          io += static_cast<double>(value_bytes(g, v));
      }
      produced.insert(g.layers[li].out);
    }
    for (int v : produced)
      if (last_step[static_cast<std::size_t>(v)] > static_cast<int>(si) || v == g.output)
        io += static_cast<double>(value_bytes(g, v));
    for (std::size_t li : step) {
      const Problem& p = *g.layers[li].problem;
      const std::string cls = op_class(p);
      double t = node_time(cal, c, p, working_set, out.assumed);
      if (cls == "gemv")
        t *= std::pow(
            c.serial_flops > 0 && p.flops() < c.serial_flops ? gemv_scale_serial : gemv_scale,
            cold);
      out.layer_s[li] = sc.node(t, p.flops(), traffic_bytes(p)) + c.mixed_node_s +
                        rate_s(crossing[li], c.cross_core_gbps);
      if (small_op_class(cls)) out.layer_s[li] += stream_s * cold;
      if (c.requantises_int8 && !requantised.empty()) {
        const int q = quantised_input(g, plan, li);
        const int src = q >= 0 ? plan.source[static_cast<std::size_t>(q)] : -1;
        if (src >= 0 && !requantised[static_cast<std::size_t>(src)])
          out.layer_s[li] +=
              quant_fixed_s +
              sc.bandwidth(
                  rate_s(static_cast<double>(value_bytes(g, src) + value_bytes(g, q)), quant_gbps));
      }
      out.problems.insert(p.str());
      ++out.class_nodes[cls];
    }
    const bool after_host = si > 0 && !plan.is_segment[si - 1];
    const double overhead = c.graph_s + (after_host ? c.segment_switch_s : 0.0) +
                            sc.bandwidth(rate_s(io, c.transfer_gbps));
    out.layer_s[step.front()] += overhead;
    out.overhead_s[step.front()] = overhead;
  }
  for (double t : out.layer_s) out.total_s += t;
  return out;
}

double compile_per_node(const BackendCalibration& c, const std::string& cls) {
  std::vector<double> v, all;
  for (const auto& p : c.points) {
    if (p.compile_s < 0) continue;
    all.push_back(p.compile_s);
    if (p.op_class == cls) v.push_back(p.compile_s);
  }
  const double m = median(v.empty() ? all : v);
  return m > 0 ? m : 0;
}

// Helpers for checked JSON reading: errors name the field.
struct Reader {
  const json& j;
  std::string at;
  Result<double> num(const char* k, bool required = true, double fallback = -1) const {
    if (!j.contains(k) || j[k].is_null()) {
      if (required) return make_error(at + "/" + k + ": missing");
      return fallback;
    }
    if (!j[k].is_number()) return make_error(at + "/" + k + ": expected a number");
    return j[k].get<double>();
  }
  Result<std::string> str(const char* k, bool required = true) const {
    if (!j.contains(k)) {
      if (required) return make_error(at + "/" + k + ": missing");
      return std::string();
    }
    if (!j[k].is_string()) return make_error(at + "/" + k + ": expected a string");
    return j[k].get<std::string>();
  }
};

}  // namespace

std::string op_class(const Problem& p) {
  if (const auto* g = p.as<GemmDesc>()) return g->batch * g->m <= 4 ? "gemv" : "gemm";
  if (const auto* c = p.as<ConvDesc>()) {
    if (c->groups > 1 && c->groups == c->c) return "depthwise";
    if (c->groups == 1 && c->c <= 4) return "stem";
    return c->r * c->s == 1 ? "pointwise" : "conv";
  }
  if (p.as<AttentionDesc>()) return "attention";
  if (p.as<RowDesc>()) return "row";
  if (p.as<PoolDesc>()) return "pool";
  if (p.as<EmbedDesc>()) return "embed";
  if (p.as<RopeDesc>()) return "rope";
  return "eltwise";  // binary; a KV-cache write (a copy of one token's rows); permute, slice
}

bool small_op_class(std::string_view c) {
  return c != "conv" && c != "stem" && c != "pointwise" && c != "depthwise" && c != "gemm" &&
         c != "gemv";
}

bool memory_bound_class(std::string_view c) {
  return c == "gemv" || c == "depthwise" || c == "row" || c == "eltwise" || c == "rope" ||
         c == "pool" || c == "embed";
}

double traffic_bytes(const Problem& p) {
  if (p.as<EmbedDesc>()) return 2.0 * static_cast<double>(spec_bytes(p.outputs().at(0)));
  if (const auto* w = p.as<KvWriteDesc>())  // in place: the token's rows read and written
    return static_cast<double>(w->h * w->d) *
           (4.0 + static_cast<double>(dtype_size(p.outputs().at(0).dtype)));
  if (p.as<SliceDesc>())  // the rows taken, read and written (not the whole input)
    return 2.0 * static_cast<double>(spec_bytes(p.outputs().at(0)));
  return p.min_bytes();
}

double roofline_s(double flops, double bytes, double peak_gflops, double bandwidth_gbps) {
  double t = 0;
  if (peak_gflops > 0) t = std::max(t, flops / (peak_gflops * 1e9));
  if (bandwidth_gbps > 0) t = std::max(t, bytes / (bandwidth_gbps * 1e9));
  return t;
}

double DeviceSpec::peak_for(std::string_view dtype) const {
  if (is_int8(dtype) && int8_gops > 0) return int8_gops;
  if ((dtype == "bf16" || dtype == "f16") && bf16_gflops > 0) return bf16_gflops;
  return f32_gflops;
}

const BackendCalibration* Calibration::find(std::string_view backend,
                                            std::string_view dtype) const {
  for (const auto& e : entries)
    if (e.backend == backend && (e.dtype == dtype || (is_int8(e.dtype) && is_int8(dtype))))
      return &e;
  return nullptr;
}

namespace {
bool has_quantize(const Graph& g) {
  return std::any_of(g.layers.begin(), g.layers.end(),
                     [](const Layer& l) { return l.host == HostOp::quantize; });
}
}  // namespace

namespace {
// `graph` with its permutes and KV-cache writes where the executor would run them on c's backend.
Graph placed_moves(const Graph& graph, const BackendCalibration& c, const PredictOptions& o) {
  const auto runs = [&](const Problem& p) { return !o.supports || o.supports(p); };
  Graph base = graph;
  if (c.permutes_on_device) workloads::device_copies(base, runs);
  Graph g = base;
  if (!c.kv_writes_on_device) return g;
  std::vector<bool> keep_host(g.layers.size(), false);
  for (;;) {
    const std::vector<std::size_t> moved = workloads::device_kv_writes(g, runs, keep_host);
    const workloads::ExecutionPlan ep = workloads::plan_execution(
        g, [&](std::size_t) { return c.fuses_int8_epilogue; }, has_quantize(g));
    const std::vector<std::size_t> apart = workloads::kv_writes_apart(g, ep, moved);
    if (apart.empty()) return g;
    g = base;
    for (std::size_t li : apart) keep_host[li] = true;
  }
}
}  // namespace

double thread_crossing_bytes(const Graph& g, const BackendCalibration& c) {
  const std::vector<double> b =
      crossing_bytes(g, make_plan(g, c.fuses_int8_epilogue, has_quantize(g)), c.serial_flops);
  return std::accumulate(b.begin(), b.end(), 0.0);
}

int quantising_passes(const Graph& g, const BackendCalibration& c) {
  const Plan plan = make_plan(g, c.fuses_int8_epilogue, has_quantize(g));
  const std::vector<bool> requantised = requantised_values(g, plan);
  int n = 0;
  for (std::size_t li = 0; li < g.layers.size(); ++li) {
    const int q = quantised_input(g, plan, li);
    n += q >= 0 && !requantised[static_cast<std::size_t>(plan.source[static_cast<std::size_t>(q)])];
  }
  return n;
}

double peak_memory_bytes(const Graph& g, const BackendCalibration& c) {
  const double w = static_cast<double>(g.figures().weight_bytes);
  double values = 0;
  for (const auto& v : g.values) values += static_cast<double>(v.bytes());
  return w * (1 + std::max(0.0, c.weight_copy) + std::max(0.0, c.weight_transient)) + values +
         std::max(0.0, c.memory_floor_bytes);
}

ModelEstimate predict(const Graph& graph, const Calibration& cal, std::string_view backend,
                      const PredictOptions& o) {
  ModelEstimate e;
  e.backend = std::string(backend);
  e.workload = graph.tier + ":" + graph.variant + ":" + workloads::tier_dtype_name(graph.dtype);
  e.source = o.target ? "projected" : "predicted";
  const auto f = graph.figures();
  e.weight_bytes = static_cast<std::uint64_t>(f.weight_bytes);
  const std::string dtype = workloads::tier_dtype_name(graph.dtype);
  const BackendCalibration* c = cal.find(backend, dtype);
  const auto infeasible = [&](std::string why) {
    e.feasible = false;
    e.why = std::move(why);
    return e;
  };
  if (!c)
    return infeasible("no calibration of " + std::string(backend) + " " + dtype +
                      ": run 'tierbench calibrate'");
  if (o.target && (c->peak_gflops <= 0 || c->bandwidth_gbps <= 0))
    return infeasible(
        "the calibration has no probed roofline to project from: run 'tierbench "
        "probe' before 'tierbench calibrate'");
  if (o.supports)
    for (const auto& l : graph.layers)
      if (l.problem && !o.supports(*l.problem))
        return infeasible("unsupported: " + l.problem->str());

  const Projector sc{c, o.target ? &*o.target : nullptr};
  // The graph as the executor runs it there: copies and KV-cache writes in the segments where
  // the backend has the kernels (the same placement, device_copies and device_kv_writes, and
  // the same rule that a cache and its readers share a step).
  const Graph g = placed_moves(graph, *c, o);
  const Plan plan = make_plan(g, c->fuses_int8_epilogue, has_quantize(g));
  const Costs costs = walk(g, cal, *c, plan, sc);
  e.latency_ms = costs.total_s * 1e3;
  e.assumed.assign(costs.assumed.begin(), costs.assumed.end());

  // Cold start.
  const double storage = o.target ? o.target->storage_gbps : cal.storage_read_gbps;
  e.read_ms = rate_s(static_cast<double>(f.weight_bytes), storage) * 1e3;
  double compile = 0;
  std::map<std::string, std::string> cls_of;
  for (const auto& l : g.layers)
    if (l.problem) cls_of[l.problem->str()] = op_class(*l.problem);
  for (const auto& pstr : costs.problems) compile += compile_per_node(*c, cls_of[pstr]);
  const bool dynamic = std::any_of(g.layers.begin(), g.layers.end(), [](const Layer& l) {
    return l.host == HostOp::quantize && l.qscale <= 0;
  });
  if (dynamic) {  // calibration: the plan without folded quantization, prepared and run once
    // (static scales, an imported QDQ model's, need none)
    const Costs cal_run = walk(g, cal, *c, make_plan(g, c->fuses_int8_epilogue, false), sc);
    compile = 2 * compile + cal_run.total_s;
  }
  e.compile_ms = compile * 1e3;
  e.upload_ms = sc.bandwidth(rate_s(static_cast<double>(f.weight_bytes), c->upload_gbps)) * 1e3;
  e.first_inference_ms = e.latency_ms * std::max(0.0, c->first_ratio - 1);

  e.peak_memory_bytes = static_cast<std::uint64_t>(peak_memory_bytes(g, *c));
  for (std::size_t li = 0; li < g.layers.size(); ++li)
    e.layers.push_back({g.layers[li].name, costs.layer_s[li] * 1e3,
                        static_cast<std::uint64_t>(value_bytes(g, g.layers[li].out)),
                        costs.overhead_s[li] * 1e3});
  const double limit = o.target && o.target->memory_gib > 0
                           ? buckets().fit_fraction * o.target->memory_gib * 1073741824.0
                           : o.memory_limit_bytes;
  if (limit > 0 && static_cast<double>(e.peak_memory_bytes) > limit) {
    e.feasible = false;
    e.why = "does not fit: needs " + std::to_string(e.peak_memory_bytes >> 20) + " MiB, has " +
            std::to_string(static_cast<std::uint64_t>(limit) >> 20) + " MiB";
  }
  return e;
}

json to_json(const Calibration& c) {
  json entries = json::array();
  for (const auto& e : c.entries) {
    json pts = json::array();
    for (const auto& p : e.points)
      pts.push_back({{"op_class", p.op_class},
                     {"problem", p.problem},
                     {"flops", p.flops},
                     {"bytes", p.bytes},
                     {"node_s", p.node_s},
                     {"node_cold_s", p.node_cold_s > 0 ? json(p.node_cold_s) : json()},
                     {"compile_s", p.compile_s},
                     {"efficiency", p.efficiency > 0 ? json(p.efficiency) : json()}});
    entries.push_back({{"backend", e.backend},
                       {"device", e.device},
                       {"dtype", e.dtype},
                       {"threads", e.threads},
                       {"isa", e.isa},
                       {"graph_s", e.graph_s},
                       {"segment_switch_s", e.segment_switch_s},
                       {"transfer_gbps", e.transfer_gbps},
                       {"host_gbps", e.host_gbps},
                       {"host_op_s", e.host_op_s},
                       {"upload_gbps", e.upload_gbps},
                       {"weight_copy", e.weight_copy},
                       {"memory_floor_bytes", e.memory_floor_bytes},
                       {"weight_transient", e.weight_transient},
                       {"first_ratio", e.first_ratio},
                       {"mixed_node_s", e.mixed_node_s},
                       {"stream_node_s", e.stream_node_s},
                       {"stream_gemv", e.stream_gemv},
                       {"stream_gemv_serial", e.stream_gemv_serial},
                       {"serial_flops", e.serial_flops},
                       {"cross_core_gbps", e.cross_core_gbps},
                       {"fuses_int8_epilogue", e.fuses_int8_epilogue},
                       {"kv_writes_on_device", e.kv_writes_on_device},
                       {"permutes_on_device", e.permutes_on_device},
                       {"requantises_int8", e.requantises_int8},
                       {"peak_gflops", e.peak_gflops > 0 ? json(e.peak_gflops) : json()},
                       {"bandwidth_gbps", e.bandwidth_gbps > 0 ? json(e.bandwidth_gbps) : json()},
                       {"warm_bytes", e.warm_bytes > 0 ? json(e.warm_bytes) : json()},
                       {"cold_bytes", e.cold_bytes > 0 ? json(e.cold_bytes) : json()},
                       {"points", pts}});
  }
  return {{"created_utc", c.created_utc},
          {"label", c.label},
          {"method", c.method},
          {"storage_read_gbps", c.storage_read_gbps > 0 ? json(c.storage_read_gbps) : json()},
          {"entries", entries}};
}

Result<Calibration> calibration_from_json(const json& j) {
  if (!j.is_object()) return make_error("calibration: expected an object");
  Calibration c;
  const Reader top{j, "calibration"};
  auto created = top.str("created_utc", false);
  auto label = top.str("label", false);
  auto storage = top.num("storage_read_gbps", false);
  if (!created) return created.error();
  if (!label) return label.error();
  if (!storage) return storage.error();
  c.created_utc = *created, c.label = *label, c.storage_read_gbps = *storage;
  if (j.contains("method")) {
    if (!j["method"].is_number_integer() || j["method"].get<std::int64_t>() < 1 ||
        j["method"].get<std::int64_t>() > 1000)
      return make_error("calibration/method: expected an integer from 1");
    c.method = j["method"].get<int>();
  }
  if (!j.contains("entries") || !j["entries"].is_array())
    return make_error("calibration/entries: expected an array");
  for (std::size_t i = 0; i < j["entries"].size(); ++i) {
    const json& ej = j["entries"][i];
    const std::string at = "calibration/entries/" + std::to_string(i);
    if (!ej.is_object()) return make_error(at + ": expected an object");
    const Reader r{ej, at};
    BackendCalibration e;
    for (auto [k, dst] : {std::pair{"backend", &e.backend}, std::pair{"dtype", &e.dtype}}) {
      auto s = r.str(k);
      if (!s) return s.error();
      *dst = *s;
    }
    auto dev = r.str("device", false), isa = r.str("isa", false);
    if (!dev) return dev.error();
    if (!isa) return isa.error();
    e.device = *dev, e.isa = *isa;
    for (auto [k, dst, req] :
         {std::tuple{"graph_s", &e.graph_s, true},
          std::tuple{"transfer_gbps", &e.transfer_gbps, true},
          std::tuple{"segment_switch_s", &e.segment_switch_s, false},
          std::tuple{"host_gbps", &e.host_gbps, true}, std::tuple{"host_op_s", &e.host_op_s, false},
          std::tuple{"upload_gbps", &e.upload_gbps, true},
          std::tuple{"weight_copy", &e.weight_copy, false},
          std::tuple{"memory_floor_bytes", &e.memory_floor_bytes, false},
          std::tuple{"weight_transient", &e.weight_transient, false},
          std::tuple{"first_ratio", &e.first_ratio, false},
          std::tuple{"mixed_node_s", &e.mixed_node_s, false},
          std::tuple{"stream_node_s", &e.stream_node_s, false},
          std::tuple{"serial_flops", &e.serial_flops, false},
          std::tuple{"cross_core_gbps", &e.cross_core_gbps, false},
          std::tuple{"peak_gflops", &e.peak_gflops, false},
          std::tuple{"bandwidth_gbps", &e.bandwidth_gbps, false},
          std::tuple{"warm_bytes", &e.warm_bytes, false},
          std::tuple{"cold_bytes", &e.cold_bytes, false}}) {
      auto v = r.num(k, req, *dst);
      if (!v) return v.error();
      if (req && *v < 0) return make_error(at + "/" + k + ": expected >= 0");
      *dst = *v;
    }
    auto threads = r.num("threads", false, 0);
    if (!threads) return threads.error();
    e.threads = static_cast<int>(*threads);
    for (auto [key, dst] : {std::pair{"stream_gemv", &e.stream_gemv},
                            std::pair{"stream_gemv_serial", &e.stream_gemv_serial}}) {
      if (!ej.contains(key)) continue;
      const json& sg = ej[key];
      bool ok = sg.is_array();
      for (const auto& x : ok ? sg : json::array()) {
        ok = ok && x.is_array() && x.size() == 2 && x[0].is_number() && x[1].is_number() &&
             x[0].get<double>() > 0 && x[1].get<double>() > 0;
        if (ok) dst->emplace_back(x[0].get<double>(), x[1].get<double>());
      }
      if (!ok)
        return make_error(at + "/" + key + ": expected [[weight bytes, ratio], ...], both > 0");
    }
    e.fuses_int8_epilogue = ej.value("fuses_int8_epilogue", false);
    e.kv_writes_on_device = ej.value("kv_writes_on_device", false);
    e.permutes_on_device = ej.value("permutes_on_device", false);
    e.requantises_int8 = ej.value("requantises_int8", false);
    if (!ej.contains("points") || !ej["points"].is_array())
      return make_error(at + "/points: expected an array");
    for (std::size_t k = 0; k < ej["points"].size(); ++k) {
      const json& pj = ej["points"][k];
      const std::string pat = at + "/points/" + std::to_string(k);
      if (!pj.is_object()) return make_error(pat + ": expected an object");
      const Reader pr{pj, pat};
      OpPoint p;
      auto cls = pr.str("op_class"), prob = pr.str("problem");
      if (!cls) return cls.error();
      if (!prob) return prob.error();
      p.op_class = *cls, p.problem = *prob;
      for (auto [kk, dst] :
           {std::pair{"flops", &p.flops}, std::pair{"bytes", &p.bytes},
            std::pair{"node_s", &p.node_s}, std::pair{"compile_s", &p.compile_s}}) {
        auto v = pr.num(kk);
        if (!v) return v.error();
        if (*v < 0) return make_error(pat + "/" + kk + ": expected >= 0");
        *dst = *v;
      }
      auto eff = pr.num("efficiency", false);
      if (!eff) return eff.error();
      p.efficiency = *eff;
      auto cold = pr.num("node_cold_s", false);
      if (!cold) return cold.error();
      p.node_cold_s = *cold;
      e.points.push_back(std::move(p));
    }
    c.entries.push_back(std::move(e));
  }
  return c;
}

}  // namespace tb::profiles

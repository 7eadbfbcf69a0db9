#include "executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

namespace tb::workloads {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
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

struct Executor::KernelLayer {
  std::unique_ptr<PreparedKernel> kernel;
  std::vector<Tensor> slots;             // the kernel's inputs, weights included
  std::vector<std::size_t> activations;  // slot indices fed from values
  std::vector<Tensor> outs;
  bool input_only = false;  // upload_input works: activations alone are sent per inference
  // An s8 kernel whose s32 output only a host dequantize reads: the dequantize layer (or -1).
  // When the backend has the +scales epilogue, prepare() fuses the dequantize into the kernel:
  // `fused` is set, slots gain a_scale, b_scale, bias and (optional) residual, outs become f32.
  int dequant = -1;
  bool fused = false;
  std::size_t base_slots = 0;  // slots of the unfused kernel
};

Executor::Executor(Graph g, std::vector<Tensor> weights, std::uint64_t seed)
    : g_(std::move(g)), weights_(std::move(weights)) {
  std::uint64_t s = seed ^ 0x5eedull;
  values_.reserve(g_.values.size());
  for (const auto& v : g_.values) {
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
    values_.push_back(std::move(t));
  }
  qscale_.assign(g_.values.size(), 1.0f);
  qzp_.assign(g_.values.size(), 0);

  // A weight read by one kernel only moves into that kernel's slots; shared ones are copied.
  std::vector<int> uses(g_.weights.size(), 0);
  for (const auto& l : g_.layers)
    for (std::size_t i = 0; i < l.in.size(); ++i)  // dequantize's weights: colsum_ only, below
      if (l.in[i].kind == Operand::weight && !(l.host == HostOp::dequantize && i == 2))
        ++uses[static_cast<std::size_t>(l.in[i].index)];
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
  kernels_.resize(g_.layers.size());
  fused_dequant_.assign(g_.layers.size(), false);
  for (std::size_t li = 0; li < g_.layers.size(); ++li) {
    const Layer& l = g_.layers[li];
    if (!l.problem) continue;
    auto k = std::make_unique<KernelLayer>();
    const auto specs = l.problem->inputs();
    for (std::size_t i = 0; i < l.in.size(); ++i) {
      const Operand& o = l.in[i];
      if (o.kind == Operand::weight) {
        Tensor& w = weights_[static_cast<std::size_t>(o.index)];
        if (uses[static_cast<std::size_t>(o.index)] == 1)
          k->slots.push_back(std::move(w));
        else
          k->slots.push_back(w);
        // Same bytes, the kernel's shape (e.g. [n][k] weights as gemm's [1][n][k]).
        Tensor& t = k->slots.back();
        if (t.shape() != specs[i].shape) {
          Tensor r(specs[i].dtype, specs[i].shape);
          std::memcpy(r.raw(), t.raw(), t.bytes());
          t = std::move(r);
        }
      } else {
        k->slots.emplace_back(specs[i].dtype, specs[i].shape);
        k->activations.push_back(i);
      }
    }
    k->outs = make_outputs(*l.problem);
    k->base_slots = k->slots.size();
    kernels_[li] = std::move(k);
  }
  for (std::size_t li = 0; li < g_.layers.size(); ++li) {
    const Layer& l = g_.layers[li];
    if (l.host != HostOp::dequantize) continue;
    for (std::size_t ki = 0; ki < li; ++ki)
      if (kernels_[ki] && g_.layers[ki].out == l.in[0].index)
        kernels_[ki]->dequant = static_cast<int>(li);
  }
}

// The kernel problem with its dequantize layer's work as a +scales epilogue. The activation's
// zero point folds into the bias (see fused_params), so the bias is always present.
Problem Executor::fused_problem(std::size_t li) const {
  const Layer& dq = g_.layers[static_cast<std::size_t>(kernels_[li]->dequant)];
  Problem p = *g_.layers[li].problem;
  p.post = {true, dq.act, dq.in[5].kind != Operand::none, true};
  return p;
}

// Sets kernel layer li up to run with its dequantize fused or not: the slots and outputs of the
// problem it will run.
void Executor::plan_fusion(std::size_t li, bool fuse) {
  KernelLayer& k = *kernels_[li];
  k.fused = fuse;
  k.slots.resize(k.base_slots);
  const Problem p = fuse ? fused_problem(li) : *g_.layers[li].problem;
  k.outs = make_outputs(p);
  if (!fuse) return;
  const Layer& dq = g_.layers[static_cast<std::size_t>(k.dequant)];
  const auto specs = p.inputs();
  for (std::size_t i = k.base_slots; i < specs.size(); ++i)
    k.slots.emplace_back(specs[i].dtype, specs[i].shape);
  // b_scale is the weights' per-channel scale: a weight, uploaded once.
  const Tensor& sw = operand(dq.in[3]);
  std::memcpy(k.slots[k.base_slots + 1].raw(), sw.raw(), sw.bytes());
}

std::vector<std::size_t> Executor::per_inference_slots(const KernelLayer& k) {
  std::vector<std::size_t> v = k.activations;
  if (k.fused) {  // a_scale, bias; the residual when there is one
    v.push_back(k.base_slots);
    v.push_back(k.base_slots + 2);
    if (k.slots.size() > k.base_slots + 3) v.push_back(k.base_slots + 3);
  }
  return v;
}

// Per inference: the activation scale and the bias with the zero-point compensation folded in,
//   bias'[n] = bias[n] - zp s_a s_w[n] sum_k w[n][k]
// (y = act(s_a s_w[n] (acc - zp sum_k w) + bias) = act(acc s_a s_w[n] + bias')).
void Executor::fused_params(std::size_t li) {
  KernelLayer& k = *kernels_[li];
  const auto dqi = static_cast<std::size_t>(k.dequant);
  const Layer& dq = g_.layers[dqi];
  const auto qin = static_cast<std::size_t>(dq.in[1].index);
  const float sa = qscale_[qin];
  const int zp = qzp_[qin];
  const float* sw = operand(dq.in[3]).data<float>();
  const float* bias = dq.in[4].kind == Operand::none ? nullptr : operand(dq.in[4]).data<float>();
  const auto& cs = colsum_[dqi];
  k.slots[k.base_slots].data<float>()[0] = sa;
  float* b = k.slots[k.base_slots + 2].data<float>();
  for (std::size_t n = 0; n < cs.size(); ++n)
    b[n] =
        static_cast<float>((bias ? bias[n] : 0.0) - static_cast<double>(zp) * sa * sw[n] * cs[n]);
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

std::string Executor::unsupported(Backend& b, int device) const {
  for (const auto& l : g_.layers) {
    if (!l.problem) continue;
    if (auto s = b.supports(*l.problem, device); !s.supported)
      return l.problem->str() + ": " + s.reason;
  }
  return {};
}

Result<PrepareCost> Executor::prepare(Backend& b, int device, int threads) {
  PrepareCost c;
  std::map<std::string, double> sums;
  for (auto& k : kernels_)
    if (k) k->kernel.reset();
  PrepareOptions po;
  po.device = device;
  po.threads = threads;
  const auto t0 = Clock::now();
  for (std::size_t li = 0; li < g_.layers.size(); ++li) {
    if (!kernels_[li]) continue;
    // int8 layers run their dequantize fused where the backend has +scales, on the host where not.
    if (kernels_[li]->dequant >= 0) {
      plan_fusion(li, b.supports(fused_problem(li), device).supported);
      fused_dequant_[static_cast<std::size_t>(kernels_[li]->dequant)] = kernels_[li]->fused;
    }
    const Problem p = kernels_[li]->fused ? fused_problem(li) : *g_.layers[li].problem;
    auto k = b.prepare(p, po);
    if (!k)
      return make_error("prepare " + g_.layers[li].name + " (" + p.str() +
                        "): " + k.error().message);
    kernels_[li]->kernel = std::move(k.value());
  }
  c.seconds = since(t0);
  // Times, counts and hits add up over layers; settings (threads, cache capacity) do not.
  const auto additive = [](const std::string& key) {
    for (const char* end : {"_s", "_hit", "_hits", "primitives", "_bytes"})
      if (key.ends_with(end)) return true;
    return false;
  };
  for (const auto& k : kernels_)
    if (k)
      for (const auto& [key, v] : k->kernel->details())
        sums[key] = additive(key) ? sums[key] + v : std::max(sums[key], v);
  sums["int8_fused_layers"] =
      static_cast<double>(std::count(fused_dequant_.begin(), fused_dequant_.end(), true));
  sums["kernels"] = static_cast<double>(
      std::count_if(kernels_.begin(), kernels_.end(), [](const auto& k) { return k != nullptr; }));
  c.details.assign(sums.begin(), sums.end());
  return c;
}

Result<double> Executor::upload_weights() {
  const auto t0 = Clock::now();
  for (std::size_t li = 0; li < kernels_.size(); ++li) {
    auto& k = kernels_[li];
    if (!k) continue;
    if (!k->kernel) return make_error("upload before prepare");
    if (auto r = k->kernel->upload(k->slots); !r)
      return make_error("upload " + g_.layers[li].name + ": " + r.error().message);
  }
  // Can each kernel replace its activations alone? Ask every one: a backend may support it for
  // some ops and not others; those get a full upload per inference.
  input_only_ = true;
  for (auto& k : kernels_)
    if (k && !k->activations.empty()) {
      bool ok = true;
      for (std::size_t i : per_inference_slots(*k))
        ok = ok && k->kernel->upload_input(i, k->slots[i]).ok();
      k->input_only = ok;
      input_only_ = input_only_ && k->input_only;
    }
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
  for (const auto& k : kernels_)
    if (k && k->kernel) {
      const auto x = k->kernel->memory();
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
  std::memcpy(in.raw(), input.raw(), in.bytes());
  for (std::size_t li = 0; li < g_.layers.size(); ++li) {
    const Layer& l = g_.layers[li];
    if (l.host == HostOp::dequantize && fused_dequant_[li]) continue;  // ran in its kernel
    if (!l.problem) {
      const auto th = Clock::now();
      if (auto r = run_host(l, li); !r) return make_error(l.name + ": " + r.error().message);
      c.host_s += since(th);
      continue;
    }
    KernelLayer& k = *kernels_[li];
    if (k.fused) {  // host work: a scalar and a per-channel vector
      const auto th = Clock::now();
      fused_params(li);
      c.host_s += since(th);
    }
    const auto tt = Clock::now();
    for (std::size_t i : k.activations) {
      const Tensor& v = values_[static_cast<std::size_t>(l.in[i].index)];
      std::memcpy(k.slots[i].raw(), v.raw(), v.bytes());
    }
    if (k.fused && k.slots.size() > k.base_slots + 3) {  // the dequantize's residual
      const Layer& dq = g_.layers[static_cast<std::size_t>(k.dequant)];
      const Tensor& v = operand(dq.in[5]);
      std::memcpy(k.slots.back().raw(), v.raw(), v.bytes());
    }
    if (k.input_only)
      for (std::size_t i : per_inference_slots(k))
        if (auto r = k.kernel->upload_input(i, k.slots[i]); !r)
          return make_error(l.name + ": upload_input: " + r.error().message);
    if (!k.input_only)
      if (auto r = k.kernel->upload(k.slots); !r)
        return make_error(l.name + ": upload: " + r.error().message);
    c.transfer_s += since(tt);
    auto e = k.kernel->execute();
    if (!e) return make_error(l.name + ": execute: " + e.error().message);
    c.kernel_s += e->seconds;
    const auto td = Clock::now();
    if (auto r = k.kernel->download(k.outs); !r)
      return make_error(l.name + ": download: " + r.error().message);
    // A fused kernel writes its dequantize's value (its own s32 one is never needed).
    const int out_v = k.fused ? g_.layers[static_cast<std::size_t>(k.dequant)].out : l.out;
    Tensor& out = values_[static_cast<std::size_t>(out_v)];
    std::memcpy(out.raw(), k.outs[0].raw(), out.bytes());
    c.transfer_s += since(td);
  }
  c.wall_s = since(t0);
  return c;
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
      const float* p = x.data<float>();
      const auto [lo, hi] = min_max0(p, n);
      const bool nonneg = lo >= 0;
      const float range = nonneg ? hi : std::max(-lo, hi);
      const float scale = range > 0 ? range / (nonneg ? 255.0f : 127.0f) : 1.0f;
      const int zp = nonneg ? 0 : 128;
      auto* q = out.data<std::uint8_t>();
      // Round to nearest even as nearbyint does (default rounding mode), without its libm call
      // per element: adding and subtracting 1.5 * 2^23 rounds any |v| < 2^22 (here |v| <= 255)
      // to an integer. The loop vectorises; it took most of an int8 tier's host time before.
      constexpr float kRound = 12582912.0f;
      for (std::int64_t i = 0; i < n; ++i) {
        const float r = (p[i] / scale + kRound) - kRound;
        q[i] = static_cast<std::uint8_t>(std::clamp(static_cast<int>(r) + zp, 0, 255));
      }
      qscale_[static_cast<std::size_t>(l.out)] = scale;
      qzp_[static_cast<std::size_t>(l.out)] = zp;
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
    case HostOp::none:
      break;
  }
  return make_error("not a host op");
}

}  // namespace tb::workloads

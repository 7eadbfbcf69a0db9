#include "device_graph.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

namespace tb {

namespace {}  // namespace

void quantize_u8(const float* p, std::int64_t n, const DeviceGraph::Node::Quant& q,
                 std::uint8_t* o) {
  // Round to nearest even without a libm call per element (exact for |v| < 2^22; beyond, and
  // for NaN, which fmin takes as 512, the value saturates: a static scale may be far from x's).
  constexpr float kRound = 12582912.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    const float r = std::fmax(-512.0f, std::fmin(512.0f, (p[i] / q.scale + kRound) - kRound));
    o[i] = static_cast<std::uint8_t>(std::clamp(static_cast<int>(r) + q.zp, 0, 255));
  }
}

void round_bf16(const float* x, std::int64_t n, std::uint16_t* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

Result<void> DeviceGraph::verify() const {
  const auto nv = static_cast<int>(values.size());
  std::vector<int> written(values.size(), 0);
  const auto check_id = [&](int v, const std::string& what) -> Result<void> {
    if (v < 0 || v >= nv)
      return make_error(what + ": value " + std::to_string(v) + " is not in the graph");
    return {};
  };
  for (int v : inputs) {
    if (auto r = check_id(v, "input"); !r) return r;
    ++written[static_cast<std::size_t>(v)];
  }
  for (int v : constants) {
    if (auto r = check_id(v, "constant"); !r) return r;
    ++written[static_cast<std::size_t>(v)];
  }
  std::vector<bool> state(values.size(), false);
  for (int v : states) {
    if (auto r = check_id(v, "state"); !r) return r;
    if (written[static_cast<std::size_t>(v)]++)
      return make_error("state " + values[static_cast<std::size_t>(v)].name +
                        " is also an input or a constant");
    state[static_cast<std::size_t>(v)] = true;
  }
  for (const auto& n : nodes) {
    const auto specs = n.problem.inputs();
    if (specs.size() != n.in.size())
      return make_error(n.name + ": " + std::to_string(n.in.size()) + " operands, " +
                        n.problem.str() + " takes " + std::to_string(specs.size()));
    for (std::size_t i = 0; i < n.in.size(); ++i) {
      if (auto r = check_id(n.in[i], n.name); !r) return r;
      const auto& v = values[static_cast<std::size_t>(n.in[i])];
      if (!written[static_cast<std::size_t>(n.in[i])])
        return make_error(n.name + ": reads " + v.name + " before it is written");
      const bool converted = i == 0 && (n.in_quant.on || n.in_cast);
      const DType want = converted ? DType::f32 : specs[i].dtype;
      if (i == 0 && n.in_quant.on && specs[i].dtype != DType::u8)
        return make_error(n.name + ": in_quant on an operand that is not u8");
      if (i == 0 && n.in_cast && specs[i].dtype != DType::bf16)
        return make_error(n.name + ": in_cast on an operand that is not bf16");
      if (v.dtype != want || spec_numel(v) != spec_numel(specs[i]))
        return make_error(n.name + ": operand " + specs[i].name + " does not match " + v.name);
    }
    if (auto r = check_id(n.out, n.name); !r) return r;
    const auto out = n.problem.outputs().at(0);
    const auto& v = values[static_cast<std::size_t>(n.out)];
    if (v.dtype != out.dtype || spec_numel(v) != spec_numel(out))
      return make_error(n.name + ": output does not match " + v.name);
    const bool in_place = n.problem.as<KvWriteDesc>() && n.in.size() == 2 && n.out == n.in[1];
    if (state[static_cast<std::size_t>(n.out)] != in_place)
      return make_error(n.name + ": " + v.name +
                        (in_place ? " is written in place but is not a state"
                                  : " is a state: only a kvwrite of it writes it, in place"));
    if (in_place) continue;
    if (written[static_cast<std::size_t>(n.out)]++)
      return make_error(n.name + ": " + v.name + " is written twice");
  }
  for (int v : outputs) {
    if (auto r = check_id(v, "output"); !r) return r;
    if (state[static_cast<std::size_t>(v)])
      return make_error("output " + values[static_cast<std::size_t>(v)].name + " is a state");
    if (!written[static_cast<std::size_t>(v)])
      return make_error("output " + values[static_cast<std::size_t>(v)].name + " is never written");
  }
  return {};
}

namespace {

using Clock = std::chrono::steady_clock;

// The staged graph: one PreparedKernel per node, each node's operands copied in from host
// tensors and its output copied back, in order.
class StagedGraph final : public PreparedGraph {
 public:
  StagedGraph(const DeviceGraph& g, std::string backend) : g_(g), backend_(std::move(backend)) {
    host_.resize(g_.values.size());
    for (std::size_t v = 0; v < g_.values.size(); ++v)
      host_[v] = Tensor(g_.values[v].dtype, g_.values[v].shape);
    role_.assign(g_.values.size(), Role::activation);
    for (int v : g_.constants) role_[static_cast<std::size_t>(v)] = Role::constant;
  }

  Result<void> prepare(Backend& b, const PrepareOptions& opts) {
    for (const auto& n : g_.nodes) {
      auto k = b.prepare(n.problem, opts);
      if (!k)
        return make_error("prepare " + n.name + " (" + n.problem.str() + "): " + k.error().message);
      Node node;
      node.kernel = std::move(k.value());
      for (const auto& s : n.problem.inputs()) node.slots.emplace_back(s.dtype, s.shape);
      for (const auto& s : n.problem.outputs()) node.outs.emplace_back(s.dtype, s.shape);
      nodes_.push_back(std::move(node));
    }
    return {};
  }

  Result<void> set_constants(std::span<const Tensor* const> constants) override {
    if (constants.size() != g_.constants.size()) return make_error("set_constants: wrong count");
    for (std::size_t i = 0; i < constants.size(); ++i) {
      Tensor& h = host_[static_cast<std::size_t>(g_.constants[i])];
      if (constants[i]->bytes() != h.bytes()) return make_error("set_constants: wrong size");
      std::memcpy(h.raw(), constants[i]->raw(), h.bytes());
    }
    // Every kernel gets all its operands once (weights into its layout); then each tries to take
    // its activations alone per run.
    for (std::size_t ni = 0; ni < nodes_.size(); ++ni) {
      Node& n = nodes_[ni];
      fill_slots(ni, true);
      if (auto r = n.kernel->upload(n.slots); !r)
        return make_error("upload " + g_.nodes[ni].name + ": " + r.error().message);
      n.input_only = true;
      for (std::size_t i = 0; i < n.slots.size(); ++i)
        if (!is_constant(g_.nodes[ni].in[i]))
          n.input_only = n.input_only && n.kernel->upload_input(i, n.slots[i]).ok();
    }
    return {};
  }

  // States live in the host values; a kvwrite node runs out of place into its own output and
  // the result is copied back over the state, as every node's output is.
  Result<void> set_states(std::span<const Tensor* const> states) override {
    if (states.size() != g_.states.size()) return make_error("set_states: wrong count");
    for (std::size_t i = 0; i < states.size(); ++i) {
      Tensor& h = host_[static_cast<std::size_t>(g_.states[i])];
      if (states[i]->bytes() != h.bytes() || states[i]->dtype() != h.dtype())
        return make_error("set_states: " + g_.values[static_cast<std::size_t>(g_.states[i])].name +
                          " has the wrong type or size");
      std::memcpy(h.raw(), states[i]->raw(), h.bytes());
    }
    return {};
  }

  Result<GraphRunStats> run(std::span<const Tensor* const> inputs,
                            std::span<Tensor* const> outputs) override {
    if (inputs.size() != g_.inputs.size() || outputs.size() != g_.outputs.size())
      return make_error("run: wrong number of inputs or outputs");
    GraphRunStats st;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      Tensor& h = host_[static_cast<std::size_t>(g_.inputs[i])];
      if (inputs[i]->bytes() != h.bytes())
        return make_error("run: input " + std::to_string(i) + " has the wrong size");
      std::memcpy(h.raw(), inputs[i]->raw(), h.bytes());
    }
    if (timing_) node_s_.assign(nodes_.size(), 0.0);
    for (std::size_t ni = 0; ni < nodes_.size(); ++ni) {
      Node& n = nodes_[ni];
      const auto& gn = g_.nodes[ni];
      const auto tn = std::chrono::steady_clock::now();
      fill_slots(ni, false);
      if (n.input_only) {
        for (std::size_t i = 0; i < n.slots.size(); ++i)
          if (!is_constant(gn.in[i])) {
            if (auto r = n.kernel->upload_input(i, n.slots[i]); !r)
              return make_error(gn.name + ": upload_input: " + r.error().message);
            st.bytes_to_device += n.slots[i].bytes();
          }
      } else {
        if (auto r = n.kernel->upload(n.slots); !r)
          return make_error(gn.name + ": upload: " + r.error().message);
        for (const auto& s : n.slots) st.bytes_to_device += s.bytes();
      }
      auto e = n.kernel->execute();
      if (!e) return make_error(gn.name + ": execute: " + e.error().message);
      st.kernel_s += e->seconds;
      st.kernel_timing = e->source;
      if (auto r = n.kernel->download(n.outs); !r)
        return make_error(gn.name + ": download: " + r.error().message);
      Tensor& out = host_[static_cast<std::size_t>(gn.out)];
      std::memcpy(out.raw(), n.outs[0].raw(), out.bytes());
      if (gn.act_after != Activation::none)  // on the host: this graph moves through it anyway
        for (std::int64_t i = 0; i < out.numel(); ++i)
          out.set(i, apply_activation(gn.act_after, static_cast<float>(out.at(i))));
      st.bytes_from_device += out.bytes();
      ++st.host_round_trips;
      // The node's whole cost in this graph: its copies in and out as well as the kernel.
      if (timing_)
        node_s_[ni] = std::chrono::duration<double>(std::chrono::steady_clock::now() - tn).count();
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& h = host_[static_cast<std::size_t>(g_.outputs[i])];
      if (outputs[i]->bytes() != h.bytes())
        return make_error("run: output " + std::to_string(i) + " has the wrong size");
      std::memcpy(outputs[i]->raw(), h.raw(), h.bytes());
    }
    // A host backend copies, it does not transfer.
    if (nodes_.empty() || memory().device_bytes == 0) st.bytes_to_device = st.bytes_from_device = 0;
    return st;
  }

  MemoryStats memory() const override {
    MemoryStats m;
    for (const auto& n : nodes_) {
      const auto x = n.kernel->memory();
      m.device_bytes += x.device_bytes, m.host_bytes += x.host_bytes,
          m.uploaded_bytes += x.uploaded_bytes;
    }
    return m;
  }

  std::vector<std::pair<std::string, double>> details() const override {
    // Times, counts and hits add up over nodes; settings (threads, cache capacity) do not.
    const auto additive = [](const std::string& key) {
      for (const char* end : {"_s", "_hit", "_hits", "primitives", "_bytes"})
        if (key.ends_with(end)) return true;
      return false;
    };
    std::map<std::string, double> sums;
    for (const auto& n : nodes_)
      for (const auto& [key, v] : n.kernel->details())
        sums[key] = additive(key) ? sums[key] + v : std::max(sums[key], v);
    return {sums.begin(), sums.end()};
  }

  bool time_nodes(bool on) override {
    timing_ = on;
    return true;
  }
  std::vector<double> node_seconds() const override { return node_s_; }

  std::string config() const override {
    return backend_ + " staged: " + std::to_string(nodes_.size()) +
           " kernels, activations through host memory between them";
  }

 private:
  enum class Role { activation, constant };
  struct Node {
    std::unique_ptr<PreparedKernel> kernel;
    std::vector<Tensor> slots, outs;
    bool input_only = false;
  };
  bool is_constant(int v) const { return role_[static_cast<std::size_t>(v)] == Role::constant; }
  // Copies the node's operands from the host values: all of them, or the activations only.
  void fill_slots(std::size_t ni, bool all) {
    Node& n = nodes_[ni];
    const auto& in = g_.nodes[ni].in;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (!all && is_constant(in[i])) continue;
      const Tensor& v = host_[static_cast<std::size_t>(in[i])];
      if (i == 0 && g_.nodes[ni].in_quant.on)
        quantize_u8(v, g_.nodes[ni].in_quant, n.slots[i]);
      else if (i == 0 && g_.nodes[ni].in_cast)
        round_bf16(v.data<float>(), v.numel(), n.slots[i].data<std::uint16_t>());
      else
        std::memcpy(n.slots[i].raw(), v.raw(), n.slots[i].bytes());
    }
  }

  DeviceGraph g_;
  std::string backend_;
  std::vector<Tensor> host_;
  std::vector<Role> role_;
  std::vector<Node> nodes_;
  bool timing_ = false;
  std::vector<double> node_s_;
};

}  // namespace

Result<std::unique_ptr<PreparedGraph>> make_staged_graph(Backend& b, const DeviceGraph& g,
                                                         const PrepareOptions& opts) {
  if (auto v = g.verify(); !v) return v.error();
  auto sg = std::make_unique<StagedGraph>(g, std::string(b.name()));
  if (auto r = sg->prepare(b, opts); !r) return r.error();
  return std::unique_ptr<PreparedGraph>(std::move(sg));
}

Result<std::unique_ptr<PreparedGraph>> Backend::prepare_graph(const DeviceGraph& g,
                                                              const PrepareOptions& opts) {
  return make_staged_graph(*this, g, opts);
}

}  // namespace tb

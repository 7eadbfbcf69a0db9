// The OpenCL device graph (Backend::prepare_graph, see device_graph.h): every node is a
// DeviceKernel bound to buffers the graph owns, and an inference is enqueued on the device's one
// in-order queue (the input writes, every node's launches, the output reads, none of them
// blocking) and waited for once, with clFinish.
//
// Memory plan. Constants get a buffer each, uploaded once by set_constants(); a constant that
// every reader repacks into its own layout (a packed GEMM's B, an implicit-GEMM conv's weights)
// is released after the repack. Inputs, intermediates and outputs share a pool of buffers by
// lifetime: a value lives from the node that writes it (the start of the run for an input) to the
// last node that reads it (the end of the run for an output), and takes the smallest free pooled
// buffer that fits, else grows the largest free one, else opens a new one. A node's output never
// shares with its operands (both live at that node). The queue is in order, so a buffer is free
// for the next value as soon as its last reader is enqueued.
//
// A node's act_after (an activation after its whole epilogue) is one more launch over its output,
// in place. A node's in_quant (f32 -> u8 with its calibrated scale and zero point) and in_cast
// (f32 -> bf16) are one launch before the node's, into a converted value of the node's own that
// the memory plan pools like any other (it lives for that node only), so int8 and bf16 graphs
// stay resident too.
//
// States (KV caches) get a buffer each for the graph's life, written once by set_states(); a
// kvwrite node bound with a state as its output writes the token's rows there, in place.
//
// Small inputs (at most kSmallInput bytes: the per-layer activation scales and biases of int8
// tiers) are not pooled: each is a sub-buffer of one buffer, and a run copies them into one host
// staging block and writes that with one transfer instead of one transfer each.
//
// Operands a kernel repacks (the packed GEMM's A panel, and B or conv weights when they are not
// constants) are repacked on the device inside the run, before the node's launches.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>

#include "../device_graph.h"
#include "opencl_internal.h"
#include "opencl_op.h"
#include "program_cache.h"

namespace tb::ocl {

namespace {

struct MemoryPlan {
  std::vector<int> slot;                // per value: its pooled buffer, -1 when not pooled
  std::vector<std::size_t> slot_bytes;  // per pooled buffer
  std::size_t unshared_bytes = 0;       // one buffer per pooled value would take this
  int pooled_values = 0;
};

// An operand converted on the way into a node (in_quant, in_cast): value `from` (f32) into the
// graph's own value `to` (u8 or bf16), a launch before node `node`'s.
struct Conversion {
  int node = -1, from = -1, to = -1;
};

// Lifetimes in node steps: -1 is the input writes, nodes.size() the output reads. `values` is
// g.values followed by the conversions' values, which live at their node's step only.
MemoryPlan plan_memory(const DeviceGraph& g, const std::vector<TensorSpec>& values,
                       const std::vector<bool>& constant, const std::vector<Conversion>& conv) {
  const std::size_t nv = values.size();
  const int steps = static_cast<int>(g.nodes.size());
  std::vector<int> first(nv, INT_MAX), last(nv, INT_MIN);
  for (int v : g.inputs) first[static_cast<std::size_t>(v)] = -1;
  for (int i = 0; i < steps; ++i) {
    const auto& n = g.nodes[static_cast<std::size_t>(i)];
    first[static_cast<std::size_t>(n.out)] = std::min(first[static_cast<std::size_t>(n.out)], i);
    for (int v : n.in) last[static_cast<std::size_t>(v)] = i;  // nodes are in order
  }
  for (const Conversion& c : conv)
    first[static_cast<std::size_t>(c.to)] = last[static_cast<std::size_t>(c.to)] = c.node;
  for (int v : g.outputs) last[static_cast<std::size_t>(v)] = steps;
  std::vector<int> order;
  for (std::size_t v = 0; v < nv; ++v)
    if (!constant[v] && first[v] != INT_MAX) {
      last[v] = std::max(last[v], first[v]);  // written, never read: still needs a buffer
      order.push_back(static_cast<int>(v));
    }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return first[static_cast<std::size_t>(a)] < first[static_cast<std::size_t>(b)];
  });

  MemoryPlan plan;
  plan.slot.assign(nv, -1);
  std::vector<int> busy_until;  // per pooled buffer: the last step of its current value
  for (int v : order) {
    const auto vu = static_cast<std::size_t>(v);
    const std::size_t need = spec_bytes(values[vu]);
    plan.unshared_bytes += need;
    ++plan.pooled_values;
    int best = -1;
    for (std::size_t s = 0; s < busy_until.size(); ++s) {
      if (busy_until[s] >= first[vu]) continue;
      if (best < 0) {
        best = static_cast<int>(s);
        continue;
      }
      const std::size_t have = plan.slot_bytes[s],
                        cur = plan.slot_bytes[static_cast<std::size_t>(best)];
      // Smallest that fits; failing that, the largest (grown the least).
      const bool better = have >= need ? (cur < need || have < cur) : (cur < need && have > cur);
      if (better) best = static_cast<int>(s);
    }
    if (best < 0) {
      best = static_cast<int>(busy_until.size());
      busy_until.push_back(0);
      plan.slot_bytes.push_back(0);
    }
    const auto b = static_cast<std::size_t>(best);
    plan.slot_bytes[b] = std::max(plan.slot_bytes[b], need);
    busy_until[b] = last[vu];
    plan.slot[vu] = best;
  }
  return plan;
}

constexpr std::size_t kSmallInput = 16384;

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

class OpenclGraph final : public PreparedGraph {
 public:
  OpenclGraph(std::shared_ptr<DeviceCtx> d, const DeviceGraph& g) : d_(std::move(d)), g_(g) {}

  Result<void> prepare() {
    values_ = g_.values;
    constant_.assign(g_.values.size(), false);
    for (int v : g_.constants) constant_[static_cast<std::size_t>(v)] = true;
    conv_of_.assign(g_.nodes.size(), -1);
    for (std::size_t ni = 0; ni < g_.nodes.size(); ++ni) {
      const auto& n = g_.nodes[ni];
      if (n.problem.outputs().size() != 1)
        return make_error("opencl graph: " + n.name + " has more than one output");
      if (n.act_after != Activation::none &&
          g_.values[static_cast<std::size_t>(n.out)].dtype != DType::f32)
        return make_error("opencl graph: " + n.name + ": act_after on a non-f32 output");
      if (n.act_after != Activation::none || n.in_quant.on || n.in_cast)
        if (auto r = init_common(); !r) return r;
      if (n.in_quant.on || n.in_cast) {  // verify(): in[0] is f32, the problem reads u8 / bf16
        conv_of_[ni] = static_cast<int>(conv_.size());
        values_.push_back(n.problem.inputs()[0]);
        constant_.push_back(false);
        conv_.push_back({static_cast<int>(ni), n.in[0], static_cast<int>(values_.size()) - 1});
      }
      auto k = prepare_device_kernel(d_, n.problem, Buffers::graph);
      if (!k)
        return make_error("prepare " + n.name + " (" + n.problem.str() + "): " + k.error().message);
      for (std::size_t i = 0; i < n.in.size(); ++i)
        if (per_run(ni, i) && k.value()->repacks_operand(i)) ++repacks_per_run_;
      kernels_.push_back(std::move(k.value()));
    }
    std::vector<bool> unpooled = constant_;
    for (int v : g_.inputs)
      if (spec_bytes(values_[static_cast<std::size_t>(v)]) <= kSmallInput)
        unpooled[static_cast<std::size_t>(v)] = true;
    for (int v : g_.states) unpooled[static_cast<std::size_t>(v)] = true;
    plan_ = plan_memory(g_, values_, unpooled, conv_);
    mem_.assign(values_.size(), nullptr);
    if (auto r = init_small_inputs(); !r) return r;
    for (int v : g_.states) {  // a buffer each, for the graph's life
      const std::size_t bytes = spec_bytes(values_[static_cast<std::size_t>(v)]);
      auto m = alloc(bytes);
      if (!m) return m.error();
      mem_[static_cast<std::size_t>(v)] = m->get();
      states_.push_back(std::move(m.value()));
      state_bytes_ += bytes;
    }
    for (std::size_t s = 0; s < plan_.slot_bytes.size(); ++s) {
      auto m = alloc(plan_.slot_bytes[s]);
      if (!m) return m.error();
      pool_.push_back(std::move(m.value()));
      arena_bytes_ += plan_.slot_bytes[s];
    }
    for (std::size_t v = 0; v < values_.size(); ++v)
      if (plan_.slot[v] >= 0) mem_[v] = pool_[static_cast<std::size_t>(plan_.slot[v])].get();
    return bind_all();
  }

  Result<void> set_constants(std::span<const Tensor* const> constants) override {
    if (constants.size() != g_.constants.size())
      return make_error("opencl graph: set_constants: " + std::to_string(constants.size()) +
                        " tensors for " + std::to_string(g_.constants.size()) + " constants");
    cl_command_queue q = d_->queue.get();
    consts_.clear();
    constant_bytes_ = uploaded_bytes_ = 0;
    for (std::size_t i = 0; i < constants.size(); ++i) {
      const auto v = static_cast<std::size_t>(g_.constants[i]);
      const std::size_t bytes = spec_bytes(g_.values[v]);
      if (constants[i]->bytes() != bytes || constants[i]->dtype() != g_.values[v].dtype)
        return make_error("opencl graph: constant " + g_.values[v].name +
                          " has the wrong type or size");
      auto m = alloc(bytes);
      if (!m) return m.error();
      mem_[v] = m->get();
      consts_.emplace_back(v, std::move(m.value()));
      TB_CL_CHECK(clEnqueueWriteBuffer(q, mem_[v], CL_TRUE, 0, bytes, constants[i]->raw(), 0,
                                       nullptr, nullptr));
      uploaded_bytes_ += bytes;
    }
    if (auto r = bind_all(); !r) return r;
    // Weights into each kernel's layout, once.
    std::vector<Event> events;
    for (std::size_t ni = 0; ni < kernels_.size(); ++ni) {
      const auto& in = g_.nodes[ni].in;
      for (std::size_t i = 0; i < in.size(); ++i)
        if (!per_run(ni, i))
          if (auto r = kernels_[ni]->enqueue_refresh(i, events); !r) return finish_after(r.error());
    }
    TB_CL_CHECK(clFinish(q));
    events.clear();
    // Constants that no kernel reads in place any more go.
    std::vector<bool> kept(g_.values.size(), false);
    for (int v : g_.outputs) kept[static_cast<std::size_t>(v)] = true;
    for (const Conversion& c : conv_) kept[static_cast<std::size_t>(c.from)] = true;
    for (std::size_t ni = 0; ni < kernels_.size(); ++ni) {
      const auto& in = g_.nodes[ni].in;
      for (std::size_t i = 0; i < in.size(); ++i)
        if (kernels_[ni]->reads_operand(i)) kept[static_cast<std::size_t>(in[i])] = true;
    }
    std::erase_if(consts_, [&](const auto& c) {
      if (kept[c.first]) return false;
      mem_[c.first] = nullptr;
      return true;
    });
    for (const auto& [v, m] : consts_) constant_bytes_ += spec_bytes(g_.values[v]);
    constants_set_ = true;
    return bind_all();
  }

  Result<void> set_states(std::span<const Tensor* const> states) override {
    if (states.size() != g_.states.size())
      return make_error("opencl graph: set_states: " + std::to_string(states.size()) +
                        " tensors for " + std::to_string(g_.states.size()) + " states");
    for (std::size_t i = 0; i < states.size(); ++i) {
      const auto v = static_cast<std::size_t>(g_.states[i]);
      if (auto r = check_tensor(*states[i], g_.states[i], "state"); !r) return r.error();
      TB_CL_CHECK(clEnqueueWriteBuffer(d_->queue.get(), mem_[v], CL_TRUE, 0, states[i]->bytes(),
                                       states[i]->raw(), 0, nullptr, nullptr));
    }
    states_set_ = true;
    return {};
  }

  Result<GraphRunStats> run(std::span<const Tensor* const> inputs,
                            std::span<Tensor* const> outputs) override {
    if (!constants_set_ && !g_.constants.empty())
      return make_error("opencl graph: run() before set_constants()");
    if (!states_set_ && !g_.states.empty())
      return make_error("opencl graph: run() before set_states()");
    if (inputs.size() != g_.inputs.size() || outputs.size() != g_.outputs.size())
      return make_error("opencl graph: run: wrong number of inputs or outputs");
    GraphRunStats st;
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (auto r = check_tensor(*inputs[i], g_.inputs[i], "input"); !r) return r.error();
    for (std::size_t i = 0; i < outputs.size(); ++i)
      if (auto r = check_tensor(*outputs[i], g_.outputs[i], "output"); !r) return r.error();

    cl_command_queue q = d_->queue.get();
    events_.clear();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const auto v = static_cast<std::size_t>(g_.inputs[i]);
      st.bytes_to_device += inputs[i]->bytes();
      if (small_offset_[i] >= 0) {
        std::memcpy(staging_.data() + small_offset_[i], inputs[i]->raw(), inputs[i]->bytes());
        continue;
      }
      const cl_int err = clEnqueueWriteBuffer(q, mem_[v], CL_FALSE, 0, inputs[i]->bytes(),
                                              inputs[i]->raw(), 0, nullptr, nullptr);
      if (err != CL_SUCCESS)
        return finish_after(cl_error(__FILE__, __LINE__, "clEnqueueWriteBuffer", err));
    }
    if (!staging_.empty()) {
      const cl_int err = clEnqueueWriteBuffer(q, small_.get(), CL_FALSE, 0, staging_.size(),
                                              staging_.data(), 0, nullptr, nullptr);
      if (err != CL_SUCCESS)
        return finish_after(cl_error(__FILE__, __LINE__, "clEnqueueWriteBuffer", err));
    }
    ev_end_.assign(kernels_.size(), 0);
    for (std::size_t ni = 0; ni < kernels_.size(); ++ni) {
      DeviceKernel& k = *kernels_[ni];
      const auto& n = g_.nodes[ni];
      if (conv_of_[ni] >= 0)
        if (auto r = enqueue_conversion(ni); !r) return finish_after(r.error());
      for (std::size_t i = 0; i < n.in.size(); ++i)
        if (per_run(ni, i) && k.repacks_operand(i))
          if (auto r = k.enqueue_refresh(i, events_); !r)
            return finish_after(make_error(n.name + ": " + r.error().message));
      if (auto r = k.enqueue_launches(events_); !r)
        return finish_after(make_error(n.name + ": " + r.error().message));
      if (n.act_after != Activation::none)
        if (auto r = enqueue_act_after(n); !r) return finish_after(r.error());
      ev_end_[ni] = events_.size();
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const auto v = static_cast<std::size_t>(g_.outputs[i]);
      const cl_int err = clEnqueueReadBuffer(q, mem_[v], CL_FALSE, 0, outputs[i]->bytes(),
                                             outputs[i]->raw(), 0, nullptr, nullptr);
      if (err != CL_SUCCESS)
        return finish_after(cl_error(__FILE__, __LINE__, "clEnqueueReadBuffer", err));
      st.bytes_from_device += outputs[i]->bytes();
    }
    TB_CL_CHECK(clFinish(q));  // the one host wait of the inference
    st.host_round_trips = 1;
    st.kernel_timing = TimingSource::profiling_events;
    // Every launch is profiled (the kernel time needs it): a node's time is its launches'.
    if (timing_) node_s_.assign(kernels_.size(), 0.0);
    for (std::size_t i = 0, ni = 0; i < events_.size(); ++i) {
      auto s = event_seconds(events_[i].get(), events_[i].get());
      if (!s) return s.error();
      st.kernel_s += s.value();
      while (ni + 1 < ev_end_.size() && i >= ev_end_[ni]) ++ni;
      if (timing_ && ni < node_s_.size()) node_s_[ni] += s.value();
    }
    launches_per_run_ = events_.size();
    events_.clear();
    return st;
  }

  MemoryStats memory() const override {
    MemoryStats m;
    m.device_bytes = arena_bytes_ + constant_bytes_ + state_bytes_ + kernel_bytes();
    m.uploaded_bytes = uploaded_bytes_ + (states_set_ ? state_bytes_ : 0);
    return m;
  }

  std::vector<std::pair<std::string, double>> details() const override {
    std::map<std::string, double> v;
    for (const auto& k : kernels_)
      for (const auto& [key, x] : k->details())
        if (key.ends_with("_s") || key.ends_with("_hit")) v[key] += x;
    v["kernels"] = static_cast<double>(kernels_.size());
    v["launches_per_run"] = static_cast<double>(launches_per_run_);
    v["repacks_per_run"] = repacks_per_run_;
    v["arena_bytes"] = static_cast<double>(arena_bytes_);
    v["arena_buffers"] = static_cast<double>(pool_.size());
    v["arena_values"] = plan_.pooled_values;
    v["unshared_activation_bytes"] = static_cast<double>(plan_.unshared_bytes);
    v["constant_bytes"] = static_cast<double>(constant_bytes_);
    v["state_bytes"] = static_cast<double>(state_bytes_);
    v["kernel_private_bytes"] = static_cast<double>(kernel_bytes());
    return {v.begin(), v.end()};
  }

  bool time_nodes(bool on) override {
    timing_ = on;
    return true;
  }
  std::vector<double> node_seconds() const override { return node_s_; }

  std::string config() const override {
    std::string s = "opencl graph: 1 queue, 1 sync/inference, " + std::to_string(kernels_.size()) +
                    " kernels, arena " + mib(static_cast<double>(arena_bytes_)) + " (" +
                    std::to_string(pool_.size()) + " buffers for " +
                    std::to_string(plan_.pooled_values) + " values)";
    if (!g_.states.empty())
      s += ", " + std::to_string(g_.states.size()) + " states resident (" +
           mib(static_cast<double>(state_bytes_)) + ", written in place)";
    if (repacks_per_run_ > 0)
      s += ", " + std::to_string(repacks_per_run_) +
           " operands repacked on the device per inference (packed GEMM panels)";
    int quant = 0;
    for (const Conversion& c : conv_)
      quant += g_.nodes[static_cast<std::size_t>(c.node)].in_quant.on;
    if (quant > 0) s += ", " + std::to_string(quant) + " u8 quantisations on the device";
    if (conv_.size() > static_cast<std::size_t>(quant))
      s += ", " + std::to_string(conv_.size() - static_cast<std::size_t>(quant)) +
           " bf16 casts on the device";
    // The GEMM configuration(s) the GEMMs and pointwise convs ran, and why (tuned or default).
    std::map<std::string, int> gemms;
    for (const auto& k : kernels_)
      if (const auto c = k->kernel_config()) ++gemms[c->name + " (" + c->source + ")"];
    for (const auto& [c, n] : gemms) s += ", gemm " + c + " x" + std::to_string(n);
    return s;
  }

 private:
  Result<Mem> alloc(std::size_t bytes) {
    cl_int err = CL_SUCCESS;
    Mem m(clCreateBuffer(d_->context.get(), CL_MEM_READ_WRITE, std::max<std::size_t>(bytes, 4),
                         nullptr, &err));
    TB_CL_CHECK_ERR(err, "clCreateBuffer");
    return m;
  }

  // The graph's own launches (cl/gemm_common.cl): act_after and the operand conversions. The
  // division of the quantisation rounds correctly, as the host's.
  Result<void> init_common() {
    if (act_) return {};
    auto built = build_program(d_->context.get(), d_->device, cl_source("gemm_common"),
                               "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt");
    if (!built) return built.error();
    common_program_ = std::move(built->program);
    for (auto [k, name] : {std::pair{&act_, "tb_act_inplace"}, std::pair{&quant_, "tb_quantize_u8"},
                           std::pair{&cast_, "tb_round_bf16"}}) {
      cl_int err = CL_SUCCESS;
      *k = Kernel(clCreateKernel(common_program_.get(), name, &err));
      TB_CL_CHECK_ERR(err, ("clCreateKernel(" + std::string(name) + ")").c_str());
    }
    return {};
  }

  // Operand i of node ni changes every run (an input, an intermediate, or a converted operand).
  bool per_run(std::size_t ni, std::size_t i) const {
    return !constant_[static_cast<std::size_t>(g_.nodes[ni].in[i])] ||
           (i == 0 && conv_of_[ni] >= 0);
  }

  // The operand of node ni that is converted on the way in: in_quant or in_cast.
  Result<void> enqueue_conversion(std::size_t ni) {
    const auto& n = g_.nodes[ni];
    const Conversion& c = conv_[static_cast<std::size_t>(conv_of_[ni])];
    const cl_mem from = mem_[static_cast<std::size_t>(c.from)],
                 to = mem_[static_cast<std::size_t>(c.to)];
    cl_kernel k = n.in_quant.on ? quant_.get() : cast_.get();
    if (n.in_quant.on)
      TB_CL_CHECK(set_args(k, from, to, static_cast<cl_float>(n.in_quant.scale),
                           static_cast<cl_int>(n.in_quant.zp)));
    else
      TB_CL_CHECK(set_args(k, from, to));
    const std::size_t gws[1] = {
        static_cast<std::size_t>(spec_numel(values_[static_cast<std::size_t>(c.to)]))};
    cl_event e = nullptr;
    TB_CL_CHECK(
        clEnqueueNDRangeKernel(d_->queue.get(), k, 1, nullptr, gws, nullptr, 0, nullptr, &e));
    events_.emplace_back(e);
    return {};
  }

  Result<void> enqueue_act_after(const DeviceGraph::Node& n) {
    const auto v = static_cast<std::size_t>(n.out);
    const cl_mem m = mem_[v];
    TB_CL_CHECK(set_args(act_.get(), m, static_cast<cl_int>(activation_code(n.act_after))));
    const std::size_t gws[1] = {spec_bytes(g_.values[v]) / sizeof(float)};
    cl_event e = nullptr;
    TB_CL_CHECK(clEnqueueNDRangeKernel(d_->queue.get(), act_.get(), 1, nullptr, gws, nullptr, 0,
                                       nullptr, &e));
    events_.emplace_back(e);
    return {};
  }

  // The small inputs' sub-buffers of small_, at offsets aligned as the device requires.
  Result<void> init_small_inputs() {
    const std::size_t align = std::max<std::size_t>(
        64, device_scalar<cl_uint>(d_->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN) / 8);
    small_offset_.assign(g_.inputs.size(), -1);
    std::size_t total = 0;
    for (std::size_t i = 0; i < g_.inputs.size(); ++i) {
      const std::size_t bytes = spec_bytes(values_[static_cast<std::size_t>(g_.inputs[i])]);
      if (bytes > kSmallInput) continue;
      small_offset_[i] = static_cast<std::ptrdiff_t>(total);
      total += round_up(std::max<std::size_t>(bytes, 1), align);
    }
    if (total == 0) return {};
    auto m = alloc(total);
    if (!m) return m.error();
    small_ = std::move(m.value());
    staging_.assign(total, 0);
    arena_bytes_ += total;
    for (std::size_t i = 0; i < g_.inputs.size(); ++i) {
      if (small_offset_[i] < 0) continue;
      const auto v = static_cast<std::size_t>(g_.inputs[i]);
      const cl_buffer_region region{static_cast<std::size_t>(small_offset_[i]),
                                    std::max<std::size_t>(spec_bytes(values_[v]), 1)};
      cl_int err = CL_SUCCESS;
      Mem sub(clCreateSubBuffer(small_.get(), CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION,
                                &region, &err));
      TB_CL_CHECK_ERR(err, "clCreateSubBuffer");
      mem_[v] = sub.get();
      small_subs_.push_back(std::move(sub));
    }
    return {};
  }

  Result<void> bind_all() {
    std::vector<cl_mem> ins;
    for (std::size_t ni = 0; ni < kernels_.size(); ++ni) {
      const auto& n = g_.nodes[ni];
      ins.clear();
      for (int v : n.in) ins.push_back(mem_[static_cast<std::size_t>(v)]);
      if (conv_of_[ni] >= 0)
        ins[0] = mem_[static_cast<std::size_t>(conv_[static_cast<std::size_t>(conv_of_[ni])].to)];
      if (auto r = kernels_[ni]->bind(ins, mem_[static_cast<std::size_t>(n.out)]); !r)
        return make_error(n.name + ": " + r.error().message);
    }
    return {};
  }

  Result<void> check_tensor(const Tensor& t, int v, const char* what) const {
    const TensorSpec& s = g_.values[static_cast<std::size_t>(v)];
    if (t.dtype() != s.dtype || t.bytes() != spec_bytes(s))
      return make_error(std::string("opencl graph: run: ") + what + " " + s.name +
                        " has the wrong type or size");
    return {};
  }

  // After a failure with commands already enqueued (that may read host memory): wait for them.
  Error finish_after(Error e) {
    clFinish(d_->queue.get());
    events_.clear();
    return e;
  }

  std::uint64_t kernel_bytes() const {
    std::uint64_t b = 0;
    for (const auto& k : kernels_) b += k->memory().device_bytes;
    return b;
  }

  std::shared_ptr<DeviceCtx> d_;
  DeviceGraph g_;
  std::vector<TensorSpec> values_;  // g_.values, then the conversions' values
  std::vector<bool> constant_;      // per value of values_
  std::vector<Conversion> conv_;
  std::vector<int> conv_of_;  // per node: its conversion, or -1
  std::vector<std::unique_ptr<DeviceKernel>> kernels_;
  MemoryPlan plan_;
  std::vector<Mem> pool_;
  Mem small_;                                 // the small inputs' buffer (see the top)
  std::vector<Mem> small_subs_;               // its sub-buffers, one per small input
  std::vector<std::ptrdiff_t> small_offset_;  // per graph input: offset in small_, -1: not small
  std::vector<std::uint8_t> staging_;         // host copy of small_, written once per run
  std::vector<std::pair<std::size_t, Mem>> consts_;  // value, buffer
  std::vector<Mem> states_;                          // DeviceGraph::states order
  std::vector<cl_mem> mem_;                          // per value; null: none (yet, or any more)
  std::vector<Event> events_;
  std::vector<std::size_t> ev_end_;  // per node: the end of its events in events_ (this run)
  bool timing_ = false;
  std::vector<double> node_s_;
  Program common_program_;
  Kernel act_, quant_, cast_;  // act_after, in_quant, in_cast
  std::uint64_t arena_bytes_ = 0, constant_bytes_ = 0, state_bytes_ = 0, uploaded_bytes_ = 0;
  std::size_t launches_per_run_ = 0;
  int repacks_per_run_ = 0;
  bool constants_set_ = false, states_set_ = false;
};

}  // namespace

Result<std::unique_ptr<PreparedGraph>> prepare_device_graph(std::shared_ptr<DeviceCtx> d,
                                                            const DeviceGraph& g) {
  if (auto v = g.verify(); !v) return v.error();
  auto graph = std::make_unique<OpenclGraph>(std::move(d), g);
  if (auto r = graph->prepare(); !r) return r.error();
  return std::unique_ptr<PreparedGraph>(std::move(graph));
}

}  // namespace tb::ocl

// The resident graph of the Vulkan backend (vulkan_graph.h). Prepare:
//   1. every node's pipeline and grid from the kernels' own machinery (OpPlan + make_op_dispatch,
//      the GEMM tuner's winner or default + make_gemm_dispatch), so a node runs exactly the
//      shader its PreparedKernel would;
//   2. a memory plan: each value that is neither a constant nor a state gets a device buffer
//      from an arena, values whose lifetimes (first write to last read, in node order) do not
//      overlap share one (greedy first fit; a buffer grows to its largest tenant). Constants get
//      their own buffers, in the layout each consumer reads (raw, or packed for the packed GEMM
//      shaders); states (KV caches) too, written once by set_states() and then in place by
//      their kvwrite nodes (the token's rows only);
//   3. one descriptor set per node, written once; a node's act_after (an activation after its
//      whole epilogue) is one more dispatch, in place over its output, and its in_quant / in_cast
//      (an f32 operand quantised to u8 with a calibrated scale, or rounded to bf16) one before it,
//      into a value of its own (shaders/convert.comp; shared by the nodes that convert the same
//      value alike, e.g. the q, k and v projections of one normalised activation);
//   4. one command buffer: input copies (only where the device memory is not host-visible),
//      the dispatches with a memory barrier before any dispatch that reads what an earlier one
//      wrote since the last barrier or overwrites what one read (a shared buffer's next tenant),
//      output copies, a barrier to the host. Timestamps after every dispatch give the device
//      time of the whole chain and of each node (TB_VULKAN_GRAPH_PROFILE=1 prints the per-kind
//      totals and every node, slowest first, to stderr when the graph is destroyed).
#include "vulkan_graph.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "vulkan_gemm.h"
#include "vulkan_op.h"

namespace tb::vulkan {

namespace {

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", bytes / (1024.0 * 1024.0));
  return buf;
}

// Where one shader binding points.
struct Ref {
  enum Kind { value, constant, pack, state, dummy } kind = dummy;
  int index = -1;  // value id (value, constant, state), pack index (pack)
};

// A GEMM operand in the packed layout (pack_gemm_operand). Constants are packed on the host by
// set_constants; activations whose k is not a multiple of the load width are padded on the
// device by copy regions (k-element rows into kp-element rows, the padding zeroed at prepare
// and never written again).
struct Pack {
  int value = -1;
  bool constant = false;
  std::int64_t batch = 1, rows = 0, k = 0, kp = 0;
  bool rows_contiguous_k = true;
  std::size_t es = 4;
  vk::Buffer buf;
};

struct Node {
  std::shared_ptr<vk::ComputePipeline> pipeline;
  PipelineStats stats;
  std::vector<std::uint32_t> push;
  std::uint32_t gx = 1, gy = 1, gz = 1;
  std::vector<Ref> bindings;
  std::vector<int> pads;  // activation packs filled just before the dispatch
  std::unique_ptr<vk::DescriptorSet> set;
  std::string kind;  // shader (and gemm configuration): the profile's key
  std::string gemm_cfg;
  int gnode = -1;  // the DeviceGraph node it runs (act_after: the node it follows)
  int out = -1;    // the value it writes
};

class VulkanGraph final : public PreparedGraph {
 public:
  VulkanGraph(std::shared_ptr<Context> ctx, const DeviceGraph& g) : ctx_(std::move(ctx)), g_(g) {}

  ~VulkanGraph() override {
    if (profile_ && runs_ > 0) print_profile();
    if (queries_)
      ctx_->device()->fn().vkDestroyQueryPool(ctx_->device()->handle(), queries_, nullptr);
  }

  Result<void> prepare() {
    const std::uint64_t mark = ctx_->validation_mark();
    plan_conversions();
    const auto nv = g_.values.size();
    is_const_.assign(nv, false);
    for (int v : g_.constants) is_const_[static_cast<std::size_t>(v)] = true;
    is_state_.assign(nv, false);
    for (int v : g_.states) is_state_[static_cast<std::size_t>(v)] = true;
    needs_raw_.assign(nv, false);
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      for (const auto& cv : convs_)
        if (cv.node == static_cast<int>(i))
          if (auto r = plan_convert(cv); !r)
            return make_error(g_.nodes[i].name + ": " + r.error().message);
      if (auto r = plan_node(i); !r) return make_error(g_.nodes[i].name + ": " + r.error().message);
      nodes_.back().gnode = static_cast<int>(i);
      nodes_.back().out = g_.nodes[i].out;
      if (g_.nodes[i].act_after != Activation::none)
        if (auto r = plan_act_after(i); !r)
          return make_error(g_.nodes[i].name + ": " + r.error().message);
    }
    plan_memory();
    const auto t_setup = std::chrono::steady_clock::now();
    if (auto r = create_buffers(); !r) return r;
    for (auto& n : nodes_) {
      std::vector<VkBuffer> bufs;
      for (const Ref& r : n.bindings) bufs.push_back(buffer(r));
      n.set = std::make_unique<vk::DescriptorSet>();
      TB_VK_TRY(n.set->create(ctx_->device(), *n.pipeline, bufs));
    }
    if (auto r = record(); !r) return r;
    setup_s_ = seconds_since(t_setup);
    if (auto r = warm_up(); !r) return r;
    profile_ = std::getenv("TB_VULKAN_GRAPH_PROFILE") != nullptr;
    node_s_.assign(nodes_.size(), 0.0);
    return ctx_->check_validation(mark);
  }

  Result<void> set_constants(std::span<const Tensor* const> constants) override {
    if (constants.size() != g_.constants.size())
      return make_error("vulkan graph set_constants: " + std::to_string(constants.size()) +
                        " tensors, want " + std::to_string(g_.constants.size()));
    const std::uint64_t mark = ctx_->validation_mark();
    const auto& dev = ctx_->device();
    const auto t0 = std::chrono::steady_clock::now();
    uploaded_ = 0;
    pack_s_ = 0;
    for (std::size_t ci = 0; ci < constants.size(); ++ci) {
      const int v = g_.constants[ci];
      const Tensor& t = *constants[ci];
      const auto& spec = g_.values[static_cast<std::size_t>(v)];
      if (t.dtype() != spec.dtype || t.bytes() != spec_bytes(spec))
        return make_error("vulkan graph set_constants: " + spec.name + " is " + t.shape_str() +
                          ", want its value's type and size");
      if (needs_raw_[static_cast<std::size_t>(v)]) {
        TB_VK_TRY(vk::write_buffer(dev, raw_[static_cast<std::size_t>(v)], t.raw(), t.bytes()));
        uploaded_ += t.bytes();
      }
      for (auto& p : packs_) {
        if (!p.constant || p.value != v) continue;
        const auto tp = std::chrono::steady_clock::now();
        const auto buf =
            pack_gemm_operand(t.raw(), p.es, p.batch, p.rows, p.k, p.kp, p.rows_contiguous_k);
        pack_s_ += seconds_since(tp);
        TB_VK_TRY(vk::write_buffer(dev, p.buf, buf.data(), buf.size()));
        uploaded_ += buf.size();
      }
    }
    upload_s_ = seconds_since(t0);
    constants_set_ = true;
    return ctx_->check_validation(mark);
  }

  Result<void> set_states(std::span<const Tensor* const> states) override {
    if (states.size() != g_.states.size())
      return make_error("vulkan graph set_states: " + std::to_string(states.size()) +
                        " tensors, want " + std::to_string(g_.states.size()));
    const std::uint64_t mark = ctx_->validation_mark();
    for (std::size_t i = 0; i < states.size(); ++i) {
      const auto v = static_cast<std::size_t>(g_.states[i]);
      const Tensor& t = *states[i];
      if (t.dtype() != g_.values[v].dtype || t.bytes() != spec_bytes(g_.values[v]))
        return make_error("vulkan graph set_states: " + g_.values[v].name + " is " + t.shape_str() +
                          ", want its value's type and size");
      TB_VK_TRY(vk::write_buffer(ctx_->device(), state_bufs_[v], t.raw(), t.bytes()));
    }
    states_set_ = true;
    return ctx_->check_validation(mark);
  }

  Result<GraphRunStats> run(std::span<const Tensor* const> inputs,
                            std::span<Tensor* const> outputs) override {
    if (!constants_set_ && !g_.constants.empty())
      return make_error("vulkan graph run before set_constants");
    if (!states_set_ && !g_.states.empty()) return make_error("vulkan graph run before set_states");
    if (inputs.size() != g_.inputs.size() || outputs.size() != g_.outputs.size())
      return make_error("vulkan graph run: wrong number of inputs or outputs");
    const std::uint64_t mark = ctx_->validation_mark();
    GraphRunStats st;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const int v = g_.inputs[i];
      const std::size_t bytes = spec_bytes(g_.values[static_cast<std::size_t>(v)]);
      if (inputs[i]->bytes() != bytes)
        return make_error("vulkan graph run: input " + std::to_string(i) + " has the wrong size");
      const vk::Buffer& dst = staging_in_.empty() ? slot_buffer(v) : staging_in_[i];
      std::memcpy(dst.mapped(), inputs[i]->raw(), bytes);
      st.bytes_to_device += bytes;
    }
    const auto t0 = std::chrono::steady_clock::now();
    TB_VK_TRY(stream_.submit_wait());
    const double host_s = seconds_since(t0);
    st.host_round_trips = 1;
    st.kernel_s = host_s;
    st.kernel_timing = TimingSource::host_clock;
    if (queries_) {
      std::vector<std::uint64_t> ts(nodes_.size() + 1);
      TB_VK_CHECK(ctx_->device()->fn().vkGetQueryPoolResults(
          ctx_->device()->handle(), queries_, 0, static_cast<std::uint32_t>(ts.size()),
          ts.size() * sizeof(std::uint64_t), ts.data(), sizeof(std::uint64_t),
          VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
      const std::uint32_t bits = ctx_->info().timestamp_valid_bits;
      const std::uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
      const double period = ctx_->info().timestamp_period_ns * 1e-9;
      auto span_s = [&](std::size_t a, std::size_t b) {
        return static_cast<double>((ts[b] - ts[a]) & mask) * period;
      };
      st.kernel_s = span_s(0, nodes_.size());
      st.kernel_timing = TimingSource::device_timestamps;
      for (std::size_t i = 0; i < nodes_.size(); ++i) node_s_[i] += span_s(i, i + 1);
      // Dispatches to nodes: a node's activation after it, and its conversions, are its own.
      if (timing_) {
        last_node_s_.assign(g_.nodes.size(), 0.0);
        for (std::size_t i = 0; i < nodes_.size(); ++i)
          if (nodes_[i].gnode >= 0)
            last_node_s_[static_cast<std::size_t>(nodes_[i].gnode)] += span_s(i, i + 1);
      }
    }
    ++runs_;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const int v = g_.outputs[i];
      const std::size_t bytes = spec_bytes(g_.values[static_cast<std::size_t>(v)]);
      if (outputs[i]->bytes() != bytes)
        return make_error("vulkan graph run: output " + std::to_string(i) + " has the wrong size");
      const vk::Buffer& src = staging_out_.empty() ? slot_buffer(v) : staging_out_[i];
      std::memcpy(outputs[i]->raw(), src.mapped(), bytes);
      st.bytes_from_device += bytes;
    }
    if (auto r = ctx_->check_validation(mark); !r) return r.error();
    return st;
  }

  MemoryStats memory() const override {
    return {arena_bytes_ + weight_bytes_ + scratch_bytes_ + state_bytes_, staging_bytes_,
            uploaded_ + (states_set_ ? state_bytes_ : 0)};
  }

  std::vector<std::pair<std::string, double>> details() const override {
    double create_s = 0;
    int created = 0, reused = 0;
    for (const auto& n : nodes_) {
      create_s += n.stats.create_s;
      (n.stats.reused ? reused : created) += 1;
    }
    int device_pads = 0;
    for (const auto& p : packs_) device_pads += p.constant ? 0 : 1;
    return {
        {"pipeline_create_s", create_s + first_dispatch_s_},
        {"pipeline_vk_create_s", create_s},
        {"first_dispatch_s", first_dispatch_s_},
        {"pipelines_created", created},
        {"pipelines_reused", reused},
        {"pipeline_cache_loaded_bytes", static_cast<double>(ctx_->pipeline_cache_bytes_loaded())},
        {"setup_s", setup_s_},
        {"upload_s", upload_s_},
        {"pack_s", pack_s_},
        {"arena_bytes", static_cast<double>(arena_bytes_)},
        {"arena_unshared_bytes", static_cast<double>(unshared_bytes_)},
        {"arena_buffers", static_cast<double>(slots_.size())},
        {"weight_bytes", static_cast<double>(weight_bytes_)},
        {"state_bytes", static_cast<double>(state_bytes_)},
        {"dispatches", static_cast<double>(nodes_.size())},
        {"barriers", barriers_},
        {"device_padded_operands", device_pads},
        {"operand_conversions", static_cast<double>(convs_.size())},
        {"command_buffers", 1},
        {"submits_per_inference", 1}};
  }

  // Timestamps after every dispatch are written whenever the device has them.
  bool time_nodes(bool on) override {
    timing_ = on && queries_ != VK_NULL_HANDLE;
    return timing_ == on;
  }
  std::vector<double> node_seconds() const override { return last_node_s_; }

  std::string config() const override {
    std::map<std::string, int> gemms;
    for (const auto& n : nodes_)
      if (!n.gemm_cfg.empty()) ++gemms[n.gemm_cfg];
    std::string s =
        "vulkan graph: 1 command buffer, 1 submit/inference, " + std::to_string(nodes_.size()) +
        " dispatches, " + std::to_string(barriers_) + " barriers, arena " +
        mib(static_cast<double>(arena_bytes_)) + " MiB in " + std::to_string(slots_.size()) +
        " buffers (unshared " + mib(static_cast<double>(unshared_bytes_)) + " MiB), weights " +
        mib(static_cast<double>(weight_bytes_)) + " MiB, " +
        (staging_in_.empty() && staging_out_.empty() ? "inputs/outputs in mapped device memory"
                                                     : "input/output copies in the command buffer");
    if (!g_.states.empty())
      s += ", " + std::to_string(g_.states.size()) + " states resident (" +
           mib(static_cast<double>(state_bytes_)) + " MiB, written in place)";
    if (!gemms.empty()) {
      s += ", gemm blocks";
      for (const auto& [c, k] : gemms) s += " " + c + (k > 1 ? " x" + std::to_string(k) : "");
    }
    return s;
  }

 private:
  // An operand conversion: node `node` (the first that reads dst) converts value src into dst.
  struct Convert {
    int node = -1, src = -1, dst = -1;
    bool cast = false;  // in_cast (bf16), else in_quant (u8)
    DeviceGraph::Node::Quant quant;
  };

  // Rewrites the graph: every converted in[0] reads a value of its own (u8 or bf16, the shape of
  // the source), one per source and conversion.
  void plan_conversions() {
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      auto& n = g_.nodes[i];
      if (!n.in_quant.on && !n.in_cast) continue;
      const int src = n.in[0];
      int dst = -1;
      for (const auto& cv : convs_)
        if (cv.src == src && cv.cast == n.in_cast &&
            (n.in_cast || (cv.quant.scale == n.in_quant.scale && cv.quant.zp == n.in_quant.zp)))
          dst = cv.dst;
      if (dst < 0) {
        TensorSpec spec = g_.values[static_cast<std::size_t>(src)];
        spec.name += n.in_cast ? ".bf16" : ".u8";
        spec.dtype = n.in_cast ? DType::bf16 : DType::u8;
        dst = g_.add_value(std::move(spec));
        convs_.push_back({static_cast<int>(i), src, dst, n.in_cast, n.in_quant});
      }
      n.in[0] = dst;
      n.in_quant.on = n.in_cast = false;
    }
  }

  // One dispatch writing cv.dst from cv.src, packed words (shaders/convert.comp).
  Result<void> plan_convert(const Convert& cv) {
    const auto& v = g_.values[static_cast<std::size_t>(cv.src)];
    if (v.dtype != DType::f32) return make_error("in_quant / in_cast of a non-f32 value");
    const auto n = static_cast<std::uint64_t>(spec_numel(v));
    const std::uint64_t per_word = cv.cast ? 2 : 4;
    OpPlan plan;
    plan.blob = cv.cast ? "convert_cast_bf16" : "convert_quant_u8";
    plan.items = (n + per_word - 1) / per_word;
    std::uint32_t scale_bits = 0;
    std::memcpy(&scale_bits, &cv.quant.scale, 4);
    plan.push = {static_cast<std::uint32_t>(plan.items), static_cast<std::uint32_t>(n), scale_bits,
                 static_cast<std::uint32_t>(cv.quant.zp)};
    plan.bindings = {0, 1};
    auto d = make_op_dispatch(*ctx_, plan);
    if (!d) return d.error();
    Node nd;
    nd.pipeline = std::move(d->pipeline);
    nd.stats = d->stats;
    nd.push = plan.push;
    nd.gx = d->gx;
    nd.gy = d->gy;
    nd.kind = cv.cast ? "in_cast bf16" : "in_quant u8";
    nd.bindings = {ref_of(cv.src), {Ref::value, cv.dst}};
    nd.gnode = cv.node;
    nd.out = cv.dst;
    nodes_.push_back(std::move(nd));
    return {};
  }

  Ref ref_of(int v) {
    if (is_state_[static_cast<std::size_t>(v)]) return {Ref::state, v};
    if (is_const_[static_cast<std::size_t>(v)]) {
      needs_raw_[static_cast<std::size_t>(v)] = true;
      return {Ref::constant, v};
    }
    return {Ref::value, v};
  }

  Result<void> plan_node(std::size_t ni) {
    const auto& gn = g_.nodes[ni];
    const Problem& p = gn.problem;
    Node n;
    if (const GemmDesc* gd = p.as<GemmDesc>()) return plan_gemm(ni, *gd, std::move(n));
    if (const auto pw = pointwise_gemm(p)) return plan_gemm(ni, *pw, std::move(n));
    // A kvwrite of a state writes the token's rows in place.
    const bool in_place = p.as<KvWriteDesc>() && gn.out == gn.in[1];
    auto plan = in_place ? kvwrite_plan(p, *ctx_, true) : op_plan(p, *ctx_);
    if (!plan) return plan.error();
    auto d = make_op_dispatch(*ctx_, plan.value());
    if (!d) return d.error();
    n.pipeline = std::move(d->pipeline);
    n.stats = d->stats;
    n.push = plan->push;
    n.gx = d->gx;
    n.gy = d->gy;
    n.kind = plan->blob;
    const int nin = static_cast<int>(gn.in.size());
    for (int b : plan->bindings) {
      if (b < 0)
        n.bindings.push_back({});
      else if (b < nin)
        n.bindings.push_back(ref_of(gn.in[static_cast<std::size_t>(b)]));
      else if (b == nin)
        n.bindings.push_back(in_place ? Ref{Ref::state, gn.out} : Ref{Ref::value, gn.out});
      else
        return make_error("binding names tensor " + std::to_string(b) + " of " +
                          std::to_string(nin + 1));
    }
    nodes_.push_back(std::move(n));
    return {};
  }

  // act_after: one more dispatch, the activation in place over the node's output.
  Result<void> plan_act_after(std::size_t ni) {
    const auto& gn = g_.nodes[ni];
    const auto& v = g_.values[static_cast<std::size_t>(gn.out)];
    if (v.dtype != DType::f32) return make_error("act_after on a non-f32 output");
    OpPlan plan;
    plan.blob = "act_f32";
    plan.items = spec_bytes(v) / sizeof(float);
    plan.spec = {activation_code(gn.act_after)};
    plan.push = {static_cast<std::uint32_t>(plan.items), 0, 0};
    plan.bindings = {0};
    auto d = make_op_dispatch(*ctx_, plan);
    if (!d) return d.error();
    Node n;
    n.pipeline = std::move(d->pipeline);
    n.stats = d->stats;
    n.push = plan.push;
    n.gx = d->gx;
    n.gy = d->gy;
    n.kind = "act_after " + std::string(activation_name(gn.act_after));
    n.bindings = {{Ref::value, gn.out}};
    n.gnode = static_cast<int>(ni);
    n.out = gn.out;
    nodes_.push_back(std::move(n));
    return {};
  }

  Result<void> plan_gemm(std::size_t ni, const GemmDesc& gd, Node n) {
    const auto& gn = g_.nodes[ni];
    const Problem& p = gn.problem;
    std::string source;
    GemmConfig cfg = chosen_gemm_config(*ctx_, gd, p.dtype, &source);
    if (is_state_[static_cast<std::size_t>(gn.in[0])] ||
        is_state_[static_cast<std::size_t>(gn.in[1])])
      return make_error("a state read by a gemm (states feed attention and kvwrite only)");
    const bool a_const = is_const_[static_cast<std::size_t>(gn.in[0])];
    const bool b_const = is_const_[static_cast<std::size_t>(gn.in[1])];
    // The packed shaders read B transposed and A untransposed: an activation operand the other
    // way round would need a transpose on the device. The naive shader reads any layout (f32).
    if (cfg.shader != GemmShader::naive &&
        ((!a_const && gd.trans_a) || (!b_const && !gd.trans_b))) {
      if (p.dtype != DType::f32)
        return make_error(std::string(dtype_name(p.dtype)) +
                          " gemm with an activation operand needing a device transpose");
      cfg = naive_config();
      source = "default";
    }
    auto d = make_gemm_dispatch(*ctx_, gd, p.dtype, p.post, cfg, true);
    if (!d) return d.error();
    const auto types = gemm_types(p.dtype, p.post);
    auto operand = [&](int v, bool is_a) -> Ref {
      const bool constant = is_const_[static_cast<std::size_t>(v)];
      if (!d->packed || (!constant && d->kp == gd.k)) return ref_of(v);
      Pack pk;
      pk.value = v;
      pk.constant = constant;
      pk.batch = gd.batch;
      pk.rows = is_a ? gd.m : gd.n;
      pk.k = gd.k;
      pk.kp = d->kp;
      pk.rows_contiguous_k = is_a ? !gd.trans_a : gd.trans_b;
      pk.es = dtype_size(is_a ? types.a : types.b);
      packs_.push_back(std::move(pk));
      const int idx = static_cast<int>(packs_.size()) - 1;
      if (!constant) n.pads.push_back(idx);
      return {Ref::pack, idx};
    };
    n.bindings.push_back(operand(gn.in[0], true));
    n.bindings.push_back(operand(gn.in[1], false));
    n.bindings.push_back({Ref::value, gn.out});
    // Inputs A, B, [a_scale, b_scale], [bias], [residual]; bindings A, B, C, bias, residual,
    // a_scale, b_scale.
    std::size_t next = 2;
    const std::size_t scales = next;
    if (p.post.scales) next += 2;
    n.bindings.push_back(p.post.bias ? ref_of(gn.in[next++]) : Ref{});
    n.bindings.push_back(p.post.residual ? ref_of(gn.in[next++]) : Ref{});
    n.bindings.push_back(p.post.scales ? ref_of(gn.in[scales]) : Ref{});
    n.bindings.push_back(p.post.scales ? ref_of(gn.in[scales + 1]) : Ref{});
    n.pipeline = std::move(d->pipeline);
    n.stats = d->stats;
    n.push = std::move(d->push);
    n.gx = d->gx;
    n.gy = d->gy;
    n.gz = d->gz;
    n.gemm_cfg = cfg.str();
    n.kind = "gemm " + n.gemm_cfg;
    if (source == "tuned") n.gemm_cfg += " (tuned)";
    nodes_.push_back(std::move(n));
    return {};
  }

  // Lifetimes in node order: inputs from -1, a node's output from its index, to the last node
  // that reads it (the graph's outputs: to the end). Greedy first fit over the buffers free by
  // then: the smallest that holds the value, else the largest (grown), else a new one.
  void plan_memory() {
    const int nn = static_cast<int>(g_.nodes.size());
    const auto nv = g_.values.size();
    std::vector<int> def(nv, nn), last(nv, -2);
    for (int v : g_.inputs) def[static_cast<std::size_t>(v)] = -1;
    for (int i = 0; i < nn; ++i) {
      const auto& gn = g_.nodes[static_cast<std::size_t>(i)];
      def[static_cast<std::size_t>(gn.out)] = i;
      for (int v : gn.in) last[static_cast<std::size_t>(v)] = i;
    }
    for (const auto& cv : convs_) {  // written just before its first reader, from its source
      def[static_cast<std::size_t>(cv.dst)] = cv.node;
      auto& l = last[static_cast<std::size_t>(cv.src)];
      l = std::max(l, cv.node);
    }
    for (int v : g_.outputs) last[static_cast<std::size_t>(v)] = nn;
    std::vector<int> order;
    for (std::size_t v = 0; v < nv; ++v)
      if (!is_const_[v] && !is_state_[v]) order.push_back(static_cast<int>(v));
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return def[static_cast<std::size_t>(a)] < def[static_cast<std::size_t>(b)];
    });
    slot_of_.assign(nv, -1);
    struct Slot {
      std::size_t bytes = 0;
      int busy_until = 0;
    };
    std::vector<Slot> slots;
    for (int v : order) {
      const auto vi = static_cast<std::size_t>(v);
      // Whole 16-byte units: shaders read and write 8- and 16-bit values as words.
      const std::size_t need =
          std::max<std::size_t>((spec_bytes(g_.values[vi]) + 15) / 16 * 16, 16);
      unshared_bytes_ += need;
      const int from = def[vi], to = std::max(last[vi], def[vi]);
      int pick = -1;
      for (std::size_t s = 0; s < slots.size(); ++s) {
        if (slots[s].busy_until >= from) continue;
        const auto si = static_cast<int>(s);
        if (pick < 0) {
          pick = si;
          continue;
        }
        const auto& best = slots[static_cast<std::size_t>(pick)];
        const bool fits = slots[s].bytes >= need, best_fits = best.bytes >= need;
        if ((fits && (!best_fits || slots[s].bytes < best.bytes)) ||
            (!fits && !best_fits && slots[s].bytes > best.bytes))
          pick = si;
      }
      if (pick < 0) {
        slots.push_back({});
        pick = static_cast<int>(slots.size()) - 1;
      }
      auto& s = slots[static_cast<std::size_t>(pick)];
      s.bytes = std::max(s.bytes, need);
      s.busy_until = to;
      slot_of_[vi] = pick;
    }
    slot_bytes_.clear();
    for (const auto& s : slots) slot_bytes_.push_back(s.bytes);
  }

  Result<void> create_buffers() {
    const auto& dev = ctx_->device();
    for (std::size_t bytes : slot_bytes_) {
      vk::Buffer b;
      TB_VK_TRY(b.create(dev, bytes, vk::MemoryKind::device));
      arena_bytes_ += bytes;
      slots_.push_back(std::move(b));
    }
    state_bufs_.resize(g_.values.size());
    for (int v : g_.states) {  // a buffer each, for the graph's life
      const std::size_t bytes = spec_bytes(g_.values[static_cast<std::size_t>(v)]);
      TB_VK_TRY(state_bufs_[static_cast<std::size_t>(v)].create(
          dev, std::max<std::size_t>((bytes + 15) / 16 * 16, 16), vk::MemoryKind::device));
      state_bytes_ += bytes;
    }
    raw_.resize(g_.values.size());
    for (std::size_t v = 0; v < g_.values.size(); ++v) {
      if (!needs_raw_[v]) continue;
      const std::size_t bytes = spec_bytes(g_.values[v]);
      TB_VK_TRY(raw_[v].create(dev, bytes, vk::MemoryKind::device));
      weight_bytes_ += bytes;
    }
    for (auto& p : packs_) {
      const std::size_t bytes = static_cast<std::size_t>(p.batch * p.rows * p.kp) * p.es;
      TB_VK_TRY(p.buf.create(dev, bytes, vk::MemoryKind::device));
      (p.constant ? weight_bytes_ : scratch_bytes_) += bytes;
      if (!p.constant) {  // the padding columns stay zero: the copies write only k of kp
        const std::vector<unsigned char> zeros(bytes, 0);
        TB_VK_TRY(vk::write_buffer(dev, p.buf, zeros.data(), bytes));
      }
    }
    TB_VK_TRY(dummy_.create(dev, 16, vk::MemoryKind::device));
    scratch_bytes_ += 16;
    // Inputs and outputs: mapped directly when the arena is host-visible (unified memory, as the
    // kernels' write_buffer / read_buffer do), else through staging buffers whose copies are
    // recorded into the same command buffer.
    bool mapped = true;
    for (const auto& s : slots_) mapped = mapped && s.host_visible();
    if (!mapped) {
      auto staging = [&](std::vector<vk::Buffer>& out,
                         const std::vector<int>& vals) -> Result<void> {
        for (int v : vals) {
          vk::Buffer b;
          const std::size_t bytes = spec_bytes(g_.values[static_cast<std::size_t>(v)]);
          TB_VK_TRY(b.create(dev, bytes, vk::MemoryKind::staging));
          if (!b.host_visible())
            return make_error("vulkan graph: staging memory is not host-visible");
          staging_bytes_ += bytes;
          out.push_back(std::move(b));
        }
        return {};
      };
      if (auto r = staging(staging_in_, g_.inputs); !r) return r;
      if (auto r = staging(staging_out_, g_.outputs); !r) return r;
    }
    return {};
  }

  const vk::Buffer& slot_buffer(int v) const {
    return slots_[static_cast<std::size_t>(slot_of_[static_cast<std::size_t>(v)])];
  }

  VkBuffer buffer(const Ref& r) const {
    switch (r.kind) {
      case Ref::value:
        return slot_buffer(r.index).handle();
      case Ref::constant:
        return raw_[static_cast<std::size_t>(r.index)].handle();
      case Ref::pack:
        return packs_[static_cast<std::size_t>(r.index)].buf.handle();
      case Ref::state:
        return state_bufs_[static_cast<std::size_t>(r.index)].handle();
      case Ref::dummy:
        break;
    }
    return dummy_.handle();
  }

  Result<void> record() {
    const auto& dev = ctx_->device();
    const auto& fn = dev->fn();
    const auto n = static_cast<std::uint32_t>(nodes_.size());
    if (ctx_->info().timestamp_valid_bits > 0 && ctx_->info().timestamp_period_ns > 0) {
      VkQueryPoolCreateInfo qi{};
      qi.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
      qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
      qi.queryCount = n + 1;
      TB_VK_CHECK(fn.vkCreateQueryPool(dev->handle(), &qi, nullptr, &queries_));
    }
    TB_VK_TRY(stream_.create(dev));
    TB_VK_TRY(stream_.begin());
    const VkCommandBuffer cmd = stream_.cmd();
    if (queries_) fn.vkCmdResetQueryPool(cmd, queries_, 0, n + 1);

    // Hazards since the last barrier, by buffer.
    std::set<VkBuffer> written, read;
    auto access = [&](const std::vector<VkBuffer>& reads, VkBuffer write) {
      bool need = written.count(write) || read.count(write);
      for (VkBuffer b : reads) need = need || written.count(b);
      if (need) {
        stream_.barrier();
        ++barriers_;
        written.clear();
        read.clear();
      }
      read.insert(reads.begin(), reads.end());
      written.insert(write);
    };
    for (std::size_t i = 0; i < staging_in_.size(); ++i) {
      const auto& dst = slot_buffer(g_.inputs[i]);
      access({staging_in_[i].handle()}, dst.handle());
      stream_.copy(staging_in_[i], dst, staging_in_[i].size());
    }
    // The first timestamp once the input copies are done: kernel time is the dispatches'.
    if (queries_) fn.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, 0);
    for (std::uint32_t i = 0; i < n; ++i) {
      Node& nd = nodes_[i];
      for (int pi : nd.pads) {
        const Pack& p = packs_[static_cast<std::size_t>(pi)];
        const VkBuffer src = slot_buffer(p.value).handle();
        access({src}, p.buf.handle());
        std::vector<VkBufferCopy> regions;
        const auto row = static_cast<VkDeviceSize>(p.k) * p.es;
        for (std::int64_t r = 0; r < p.batch * p.rows; ++r)
          regions.push_back({static_cast<VkDeviceSize>(r * p.k) * p.es,
                             static_cast<VkDeviceSize>(r * p.kp) * p.es, row});
        fn.vkCmdCopyBuffer(cmd, src, p.buf.handle(), static_cast<std::uint32_t>(regions.size()),
                           regions.data());
      }
      std::vector<VkBuffer> reads;
      VkBuffer write = VK_NULL_HANDLE;
      for (std::size_t b = 0; b < nd.bindings.size(); ++b) {
        const Ref& r = nd.bindings[b];
        if ((r.kind == Ref::value || r.kind == Ref::state) && r.index == nd.out)
          write = buffer(r);
        else
          reads.push_back(buffer(r));
      }
      access(reads, write);
      stream_.dispatch(*nd.pipeline, *nd.set, nd.push.data(),
                       static_cast<std::uint32_t>(nd.push.size() * 4), nd.gx, nd.gy, nd.gz);
      if (queries_)
        fn.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, i + 1);
    }
    for (std::size_t i = 0; i < staging_out_.size(); ++i) {
      const auto& src = slot_buffer(g_.outputs[i]);
      access({src.handle()}, staging_out_[i].handle());
      stream_.copy(src, staging_out_[i], staging_out_[i].size());
    }
    // Everything written (by shaders or copies) visible to the host's reads after the fence.
    VkMemoryBarrier mb{};
    mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    fn.vkCmdPipelineBarrier(cmd,
                            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    TB_VK_TRY(stream_.end());
    return {};
  }

  // Lazily compiling drivers (lavapipe) JIT at a pipeline's first dispatch: one workgroup of each
  // pipeline created here, all in one submit, so that prepare pays and measures it. Outputs are
  // garbage until a run.
  Result<void> warm_up() {
    std::vector<const Node*> fresh;
    std::set<const vk::ComputePipeline*> seen;
    for (const auto& n : nodes_)
      if (!n.stats.reused && seen.insert(n.pipeline.get()).second) fresh.push_back(&n);
    if (fresh.empty()) return {};
    const auto t0 = std::chrono::steady_clock::now();
    TB_VK_TRY(vk::run_once(ctx_->device(), [&](vk::CommandStream& s) {
      for (const Node* n : fresh)
        s.dispatch(*n->pipeline, *n->set, n->push.data(),
                   static_cast<std::uint32_t>(n->push.size() * 4), 1, 1, 1);
    }));
    first_dispatch_s_ = seconds_since(t0);
    return {};
  }

  void print_profile() const {
    std::map<std::string, std::pair<double, int>> by_kind;
    double total = 0;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      auto& e = by_kind[nodes_[i].kind];
      e.first += node_s_[i] / runs_;
      e.second += 1;
      total += node_s_[i] / runs_;
    }
    std::vector<std::pair<double, std::string>> rows;
    for (const auto& [k, e] : by_kind) rows.emplace_back(e.first, k);
    std::sort(rows.rbegin(), rows.rend());
    std::fprintf(stderr, "vulkan graph profile: %zu dispatches, %.3f ms/inference over %d runs\n",
                 nodes_.size(), total * 1e3, runs_);
    for (const auto& [s, k] : rows)
      std::fprintf(stderr, "  %8.3f ms %5.1f%%  x%-3d %s\n", s * 1e3, 100.0 * s / total,
                   by_kind.at(k).second, k.c_str());
    std::vector<std::size_t> idx(nodes_.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return node_s_[a] > node_s_[b]; });
    for (std::size_t j = 0; j < idx.size(); ++j)
      std::fprintf(stderr, "  node %8.3f ms  %s %s%s\n", node_s_[idx[j]] / runs_ * 1e3,
                   g_.nodes[static_cast<std::size_t>(nodes_[idx[j]].gnode)].name.c_str(),
                   g_.nodes[static_cast<std::size_t>(nodes_[idx[j]].gnode)].problem.str().c_str(),
                   nodes_[idx[j]].kind.starts_with("act_after") ? " (act_after)" : "");
  }

  std::shared_ptr<Context> ctx_;
  DeviceGraph g_;
  std::vector<bool> is_const_, is_state_, needs_raw_;
  std::vector<Node> nodes_;
  std::vector<Convert> convs_;
  std::vector<Pack> packs_;
  std::vector<int> slot_of_;
  std::vector<std::size_t> slot_bytes_;
  std::vector<vk::Buffer> slots_, raw_, staging_in_, staging_out_;
  std::vector<vk::Buffer> state_bufs_;  // per value: a state's own buffer
  vk::Buffer dummy_;
  vk::CommandStream stream_;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  std::uint64_t arena_bytes_ = 0, unshared_bytes_ = 0, weight_bytes_ = 0, scratch_bytes_ = 0,
                staging_bytes_ = 0, uploaded_ = 0, state_bytes_ = 0;
  int barriers_ = 0;
  double setup_s_ = 0, upload_s_ = 0, pack_s_ = 0, first_dispatch_s_ = 0;
  bool constants_set_ = false, states_set_ = false;
  bool profile_ = false;
  bool timing_ = false;
  std::vector<double> last_node_s_;  // per DeviceGraph node, the last run's (time_nodes)
  int runs_ = 0;
  std::vector<double> node_s_;
};

// The staged graph, saying why the resident one was not used.
class FallbackGraph final : public PreparedGraph {
 public:
  FallbackGraph(std::unique_ptr<PreparedGraph> inner, std::string why)
      : inner_(std::move(inner)), why_(std::move(why)) {}
  Result<void> set_constants(std::span<const Tensor* const> c) override {
    return inner_->set_constants(c);
  }
  Result<void> set_states(std::span<const Tensor* const> s) override {
    return inner_->set_states(s);
  }
  Result<GraphRunStats> run(std::span<const Tensor* const> in,
                            std::span<Tensor* const> out) override {
    return inner_->run(in, out);
  }
  MemoryStats memory() const override { return inner_->memory(); }
  std::vector<std::pair<std::string, double>> details() const override { return inner_->details(); }
  std::string config() const override {
    return inner_->config() + " (no resident graph: " + why_ + ")";
  }

 private:
  std::unique_ptr<PreparedGraph> inner_;
  std::string why_;
};

}  // namespace

std::unique_ptr<PreparedGraph> staged_fallback(std::unique_ptr<PreparedGraph> staged,
                                               std::string why) {
  return std::make_unique<FallbackGraph>(std::move(staged), std::move(why));
}

Result<std::unique_ptr<PreparedGraph>> prepare_resident_graph(std::shared_ptr<Context> ctx,
                                                              const DeviceGraph& g) {
  if (auto v = g.verify(); !v) return v.error();
  if (g.nodes.empty()) return make_error("vulkan graph: no nodes");
  auto vg = std::make_unique<VulkanGraph>(std::move(ctx), g);
  if (auto r = vg->prepare(); !r) return r.error();
  return std::unique_ptr<PreparedGraph>(std::move(vg));
}

}  // namespace tb::vulkan

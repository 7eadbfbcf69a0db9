// The oneDNN graph: a DeviceGraph as one list of oneDNN primitives over one activation arena.
//
// Layouts are the primitives' choice (format_tag::any): a convolution picks its blocked
// activation layout (nChw16c on AVX-512) and the next convolution, pooling or add reads it as
// it is, so activations stay blocked from the first convolution to the last; reorders happen
// only at the graph's edges and where a consumer needs another layout (a plain copy for the
// classifier's matmul, for instance). Every reorder is a step of its own, counted in details().
//
// Fusion: bias, activation and residual add (and a following activation, act_after) are
// post-ops of the convolution or matmul that produces them.
//
// int8: u8 x s8 convolutions and matmuls (VNNI) behind static quantising reorders; an output
// that only int8 layers read is written as their u8 (requantised); the dequantising scales,
// constants here, become static output scales with the bias folded in (Folded).
//
// Memory: every intermediate lives in one arena, at an offset planned from its lifetime (first
// and last step that touch it; greedy first fit, largest first), so the peak is what the graph
// needs and no more; one scratchpad (the largest any primitive asks for) is shared by all.
// Weights are reordered once into buffers of their own (set_constants).
//
// Nodes without a native graph step here (attention, row ops, RoPE, embedding, int8 and bf16
// kernels) run as the backend's PreparedKernel on the plain form of their operands, bound where
// the graph holds them (PreparedKernel::bind: a KV cache is read in place, the output written in
// place; only an operand converted on the way, u8 or bf16, goes through a slot of its own), and
// are reported in config() and details() as "kernel_nodes".
//
// States (a decoder's KV caches) are buffers of their own, written once by set_states(); a
// kvwrite node is bound with its state as both its cache input and its output, and writes the
// token's rows there in place.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <unordered_map>

#include "../device_graph.h"
#include "onednn_common.h"
#include "onednn_graph.h"
#include "onednn_ops.h"

namespace tb::onednn {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string mib(std::size_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", static_cast<double>(bytes) / (1 << 20));
  return b;
}

// A dense NHWC image as oneDNN's (n, c, h, w) dimensions.
dnnl::memory::desc nhwc_md(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                           DType t) {
  return TB_DNNL(dnnl::memory::desc({n, c, h, w}, to_dnnl(t), tag::nhwc));
}

class Graph final : public PreparedGraph {
 public:
  Graph(tb::Backend& backend, const DeviceGraph& g, int threads)
      : backend_(backend), g_(g), threads_(threads) {
    if (const char* e = std::getenv("TB_ONEDNN_LAYOUT")) layout_ = e;
    if (const char* e = std::getenv("TB_ONEDNN_WINOGRAD")) winograd_mode_ = e;
    if (const char* e = std::getenv("TB_ONEDNN_SERIAL_MFLOP")) serial_flops_ = std::atof(e) * 1e6;
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    const auto avx512 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
    block_ = (isa & avx512) == avx512 ? 16 : 8;
  }

  void build() {
    omp_set_num_threads(threads_);
    val_buf_.assign(g_.values.size(), -1);
    val_img_.assign(g_.values.size(), {});
    plain_buf_.assign(g_.values.size(), -1);
    for (std::size_t i = 0; i < g_.inputs.size(); ++i)
      val_buf_[static_cast<std::size_t>(g_.inputs[i])] =
          add_buf(plain_of(g_.inputs[i]), Buf::input, static_cast<int>(i));
    for (int v : g_.states) {  // buffers of their own for the graph's life (set_states)
      const int b = add_buf(plain_of(v), Buf::owned);
      val_buf_[static_cast<std::size_t>(v)] = b;
      state_bufs_.push_back(b);
      state_bytes_ += buf_[static_cast<std::size_t>(b)].md.get_size();
    }
    for (std::size_t i = 0; i < g_.constants.size(); ++i)
      const_of_[g_.constants[i]] = static_cast<int>(i);
    plan_requant();
    for (std::size_t ni = 0; ni < g_.nodes.size(); ++ni) {
      const auto& n = g_.nodes[ni];
      const Problem& p = n.problem;
      cur_node_ = static_cast<int>(ni);  // the output reorders: the last node's
      use_threads(p.flops());
      bool native = false;
      if ((p.dtype == DType::f32 || (p.dtype == DType::bf16 && n.in_cast)) && !p.post.scales) {
        if (const auto* c = p.as<ConvDesc>()) native = conv(n, *c);
        if (const auto* d = p.as<PoolDesc>(); d && p.dtype == DType::f32) native = pool(n, *d);
        if (const auto* d = p.as<BinaryDesc>(); d && p.dtype == DType::f32) native = binary(n, *d);
        if (const auto* d = p.as<GemmDesc>()) native = matmul(n, *d);
      }
      if (p.dtype == DType::s8 && p.post.scales && n.in_quant.on)
        if (const auto* c = p.as<ConvDesc>()) native = conv_s8(n, *c);
      if (p.dtype == DType::s8 && p.post.scales && n.in_quant.on)
        if (const auto* g = p.as<GemmDesc>()) native = matmul_s8(n, *g);
      if (!native) kernel_node(n);
    }
    // Outputs: plain, in the caller's tensors.
    for (std::size_t i = 0; i < g_.outputs.size(); ++i) {
      const int v = g_.outputs[i];
      use_threads(static_cast<double>(spec_numel(g_.values[static_cast<std::size_t>(v)])));
      const int src = ensure_plain(v);
      const int dst =
          add_buf(buf_[static_cast<std::size_t>(src)].md, Buf::output, static_cast<int>(i));
      reorder(src, dst);
    }
    use_threads(serial_flops_);
    plan_arena();
  }

  Result<void> set_constants(std::span<const Tensor* const> constants) override {
    return guard([&]() -> Result<void> {
      if (constants.size() != g_.constants.size()) return make_error("set_constants: wrong count");
      const auto t0 = Clock::now();
      omp_set_num_threads(threads_);
      dnnl::stream s(cpu_engine());
      for (const auto& u : uploads_) {
        const Tensor& t = *constants[static_cast<std::size_t>(u.constant)];
        if (t.bytes() != u.user.get_size()) return make_error("set_constants: wrong size");
        if (auto r = check_weight_range(t); !r) return r;
        dnnl::memory user(u.user, cpu_engine(), const_cast<std::byte*>(t.raw()));
        dnnl::memory& to = mems_[static_cast<std::size_t>(u.buf)];
        dnnl::reorder r;
        try {
          r = dnnl::reorder(user, to);
        } catch (const dnnl::error&) {
          // Winograd weights: oneDNN reorders into them from plain oihw only.
          const auto d = u.user.dims();
          dnnl::memory plain(TB_DNNL(dnnl::memory::desc(d, u.user.data_type(),
                                                        d.size() == 4 ? tag::oihw : tag::goihw)),
                             cpu_engine());
          TB_DNNL(dnnl::reorder(user, plain).execute(s, user, plain));
          TB_DNNL(s.wait());
          TB_DNNL(dnnl::reorder(plain, to).execute(s, plain, to));
          continue;
        }
        TB_DNNL(r.execute(s, user, to));
      }
      TB_DNNL(s.wait());
      const double created_before = create_s_;
      for (auto& f : folded_)
        if (auto r = create_folded(f, constants); !r) return r;
      for (auto& k : kernels_) {
        for (std::size_t i = 0; i < k.in_const.size(); ++i)
          if (k.in_const[i] >= 0) {
            const Tensor& t = *constants[static_cast<std::size_t>(k.in_const[i])];
            std::memcpy(k.slots[i].raw(), t.raw(), k.slots[i].bytes());
          }
        if (auto r = k.kernel->upload(k.slots); !r)
          return make_error(k.name + ": upload: " + r.error().message);
      }
      upload_s_ = since(t0) - (create_s_ - created_before);  // creation is not an upload
      return {};
    });
  }

  // An s8 weight beyond what this ISA's u8 x s8 kernels sum exactly (int8_weight_limit) would
  // give an output that differs from the reference for no fault of the graph: refused, naming
  // the cause. tierbench's int8 tiers hold 7-bit weights; an imported model may not.
  static Result<void> check_weight_range(const Tensor& t) {
    const int limit = int8_weight_limit();
    if (limit == 0 || t.dtype() != DType::s8) return {};
    const auto* w = t.data<std::int8_t>();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      if (w[i] > limit || w[i] < -limit)
        return make_error(
            "int8 weight " + std::to_string(w[i]) + " is beyond +-" + std::to_string(limit) +
            ": oneDNN on this CPU's ISA (no VNNI) sums u8 x s8 pairs into int16 "
            "with saturation, so its result would differ from the reference; "
            "quantise the weights to 7 bits (reduce_range) or run on a CPU with VNNI");
    return {};
  }

  Result<void> set_states(std::span<const Tensor* const> states) override {
    if (states.size() != state_bufs_.size())
      return make_error("onednn graph: set_states: " + std::to_string(states.size()) +
                        " tensors for " + std::to_string(state_bufs_.size()) + " states");
    for (std::size_t i = 0; i < states.size(); ++i) {
      const dnnl::memory& m = mems_[static_cast<std::size_t>(state_bufs_[i])];
      if (states[i]->bytes() != m.get_desc().get_size() ||
          states[i]->dtype() != g_.values[static_cast<std::size_t>(g_.states[i])].dtype)
        return make_error(
            "onednn graph: set_states: " + g_.values[static_cast<std::size_t>(g_.states[i])].name +
            " has the wrong type or size");
      std::memcpy(m.get_data_handle(), states[i]->raw(), states[i]->bytes());
    }
    states_set_ = true;
    return {};
  }

  Result<GraphRunStats> run(std::span<const Tensor* const> inputs,
                            std::span<Tensor* const> outputs) override {
    return guard([&]() -> Result<GraphRunStats> {
      if (inputs.size() != g_.inputs.size() || outputs.size() != g_.outputs.size())
        return make_error("run: wrong number of inputs or outputs");
      if (!states_set_ && !state_bufs_.empty())
        return make_error("onednn graph: run() before set_states()");
      omp_set_num_threads(threads_);
      for (std::size_t b = 0; b < buf_.size(); ++b) {
        const Buf& x = buf_[b];
        if (x.kind == Buf::input) {
          if (inputs[static_cast<std::size_t>(x.io)]->bytes() != x.md.get_size())
            return make_error("run: input " + std::to_string(x.io) + " has the wrong size");
          mems_[b].set_data_handle(
              const_cast<std::byte*>(inputs[static_cast<std::size_t>(x.io)]->raw()));
        } else if (x.kind == Buf::output) {
          if (outputs[static_cast<std::size_t>(x.io)]->bytes() != x.md.get_size())
            return make_error("run: output " + std::to_string(x.io) + " has the wrong size");
          mems_[b].set_data_handle(outputs[static_cast<std::size_t>(x.io)]->raw());
        }
      }
      GraphRunStats st;
      const auto t0 = Clock::now();
      int threads = threads_;
      if (timing_) node_s_.assign(g_.nodes.size(), 0.0);
      for (auto& step : steps_) {
        // A CPU stream runs a primitive to completion inside execute(): the host clock around
        // it is the step's time.
        const auto ts = timing_ ? Clock::now() : Clock::time_point{};
        if (step.threads != threads) omp_set_num_threads(threads = step.threads);
        if (step.kernel >= 0) {
          if (auto r = run_kernel(kernels_[static_cast<std::size_t>(step.kernel)]); !r)
            return r.error();
        } else {
          TB_DNNL(step.prim.execute(stream_, step.mem_args));
        }
        if (timing_ && step.node >= 0) node_s_[static_cast<std::size_t>(step.node)] += since(ts);
      }
      TB_DNNL(stream_.wait());
      if (threads != threads_) omp_set_num_threads(threads_);
      st.kernel_s = since(t0);
      st.kernel_timing = TimingSource::host_clock;
      st.host_round_trips = 0;  // host memory: nothing to wait for beyond the computation
      return st;
    });
  }

  bool time_nodes(bool on) override {
    timing_ = on;
    return true;
  }
  std::vector<double> node_seconds() const override { return node_s_; }

  MemoryStats memory() const override {
    MemoryStats m;
    m.host_bytes = arena_bytes_ + scratch_bytes_ + weight_bytes_ + state_bytes_;
    for (const auto& k : kernels_) {
      const auto x = k.kernel->memory();
      m.host_bytes += x.host_bytes;
      for (const auto& t : k.slots) m.host_bytes += t.bytes();
    }
    m.uploaded_bytes = weight_bytes_;
    return m;
  }

  std::vector<std::pair<std::string, double>> details() const override {
    std::vector<std::pair<std::string, double>> d = {
        {"primitive_create_s", create_s_},
        {"primitives", static_cast<double>(prims_)},
        {"known_bad_impls_skipped", static_cast<double>(known_bad_skipped())},
        {"reorders", static_cast<double>(reorders_)},
        {"fused_post_ops", static_cast<double>(post_ops_created())},
        {"static_scale_int8", static_cast<double>(folded_count())},
        {"kernel_nodes", static_cast<double>(kernels_.size())},
        {"arena_bytes", static_cast<double>(arena_bytes_)},
        {"scratchpad_bytes", static_cast<double>(scratch_bytes_)},
        {"weight_reorder_s", upload_s_},
        {"threads", static_cast<double>(threads_)},
        {"serial_steps", static_cast<double>(serial_steps())},
        // Nodes of fewer FLOPs run on one thread (0: every node on all threads).
        {"serial_flops", threads_ > 1 ? serial_flops_ : 0.0},
        {"winograd_convolutions", static_cast<double>(winograd_)},
        // int8 convolutions writing u8 for their int8 readers (0: every int8 input reordered).
        {"requantised_outputs", static_cast<double>(requantised_)},
        {"conv_quantising_reorders", static_cast<double>(conv_quantize_steps_)}};
    for (const auto& k : kernels_)
      for (const auto& [key, v] : k.kernel->details())
        if (key.ends_with("_s")) d.emplace_back(key, v);
    return d;
  }

  std::string config() const override {
    // The int8 path keeps every activation plain (u8 or f32 NHWC): no "(0 blocked)" then.
    const std::string layout =
        blocked_ == 0 ? std::string("NHWC")
                      : (layout_ == "blocked" ? "nChw" + std::to_string(block_) + "c" : layout_) +
                            " (" + std::to_string(blocked_) + " blocked)";
    std::string s = "onednn graph: " + std::to_string(g_.nodes.size() - kernels_.size()) +
                    " nodes as primitives, activations " + layout + ", " +
                    std::to_string(reorders_) + " reorders, " + std::to_string(post_ops_created()) +
                    " fused post-ops, arena " + mib(arena_bytes_) + " MiB";
    if (int8_convs_ > 0)
      s += ", " + std::to_string(int8_convs_) + " u8 x s8 convolutions and matmuls (" +
           std::to_string(requantised_) + " writing requantised u8, " +
           std::to_string(folded_count()) + " with static output scales) behind " +
           std::to_string(quantize_steps_) + " static quantising reorders";
    if (winograd_ > 0) s += ", " + std::to_string(winograd_) + " Winograd convolutions";
    if (!kernels_.empty())
      s += ", " + std::to_string(kernels_.size()) + " nodes as kernels on plain buffers";
    if (!state_bufs_.empty())
      s += ", " + std::to_string(state_bufs_.size()) + " states resident (" + mib(state_bytes_) +
           " MiB, written in place)";
    if (const int n = serial_steps(); n > 0)
      s += ", " + std::to_string(n) + " of " + std::to_string(steps_.size()) +
           " steps on 1 thread (small)";
    return s;
  }

  // Creates the primitives (timed) and the memory objects over the arena.
  void realise() {
    const auto t0 = Clock::now();
    for (auto& step : steps_)
      if (step.kernel < 0 && !step.deferred) {
        omp_set_num_threads(step.threads);
        step.prim = TB_DNNL(dnnl::primitive(step.pd.get()));
      }
    omp_set_num_threads(threads_);
    create_s_ = since(t0);
    arena_.reset(static_cast<std::byte*>(
        std::aligned_alloc(64, std::max<std::size_t>(64, (arena_bytes_ + 63) / 64 * 64))));
    scratch_mem_.reset(static_cast<std::byte*>(
        std::aligned_alloc(64, std::max<std::size_t>(64, (scratch_bytes_ + 63) / 64 * 64))));
    scratch_ = TB_DNNL(
        dnnl::memory(dnnl::memory::desc(
                         {static_cast<dnnl::memory::dim>(std::max<std::size_t>(1, scratch_bytes_))},
                         dnnl::memory::data_type::u8, tag::x),
                     cpu_engine(), scratch_mem_.get()));
    for (std::size_t b = 0; b < buf_.size(); ++b) {
      Buf& x = buf_[b];
      void* handle = nullptr;
      switch (x.kind) {
        case Buf::arena:
          handle = arena_.get() + x.offset;
          break;
        case Buf::owned:
          x.storage.reset(static_cast<std::byte*>(
              std::aligned_alloc(64, std::max<std::size_t>(64, (x.md.get_size() + 63) / 64 * 64))));
          handle = x.storage.get();
          break;
        case Buf::kernel_out:
          handle = kernels_[static_cast<std::size_t>(x.io)].outs[0].raw();
          break;
        default:
          handle = DNNL_MEMORY_NONE;
      }
      mems_.push_back(TB_DNNL(dnnl::memory(x.md, cpu_engine(), handle)));
    }
    for (auto& step : steps_) {
      for (const auto& [arg, b] : step.args)
        step.mem_args[arg] = mems_[static_cast<std::size_t>(b)];
      if (step.scratch) step.mem_args[DNNL_ARG_SCRATCHPAD] = scratch_;
    }
    stream_ = TB_DNNL(dnnl::stream(cpu_engine()));
  }

  Result<void> prepare_kernels(const PrepareOptions& o) {
    for (auto& k : kernels_) {
      auto r = backend_.prepare(k.problem, o);
      if (!r) return make_error(k.name + ": " + r.error().message);
      k.kernel = std::move(r.value());
    }
    return {};
  }

 private:
  struct Buf {
    enum Kind { arena, owned, input, output, kernel_out } kind = arena;
    dnnl::memory::desc md;
    int io = -1;  // input / output index, or the kernel node of kernel_out
    int first = INT_MAX, last = -1;
    std::size_t offset = 0;
    struct Free {
      void operator()(std::byte* p) const { std::free(p); }
    };
    std::unique_ptr<std::byte, Free> storage;
  };
  struct Step {
    dnnl::primitive_desc_base pd;
    dnnl::primitive prim;
    std::vector<std::pair<int, int>> args;  // oneDNN arg -> buffer
    bool scratch = false;
    bool deferred = false;  // created at set_constants (Folded)
    int threads = 1;        // OpenMP threads it was created for
    int kernel = -1;        // a kernel node instead
    int node = -1;          // the DeviceGraph node it runs (or prepares the operands of)
    std::unordered_map<int, dnnl::memory> mem_args;  // realised; handles of inputs set per run
  };
  struct Upload {
    int constant, buf;
    dnnl::memory::desc user;
  };
  struct KernelNode {
    std::string name;
    Problem problem;
    std::unique_ptr<PreparedKernel> kernel;
    std::vector<Tensor> slots, outs;
    std::vector<int> in_const;  // constant index per slot, or -1
    std::vector<int> in_buf;    // plain buffer per non-constant slot
    // What each input slot is bound to (PreparedKernel::bind; nullptr: copied, -1 cast: binding
    // refused), and whether the output is written in place.
    std::vector<const void*> bound;
    bool out_bound = false;
    int out_buf = -1;  // a state written in place (kvwrite), else -1: the node's own outs[0]
    Activation act_after = Activation::none;
    DeviceGraph::Node::Quant in_quant;
    bool in_cast = false;
  };

  // An int8 convolution or matmul whose dequantising scales are constants, in its folded form:
  // static per-channel output scales a_scale * b_scale[k] and the bias as the primitive's own
  // input, divided by that scale (oneDNN 2.x adds the bias to the s32 accumulator before the
  // output scale). The scales are only known at set_constants, so the primitive is created
  // there. Measured against the binary form (binary_mul a_scale, binary_mul b_scale, binary_add
  // bias), one thread, brgconv/brdgmm VNNI kernels of person-detect: 1.3x to 3.3x faster
  // (8->48 1x1 at 48x48: 11.2 against 36.8 us; depthwise 48 at 24x24: 6.9 against 14.7 us).
  // Runtime output scales would avoid the deferral, but 2.6 has no VNNI kernel taking them. A
  // zero or non-finite scale (the bias cannot be divided by it) keeps the binary form, which the
  // step holds from build on.
  struct Folded {
    int step;
    std::function<dnnl::primitive_desc(const dnnl::primitive_attr&)> make;
    dnnl::post_ops tail;  // after the scales: activation, residual add, act_after, requantise
    int a_scale, b_scale, bias;  // constant indices (bias -1 without one)
    std::int64_t k;
    int bias_buf = -1;                      // owned f32 [k]: bias / scale
    std::vector<std::pair<int, int>> args;  // the folded form's arguments
    int binary_post_ops = 0;
    dnnl::primitive_desc_base binary_pd;  // the binary form, kept for a fallback
    std::unordered_map<int, dnnl::memory> binary_args;
    bool active = false;  // the folded form is the one created
  };

  // Whether the node's inputs first..last are all constants (the scales, and the bias if any).
  bool all_constant(const DeviceGraph::Node& n, std::size_t first, std::size_t last) const {
    for (std::size_t i = first; i <= last; ++i)
      if (i >= n.in.size() || !const_of_.count(n.in[i])) return false;
    return true;
  }
  // The buffer the binary form's residual post-op reads (its last post-op argument), or -1.
  static int residual_arg(const std::vector<std::pair<int, int>>& args, const EpilogueArgs& epi,
                          bool residual) {
    if (!residual || epi.args.empty()) return -1;
    const int want = DNNL_ARG_ATTR_MULTIPLE_POST_OP(epi.args.back().post_op) | DNNL_ARG_SRC_1;
    for (const auto& [arg, b] : args)
      if (arg == want) return b;
    return -1;
  }

  // Registers the folded form of the int8 step just added (its binary form in steps_.back()).
  // `make` creates the primitive descriptor of the folded form from its attributes; the
  // residual, if any, is read as in the binary form (buffer res, descriptor res_md).
  void add_folded(const DeviceGraph::Node& n, std::int64_t k,
                  std::function<dnnl::primitive_desc(const dnnl::primitive_attr&)> make, int res,
                  const dnnl::memory::desc& res_md, const DeviceGraph::Node::Quant& rq,
                  int binary_post_ops) {
    Folded f;
    f.step = static_cast<int>(steps_.size()) - 1;
    f.make = std::move(make);
    append_activation(f.tail, n.problem.post.act);
    if (res >= 0) TB_DNNL(f.tail.append_binary(dnnl::algorithm::binary_add, res_md));
    append_activation(f.tail, n.act_after);
    if (rq.on)
      TB_DNNL(f.tail.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f / rq.scale,
                                    static_cast<float>(rq.zp)));
    const auto constant = [&](std::size_t i) { return const_of_.at(n.in[i]); };
    f.a_scale = constant(2), f.b_scale = constant(3);
    f.bias = n.problem.post.bias ? constant(4) : -1;
    f.k = k;
    f.binary_post_ops = binary_post_ops;
    Step& st = steps_.back();
    for (const auto& [arg, b] : st.args)
      if (arg == DNNL_ARG_SRC || arg == DNNL_ARG_WEIGHTS || arg == DNNL_ARG_DST)
        f.args.emplace_back(arg, b);
    if (f.bias >= 0) {
      f.bias_buf = add_buf(plain_md({k}, DType::f32), Buf::owned);
      weight_bytes_ += static_cast<std::size_t>(k) * sizeof(float);
      f.args.emplace_back(DNNL_ARG_BIAS, f.bias_buf);
    }
    if (res >= 0)
      f.args.emplace_back(
          DNNL_ARG_ATTR_MULTIPLE_POST_OP(n.problem.post.act != Activation::none ? 1 : 0) |
              DNNL_ARG_SRC_1,
          res);
    st.deferred = true;
    folded_.push_back(std::move(f));
  }

  // Creates the primitive of a Folded step: the folded form when its scales allow, else the
  // binary form (created in realise's stead). Each set_constants recreates it from its values.
  Result<void> create_folded(Folded& f, std::span<const Tensor* const> constants) {
    Step& st = steps_[static_cast<std::size_t>(f.step)];
    if (!f.binary_pd) f.binary_pd = st.pd, f.binary_args = st.mem_args;
    const auto t0 = Clock::now();
    const Tensor& a = *constants[static_cast<std::size_t>(f.a_scale)];
    const Tensor& b = *constants[static_cast<std::size_t>(f.b_scale)];
    if (a.numel() != 1 || b.numel() != f.k) return make_error("set_constants: scale sizes");
    std::vector<float> scale(static_cast<std::size_t>(f.k)), bias;
    bool ok = true;
    for (std::int64_t i = 0; i < f.k; ++i) {
      const float x = static_cast<float>(a.at(0)) * static_cast<float>(b.at(i));
      scale[static_cast<std::size_t>(i)] = x;
      ok = ok && x != 0 && std::isfinite(x);
    }
    if (ok && f.bias >= 0) {
      const Tensor& t = *constants[static_cast<std::size_t>(f.bias)];
      if (t.numel() != f.k) return make_error("set_constants: bias size");
      bias.resize(static_cast<std::size_t>(f.k));
      for (std::int64_t i = 0; i < f.k; ++i) {
        const auto u = static_cast<std::size_t>(i);
        bias[u] = static_cast<float>(t.at(i)) / scale[u];
        ok = ok && std::isfinite(bias[u]);
      }
    }
    dnnl::primitive_desc pd;
    if (ok) {
      dnnl::primitive_attr attr = attr_with(f.tail);
      TB_DNNL(attr.set_output_scales(1 << 1, scale));
      omp_set_num_threads(st.threads);
      try {
        pd = f.make(attr);
        ok = skip_known_bad(pd) && pd.weights_desc() == f.binary_pd.weights_desc() &&
             pd.scratchpad_desc().get_size() <= scratch_bytes_;
      } catch (const dnnl::error&) {
        ok = false;
      }
    }
    f.active = ok;
    if (ok) {
      if (f.bias_buf >= 0)
        std::memcpy(mems_[static_cast<std::size_t>(f.bias_buf)].get_data_handle(), bias.data(),
                    bias.size() * sizeof(float));
      st.pd = pd;
      st.mem_args.clear();
      for (const auto& [arg, buf] : f.args) st.mem_args[arg] = mems_[static_cast<std::size_t>(buf)];
      if (pd.scratchpad_desc().get_size() > 0) st.mem_args[DNNL_ARG_SCRATCHPAD] = scratch_;
    } else {
      st.pd = f.binary_pd;
      st.mem_args = f.binary_args;
    }
    omp_set_num_threads(st.threads);
    st.prim = TB_DNNL(dnnl::primitive(st.pd.get()));
    omp_set_num_threads(threads_);
    create_s_ += since(t0);
    return {};
  }
  int serial_steps() const {
    return threads_ > 1
               ? static_cast<int>(std::count_if(steps_.begin(), steps_.end(),
                                                [](const Step& s) { return s.threads == 1; }))
               : 0;
  }
  int folded_count() const {
    return static_cast<int>(
        std::count_if(folded_.begin(), folded_.end(), [](const Folded& f) { return f.active; }));
  }
  // Post-ops of the primitives as created: the folded forms have fewer than their binary forms.
  int post_ops_created() const {
    int n = post_ops_;
    for (const auto& f : folded_)
      if (f.active) n += f.tail.len() - f.binary_post_ops;
    return n;
  }

  int add_buf(const dnnl::memory::desc& md, Buf::Kind kind, int io = -1) {
    Buf b;
    b.md = md, b.kind = kind, b.io = io;
    buf_.push_back(std::move(b));
    return static_cast<int>(buf_.size()) - 1;
  }
  // The threads of the steps added next, from their work (flops; elements for a reorder): one
  // below serial_flops_, where a fork and join costs more than it saves. oneDNN sizes a
  // primitive's work split when its descriptor is created, so this is set before.
  void use_threads(double work) {
    cur_threads_ = threads_ > 1 && work < serial_flops_ ? 1 : threads_;
    omp_set_num_threads(cur_threads_);
  }
  // Marks buffer b as used by the step about to be added.
  void touch(int b) {
    Buf& x = buf_[static_cast<std::size_t>(b)];
    const int s = static_cast<int>(steps_.size());
    x.first = std::min(x.first, s), x.last = std::max(x.last, s);
  }
  void add_step(const dnnl::primitive_desc_base& pd, std::vector<std::pair<int, int>> args) {
    for (const auto& a : args) touch(a.second);
    Step s;
    s.pd = pd;
    s.args = std::move(args);
    s.scratch = pd.scratchpad_desc().get_size() > 0;
    s.threads = cur_threads_;
    s.node = cur_node_;
    scratch_bytes_ = std::max(scratch_bytes_, pd.scratchpad_desc().get_size());
    steps_.push_back(std::move(s));
    ++prims_;
  }
  static dnnl::primitive_attr attr_with(const dnnl::post_ops& po = {}) {
    dnnl::primitive_attr a;
    TB_DNNL(a.set_scratchpad_mode(dnnl::scratchpad_mode::user));
    if (po.len() > 0) TB_DNNL(a.set_post_ops(po));
    return a;
  }
  void reorder(int from, int to) {
    const auto pd = TB_DNNL(dnnl::reorder::primitive_desc(
        cpu_engine(), buf_[static_cast<std::size_t>(from)].md, cpu_engine(),
        buf_[static_cast<std::size_t>(to)].md, attr_with()));
    add_step(pd, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
    ++reorders_;
  }
  // The value's dense host-layout view (NHWC for images, row-major otherwise).
  dnnl::memory::desc plain_of(int v) const {
    const auto& s = g_.values[static_cast<std::size_t>(v)];
    return plain_md({spec_numel(s)}, s.dtype);
  }
  // A buffer holding v in the host layout (reordered from a blocked one once, when needed).
  int ensure_plain(int v) {
    const auto vi = static_cast<std::size_t>(v);
    const int b = val_buf_[vi];
    if (plain_buf_[vi] >= 0) return plain_buf_[vi];
    if (val_img_[vi].empty() || dense_nhwc(b)) return plain_buf_[vi] = b;
    const auto& d = val_img_[vi];
    const int p = add_buf(nhwc_md(d[0], d[1], d[2], d[3], DType::f32), Buf::arena);
    reorder(b, p);
    return plain_buf_[vi] = p;
  }
  bool dense_nhwc(int b) const {
    const auto& md = buf_[static_cast<std::size_t>(b)].md;
    const auto d = md.dims();
    return d.size() != 4 || md == TB_DNNL(dnnl::memory::desc(d, md.data_type(), tag::nhwc));
  }
  // The buffer of image value v as oneDNN (n, c, h, w) dims: its own when it was produced as an
  // image, else its plain bytes seen as NHWC.
  int image(int v, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
    const auto vi = static_cast<std::size_t>(v);
    if (!val_img_[vi].empty()) return val_buf_[vi];
    if (auto it = const_of_.find(v); it != const_of_.end())
      throw Failure("image operand is a weight");
    return view(val_buf_[vi], nhwc_md(n, c, h, w, DType::f32));
  }
  // Buffer b's bytes seen with another descriptor of the same size.
  int view(int b, const dnnl::memory::desc& md) {
    const auto& base = buf_[static_cast<std::size_t>(b)].md;
    if (base == md) return b;
    // A larger view would read and write past its buffer (a heap overflow at the arena's end).
    if (md.get_size() > base.get_size())
      throw Failure("a view of " + std::to_string(md.get_size()) + " bytes over a buffer of " +
                    std::to_string(base.get_size()));
    const int v = add_buf(md, Buf::arena);
    alias_[v] = b;
    return v;
  }
  // A buffer with `md` holding image value v (a reorder when its layout differs).
  int as_layout(int b, const dnnl::memory::desc& md) {
    if (buf_[static_cast<std::size_t>(b)].md == md) return b;
    const int to = add_buf(md, Buf::arena);
    reorder(b, to);
    return to;
  }
  int constant_buf(int v, const dnnl::memory::desc& user, const dnnl::memory::desc& wanted) {
    const int b = add_buf(wanted, Buf::owned);
    uploads_.push_back({const_of_.at(v), b, user});
    weight_bytes_ += wanted.get_size();
    return b;
  }
  void set_output(const DeviceGraph::Node& n, int b, const dims& img) {
    val_buf_[static_cast<std::size_t>(n.out)] = b;
    val_img_[static_cast<std::size_t>(n.out)] = img;
    if (!img.empty() && !dense_nhwc(b)) ++blocked_;
  }
  // The activation layout convolutions are asked for: the blocked layout of the CPU's vector
  // width where channels fill whole blocks (one layout from the first convolution to the last:
  // letting each convolution choose with format_tag::any mixes brgemm's NHWC and the direct
  // kernels' blocked layouts, and the reorders between them cost more than they save), else
  // any. TB_ONEDNN_LAYOUT=any|nhwc|blocked overrides (recorded with the run's environment).
  dnnl::memory::desc act_md(const dims& d, DType t = DType::f32) const {
    const auto dt = to_dnnl(t);
    if (layout_ == "any") return TB_DNNL(dnnl::memory::desc(d, dt, tag::any));
    if (layout_ == "nhwc") return TB_DNNL(dnnl::memory::desc(d, dt, tag::nhwc));
    if (d[1] % block_ == 0)
      return TB_DNNL(dnnl::memory::desc(d, dt, block_ == 16 ? tag::nChw16c : tag::nChw8c));
    return TB_DNNL(dnnl::memory::desc(d, dt, tag::any));
  }

  // Post-ops: the problem's activation, its residual (src1 in dst's layout), act_after.
  dnnl::post_ops post_ops(const DeviceGraph::Node& n, const dnnl::memory::desc* res_md) {
    dnnl::post_ops po;
    append_activation(po, n.problem.post.act);
    if (res_md) TB_DNNL(po.append_binary(dnnl::algorithm::binary_add, *res_md));
    append_activation(po, n.act_after);
    post_ops_ += po.len() + (n.problem.post.bias ? 1 : 0);
    return po;
  }

  // f32 (any layout) -> u8: q = round(x / scale) + zp, saturated (the reorder's attributes).
  static dnnl::reorder::primitive_desc quantising_reorder(const dnnl::memory::desc& from,
                                                          const dnnl::memory::desc& to,
                                                          const DeviceGraph::Node::Quant& q) {
    dnnl::primitive_attr qa = attr_with();
    qa.set_output_scales(0, {1.f / q.scale});
    if (q.zp != 0) qa.set_zero_points(DNNL_ARG_DST, 0, {q.zp});
    return dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), to, qa);
  }

  // int8 convolution with a static input quantisation: a quantising reorder (f32 in whatever
  // layout -> u8 NHWC, scale and zero point as reorder attributes) and a u8 x s8 convolution
  // (VNNI) whose +scales epilogue runs as post-ops, f32 NHWC out. Every descriptor is created
  // before anything is added, so an unsupported shape falls back to a kernel node cleanly.
  bool conv_s8(const DeviceGraph::Node& n, const ConvDesc& c) {
    if (const_of_.count(n.in[0]) || !const_of_.count(n.in[1])) return false;
    using dt = dnnl::memory::data_type;
    const std::int64_t G = c.groups, cg = c.c / G, kg = c.k / G;
    const auto src_u8 = TB_DNNL(dnnl::memory::desc({c.n, c.c, c.h, c.w}, dt::u8, tag::nhwc));
    const auto dst_md = nhwc_md(c.n, c.k, c.oh(), c.ow(), DType::f32);
    // Requantised output: when every reader quantises this output with the same static scale,
    // the convolution writes that u8 directly (a linear post-op and a saturating u8 dst) and the
    // readers skip their quantising reorder.
    const auto& rq = requant_[static_cast<std::size_t>(n.out)];
    const bool pre = prequant_[static_cast<std::size_t>(n.in[0])];
    const auto out_md =
        rq.on ? TB_DNNL(dnnl::memory::desc({c.n, c.k, c.oh(), c.ow()}, dt::u8, tag::nhwc)) : dst_md;
    dnnl::memory::desc w_user, w_any;
    if (G == 1) {
      w_user = TB_DNNL(
          dnnl::memory::desc({c.k, c.c, c.r, c.s}, dt::s8, dims{c.r * c.s * cg, 1, c.s * cg, cg}));
      w_any = TB_DNNL(dnnl::memory::desc({c.k, c.c, c.r, c.s}, dt::s8, tag::any));
    } else {
      w_user =
          TB_DNNL(dnnl::memory::desc({G, kg, cg, c.r, c.s}, dt::s8,
                                     dims{kg * c.r * c.s * cg, c.r * c.s * cg, 1, c.s * cg, cg}));
      w_any = TB_DNNL(dnnl::memory::desc({G, kg, cg, c.r, c.s}, dt::s8, tag::any));
    }
    EpilogueArgs epi = epilogue_post_ops(n.problem.post, 2, dst_md, 1);
    append_activation(epi.ops, n.act_after);
    if (rq.on)
      TB_DNNL(epi.ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f / rq.scale,
                                     static_cast<float>(rq.zp)));
    const dims strides = {c.stride, c.stride}, dil = {c.dilation - 1, c.dilation - 1},
               pad = {c.pad, c.pad}, pad_r = {c.pad + c.pad_end, c.pad + c.pad_end};
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::reorder::primitive_desc qpd;
    const int src =
        pre ? val_buf_[static_cast<std::size_t>(n.in[0])] : image(n.in[0], c.n, c.c, c.h, c.w);
    if (pre && buf_[static_cast<std::size_t>(src)].md != src_u8) return false;
    try {
      const auto desc = dnnl::convolution_forward::desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_u8, w_any,
          dnnl::memory::desc(), out_md, strides, dil, pad, pad_r);
      pd = dnnl::convolution_forward::primitive_desc(desc, attr_with(epi.ops), cpu_engine());
      if (!skip_known_bad(pd)) {
        if (rq.on) throw Failure("requantised int8 convolution unavailable");
        return false;
      }
      if (pd.src_desc() != src_u8 || pd.dst_desc() != out_md) return false;
      if (!pre) {
        qpd = quantising_reorder(buf_[static_cast<std::size_t>(src)].md, src_u8, n.in_quant);
      }
    } catch (const dnnl::error&) {
      if (rq.on) throw Failure("requantised int8 convolution unavailable");  // readers expect u8
      return false;
    }
    int q = src;
    if (!pre) {
      q = add_buf(src_u8, Buf::arena);
      add_step(qpd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, q}});
      ++quantize_steps_, ++conv_quantize_steps_;
    }
    std::vector<std::pair<int, int>> args = {
        {DNNL_ARG_SRC, q}, {DNNL_ARG_WEIGHTS, constant_buf(n.in[1], w_user, pd.weights_desc())}};
    for (const auto& a : epi.args) {
      const int v = n.in[static_cast<std::size_t>(a.input)];
      const int b = const_of_.count(v) ? constant_buf(v, a.md, a.md)
                    : a.md == dst_md   ? as_layout(image(v, c.n, c.k, c.oh(), c.ow()), dst_md)
                                       : view(ensure_plain(v), a.md);
      args.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(a.post_op) | DNNL_ARG_SRC_1, b);
    }
    post_ops_ += epi.ops.len();
    const int dst = add_buf(out_md, Buf::arena);
    args.emplace_back(DNNL_ARG_DST, dst);
    const int res = residual_arg(args, epi, n.problem.post.residual);
    add_step(pd, std::move(args));
    if (all_constant(n, 2, 3 + n.problem.post.bias)) {
      const auto bias_md = n.problem.post.bias ? plain_md({c.k}, DType::f32) : dnnl::memory::desc();
      const auto fdesc = dnnl::convolution_forward::desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_u8,
          pd.weights_desc(), bias_md, out_md, strides, dil, pad, pad_r);
      add_folded(
          n, c.k,
          [fdesc](const dnnl::primitive_attr& a) -> dnnl::primitive_desc {
            return dnnl::convolution_forward::primitive_desc(fdesc, a, cpu_engine());
          },
          res, dst_md, rq, epi.ops.len());
    }
    set_output(n, dst, {c.n, c.k, c.oh(), c.ow()});
    prequant_[static_cast<std::size_t>(n.out)] = rq.on;
    requantised_ += rq.on;
    ++int8_convs_;
    return true;
  }

  // Values every reader quantises with one static scale, all readers int8 convolutions, produced
  // by an int8 convolution, and not a graph output: candidates for a requantised u8 output.
  void plan_requant() {
    requant_.assign(g_.values.size(), {});
    prequant_.assign(g_.values.size(), false);
    std::vector<int> readers(g_.values.size(), 0), quant_readers(g_.values.size(), 0);
    std::vector<DeviceGraph::Node::Quant> q(g_.values.size());
    std::vector<bool> same(g_.values.size(), true);
    for (const auto& n : g_.nodes)
      for (std::size_t i = 0; i < n.in.size(); ++i) {
        const auto v = static_cast<std::size_t>(n.in[i]);
        ++readers[v];
        if (i != 0 || !n.in_quant.on || !n.problem.as<ConvDesc>() || !n.problem.post.scales)
          continue;
        if (quant_readers[v]++ == 0)
          q[v] = n.in_quant;
        else
          same[v] = same[v] && q[v].scale == n.in_quant.scale && q[v].zp == n.in_quant.zp;
      }
    std::vector<bool> output(g_.values.size(), false);
    for (int v : g_.outputs) output[static_cast<std::size_t>(v)] = true;
    for (const auto& n : g_.nodes) {
      const auto v = static_cast<std::size_t>(n.out);
      if (n.problem.dtype == DType::s8 && n.problem.post.scales && n.in_quant.on &&
          n.problem.as<ConvDesc>() && !output[v] && readers[v] > 0 &&
          readers[v] == quant_readers[v] && same[v])
        requant_[v] = q[v];
    }
  }

  // int8 gemm with weights: a quantising reorder of A (f32 -> u8) and a u8 x s8 matmul with the
  // +scales epilogue as post-ops, as conv_s8.
  bool matmul_s8(const DeviceGraph::Node& n, const GemmDesc& g) {
    if (g.batch != 1 || g.trans_a || const_of_.count(n.in[0]) || !const_of_.count(n.in[1]))
      return false;
    using dt = dnnl::memory::data_type;
    const auto a_u8 = TB_DNNL(dnnl::memory::desc({g.m, g.k}, dt::u8, tag::ab));
    const auto b_user = g.trans_b ? TB_DNNL(dnnl::memory::desc({g.k, g.n}, dt::s8, dims{1, g.k}))
                                  : TB_DNNL(dnnl::memory::desc({g.k, g.n}, dt::s8, tag::ab));
    const auto b_any = TB_DNNL(dnnl::memory::desc({g.k, g.n}, dt::s8, tag::any));
    const auto c_md = plain_md({g.m, g.n}, DType::f32);
    EpilogueArgs epi = epilogue_post_ops(n.problem.post, 2, c_md, 1);
    append_activation(epi.ops, n.act_after);
    const int a = view(ensure_plain(n.in[0]), plain_md({g.m, g.k}, DType::f32));
    dnnl::matmul::primitive_desc pd;
    dnnl::reorder::primitive_desc qpd;
    try {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_u8, b_any, dnnl::memory::desc(), c_md),
                                        attr_with(epi.ops), cpu_engine());
      qpd = quantising_reorder(buf_[static_cast<std::size_t>(a)].md, a_u8, n.in_quant);
    } catch (const dnnl::error&) {
      return false;
    }
    const int q = add_buf(a_u8, Buf::arena);
    add_step(qpd, {{DNNL_ARG_FROM, a}, {DNNL_ARG_TO, q}});
    ++quantize_steps_;
    std::vector<std::pair<int, int>> args = {
        {DNNL_ARG_SRC, q}, {DNNL_ARG_WEIGHTS, constant_buf(n.in[1], b_user, pd.weights_desc())}};
    for (const auto& x : epi.args) {
      const int v = n.in[static_cast<std::size_t>(x.input)];
      const int b = const_of_.count(v) ? constant_buf(v, x.md, x.md) : view(ensure_plain(v), x.md);
      args.emplace_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(x.post_op) | DNNL_ARG_SRC_1, b);
    }
    post_ops_ += epi.ops.len();
    const int dst = add_buf(c_md, Buf::arena);
    args.emplace_back(DNNL_ARG_DST, dst);
    const int res = residual_arg(args, epi, n.problem.post.residual);
    add_step(pd, std::move(args));
    if (all_constant(n, 2, 3 + n.problem.post.bias)) {
      const auto bias_md =
          n.problem.post.bias ? plain_md({1, g.n}, DType::f32) : dnnl::memory::desc();
      const auto fdesc = dnnl::matmul::desc(a_u8, pd.weights_desc(), bias_md, c_md);
      add_folded(
          n, g.n,
          [fdesc](const dnnl::primitive_attr& a) -> dnnl::primitive_desc {
            return dnnl::matmul::primitive_desc(fdesc, a, cpu_engine());
          },
          res, c_md, DeviceGraph::Node::Quant{}, epi.ops.len());
    }
    set_output(n, dst, {});
    ++int8_convs_;
    return true;
  }

  bool conv(const DeviceGraph::Node& n, const ConvDesc& c) {
    if (const_of_.count(n.in[0]) || !const_of_.count(n.in[1])) return false;
    const std::int64_t G = c.groups, cg = c.c / G, kg = c.k / G;
    // f32, or bf16 read from an f32 value (in_cast: the reorder into the src layout rounds).
    const auto wdt = to_dnnl(n.problem.dtype);
    const int src = image(n.in[0], c.n, c.c, c.h, c.w);
    dnnl::memory::desc w_user, w_any;
    if (G == 1) {
      w_user = TB_DNNL(
          dnnl::memory::desc({c.k, c.c, c.r, c.s}, wdt, dims{c.r * c.s * cg, 1, c.s * cg, cg}));
      w_any = TB_DNNL(dnnl::memory::desc({c.k, c.c, c.r, c.s}, wdt, tag::any));
    } else {
      w_user = TB_DNNL(dnnl::memory::desc(
          {G, kg, cg, c.r, c.s}, wdt, dims{kg * c.r * c.s * cg, c.r * c.s * cg, 1, c.s * cg, cg}));
      w_any = TB_DNNL(dnnl::memory::desc({G, kg, cg, c.r, c.s}, wdt, tag::any));
    }
    const auto src_any = act_md({c.n, c.c, c.h, c.w}, n.problem.dtype);
    const auto dst_any = act_md({c.n, c.k, c.oh(), c.ow()});
    const auto bias_md =
        c.k > 0 && n.problem.post.bias ? plain_md({c.k}, DType::f32) : dnnl::memory::desc();
    const dims strides = {c.stride, c.stride}, dil = {c.dilation - 1, c.dilation - 1},
               pad = {c.pad, c.pad}, pad_r = {c.pad + c.pad_end, c.pad + c.pad_end};
    const auto desc = [&](dnnl::algorithm alg = dnnl::algorithm::convolution_direct) {
      return TB_DNNL(dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg,
                                                     src_any, w_any, bias_md, dst_any, strides, dil,
                                                     pad, pad_r));
    };
    dnnl::convolution_forward::primitive_desc pd;
    int res = -1;
    if (winograd_fits(n, c)) {  // no residual: its post-ops do not depend on the dst layout
      const dnnl::post_ops po = post_ops(n, nullptr);
      bool wino = true;
      try {
        pd = dnnl::convolution_forward::primitive_desc(desc(dnnl::algorithm::convolution_winograd),
                                                       attr_with(po), cpu_engine());
        wino = skip_known_bad(pd) && winograd_pays(c, pd.weights_desc().get_size());
      } catch (const dnnl::error&) {
        wino = false;  // not offered for this shape or ISA: direct
      }
      winograd_ += wino;
      if (!wino)
        pd =
            TB_DNNL(dnnl::convolution_forward::primitive_desc(desc(), attr_with(po), cpu_engine()));
    } else {
      // The destination layout first (no residual), then the residual read in that layout.
      pd = TB_DNNL(dnnl::convolution_forward::primitive_desc(desc(), attr_with(), cpu_engine()));
      dnnl::memory::desc res_md;
      if (n.problem.post.residual) {
        const int rb = image(n.in[n.problem.post.bias ? 3 : 2], c.n, c.k, c.oh(), c.ow());
        res = as_layout(rb, pd.dst_desc());
        res_md = pd.dst_desc();
      }
      pd = TB_DNNL(dnnl::convolution_forward::primitive_desc(
          desc(), attr_with(post_ops(n, res >= 0 ? &res_md : nullptr)), cpu_engine()));
    }
    if (!skip_known_bad(pd)) throw Failure("onednn conv: only implementations known to be wrong");
    std::vector<std::pair<int, int>> args;
    args.emplace_back(DNNL_ARG_SRC, as_layout(src, pd.src_desc()));
    args.emplace_back(DNNL_ARG_WEIGHTS, constant_buf(n.in[1], w_user, pd.weights_desc()));
    if (n.problem.post.bias)
      args.emplace_back(DNNL_ARG_BIAS, constant_buf(n.in[2], bias_md, bias_md));
    if (res >= 0)
      args.emplace_back(
          DNNL_ARG_ATTR_MULTIPLE_POST_OP(n.problem.post.act != Activation::none ? 1 : 0) |
              DNNL_ARG_SRC_1,
          res);
    const int dst = add_buf(pd.dst_desc(), Buf::arena);
    args.emplace_back(DNNL_ARG_DST, dst);
    add_step(pd, std::move(args));
    set_output(n, dst, {c.n, c.k, c.oh(), c.ow()});
    return true;
  }

  // Whether an f32 convolution is tried as Winograd (oneDNN's F(2x2,3x3) or F(4x4,3x3); direct
  // where it is not offered): 3x3, stride 1, no dilation or groups, no residual (2.6's Winograd
  // takes eltwise post-ops only). TB_ONEDNN_WINOGRAD=off never, on wherever the shape allows;
  // auto tries it and keeps it where winograd_pays.
  bool winograd_fits(const DeviceGraph::Node& n, const ConvDesc& c) const {
    if (winograd_mode_ == "off" || n.problem.dtype != DType::f32 || n.problem.post.residual)
      return false;
    return c.r == 3 && c.s == 3 && c.stride == 1 && c.dilation == 1 && c.groups == 1;
  }
  // Whether the Winograd kernel oneDNN offered beats the direct one (auto): F(2x2,3x3), whose
  // transformed weights are 16/9 of the plain ones, always; F(4x4,3x3), whose weights are 4x,
  // from 28x28 output positions over the batch, where the image amortises them. Measured on the
  // 2-core AVX-512 machine, 2 threads, bias + ReLU, weights cold (as in a graph): F(2x2,3x3)
  // 1.6-2.0x at 512 channels 7x7 and 1.4-1.5x at 256 14x14 (batch 1), 1.2x at 512 7x7 (batch
  // 2), 1.9x at 64 56x56 and 128 28x28 (batch 1); F(4x4,3x3) 1.6-1.8x at 256 14x14 (batch 4
  // and 8), 0.7-0.85x at 512 7x7 (batch 4), 0.94-1.06x at 256 14x14 (batch 2). ResNet-50 b1
  // f32, 8 alternating runs against the 28x28 rule alone: 0.89x (each pair 0.76-0.96x).
  bool winograd_pays(const ConvDesc& c, std::size_t wino_weight_bytes) const {
    if (winograd_mode_ == "on") return true;
    const auto plain = static_cast<std::size_t>(c.k * c.c * c.r * c.s) * sizeof(float);
    return wino_weight_bytes <= 2 * plain || c.n * c.oh() * c.ow() >= 28 * 28;
  }

  bool pool(const DeviceGraph::Node& n, const PoolDesc& d) {
    if (const_of_.count(n.in[0])) return false;
    const int src = image(n.in[0], d.n, d.c, d.h, d.w);
    const auto& smd = buf_[static_cast<std::size_t>(src)].md;
    const auto dst_any = TB_DNNL(
        dnnl::memory::desc({d.n, d.c, d.oh(), d.ow()}, dnnl::memory::data_type::f32, tag::any));
    const auto pd = TB_DNNL(dnnl::pooling_forward::primitive_desc(pool_desc(d, smd, dst_any),
                                                                  attr_with(), cpu_engine()));
    const int dst = add_buf(pd.dst_desc(), Buf::arena);
    add_step(pd, {{DNNL_ARG_SRC, as_layout(src, pd.src_desc())}, {DNNL_ARG_DST, dst}});
    set_output(n, dst, {d.n, d.c, d.oh(), d.ow()});
    return true;
  }

  bool binary(const DeviceGraph::Node& n, const BinaryDesc& d) {
    const int a = n.in[0], b = n.in[1];
    if (const_of_.count(a) || const_of_.count(b)) return false;
    const auto& ia = val_img_[static_cast<std::size_t>(a)];
    const auto& ib = val_img_[static_cast<std::size_t>(b)];
    const dims img = !ia.empty() ? ia : ib;
    int ba, bb;
    dnnl::memory::desc md;
    if (!img.empty()) {  // images: both in the layout of the one produced as an image
      ba = image(a, img[0], img[1], img[2], img[3]);
      md = buf_[static_cast<std::size_t>(ba)].md;
      bb = as_layout(image(b, img[0], img[1], img[2], img[3]), md);
    } else {
      md = plain_md({d.n}, DType::f32);
      ba = view(ensure_plain(a), md), bb = view(ensure_plain(b), md);
    }
    dnnl::post_ops po;
    append_activation(po, n.act_after);
    post_ops_ += po.len();
    const auto alg =
        d.kind == BinaryKind::add ? dnnl::algorithm::binary_add : dnnl::algorithm::binary_mul;
    const auto desc = TB_DNNL(dnnl::binary::desc(alg, md, md, md));
    const auto pd = TB_DNNL(dnnl::binary::primitive_desc(desc, attr_with(po), cpu_engine()));
    const int dst = add_buf(pd.dst_desc(), Buf::arena);
    add_step(pd, {{DNNL_ARG_SRC_0, ba}, {DNNL_ARG_SRC_1, bb}, {DNNL_ARG_DST, dst}});
    set_output(n, dst, img);
    return true;
  }

  // gemm with weights (B) a constant: oneDNN's matmul with B packed in its layout of choice.
  bool matmul(const DeviceGraph::Node& n, const GemmDesc& g) {
    if (g.batch != 1 || g.trans_a || const_of_.count(n.in[0]) || !const_of_.count(n.in[1]))
      return false;
    const DType t = n.problem.dtype;  // f32, or bf16 from an f32 value (in_cast)
    const auto wdt = to_dnnl(t);
    const auto a_md = plain_md({g.m, g.k}, t);
    // bf16: the f32 value rounded by a reorder into a bf16 copy.
    const int a = as_layout(view(ensure_plain(n.in[0]), plain_md({g.m, g.k}, DType::f32)), a_md);
    const auto b_user = g.trans_b ? TB_DNNL(dnnl::memory::desc({g.k, g.n}, wdt, dims{1, g.k}))
                                  : plain_md({g.k, g.n}, t);
    const auto b_any = TB_DNNL(dnnl::memory::desc({g.k, g.n}, wdt, tag::any));
    const auto c_md = plain_md({g.m, g.n}, DType::f32);
    const auto bias_md =
        n.problem.post.bias ? plain_md({1, g.n}, DType::f32) : dnnl::memory::desc();
    const dnnl::memory::desc res_md = c_md;
    const auto desc = TB_DNNL(dnnl::matmul::desc(a_md, b_any, bias_md, c_md));
    const auto pd = TB_DNNL(dnnl::matmul::primitive_desc(
        desc, attr_with(post_ops(n, n.problem.post.residual ? &res_md : nullptr)), cpu_engine()));
    const int av = a;
    std::vector<std::pair<int, int>> args = {
        {DNNL_ARG_SRC, av}, {DNNL_ARG_WEIGHTS, constant_buf(n.in[1], b_user, pd.weights_desc())}};
    if (n.problem.post.bias)
      args.emplace_back(DNNL_ARG_BIAS, constant_buf(n.in[2], bias_md, bias_md));
    if (n.problem.post.residual) {
      const int rv = view(ensure_plain(n.in[n.problem.post.bias ? 3 : 2]), res_md);
      args.emplace_back(
          DNNL_ARG_ATTR_MULTIPLE_POST_OP(n.problem.post.act != Activation::none ? 1 : 0) |
              DNNL_ARG_SRC_1,
          rv);
    }
    const int dst = add_buf(c_md, Buf::arena);
    args.emplace_back(DNNL_ARG_DST, dst);
    add_step(pd, std::move(args));
    set_output(n, dst, {});
    return true;
  }

  // Any other node: the backend's PreparedKernel over the plain form of its operands.
  void kernel_node(const DeviceGraph::Node& n) {
    KernelNode k;
    k.name = n.name, k.problem = n.problem, k.act_after = n.act_after, k.in_quant = n.in_quant;
    k.in_cast = n.in_cast;
    for (const auto& s : n.problem.inputs()) k.slots.emplace_back(s.dtype, s.shape);
    for (const auto& s : n.problem.outputs()) k.outs.emplace_back(s.dtype, s.shape);
    Step st;
    st.kernel = static_cast<int>(kernels_.size());
    st.threads = threads_;
    st.node = cur_node_;
    for (std::size_t i = 0; i < n.in.size(); ++i) {
      const auto c = const_of_.find(n.in[i]);
      k.in_const.push_back(c == const_of_.end() ? -1 : c->second);
      const int b = c == const_of_.end() ? ensure_plain(n.in[i]) : -1;
      k.in_buf.push_back(b);
      if (b >= 0) touch(b);
    }
    if (n.problem.as<KvWriteDesc>() && n.in.size() == 2 && n.out == n.in[1]) {
      k.out_buf = val_buf_[static_cast<std::size_t>(n.out)];  // the state, written in place
      kernels_.push_back(std::move(k));
      steps_.push_back(std::move(st));
      return;
    }
    const int out = add_buf(plain_of(n.out), Buf::kernel_out, st.kernel);
    touch(out);
    val_buf_[static_cast<std::size_t>(n.out)] = out;
    kernels_.push_back(std::move(k));
    steps_.push_back(std::move(st));
  }

  // Runs a kernel node. Its inputs are read where the graph holds them (bound: no copy) unless
  // they are converted first (u8 quantisation, bf16 rounding: into the slot, which is bound) or
  // the kernel refuses (copied into the slot and uploaded); its output is written in place.
  Result<void> run_kernel(KernelNode& k) {
    static const void* const kRefused = reinterpret_cast<const void*>(std::intptr_t{-1});
    k.bound.resize(k.slots.size(), nullptr);
    for (std::size_t i = 0; i < k.slots.size(); ++i) {
      if (k.in_buf[i] < 0) continue;
      void* src = mems_[static_cast<std::size_t>(k.in_buf[i])].get_data_handle();
      void* read = src;
      if (i == 0 && k.in_quant.on) {
        quantize_u8(static_cast<const float*>(src), k.slots[0].numel(), k.in_quant,
                    k.slots[0].data<std::uint8_t>());
        read = k.slots[0].raw();
      } else if (i == 0 && k.in_cast) {
        round_bf16(static_cast<const float*>(src), k.slots[0].numel(),
                   k.slots[0].data<std::uint16_t>());
        read = k.slots[0].raw();
      }
      if (k.bound[i] == read) continue;
      if (k.bound[i] != kRefused && k.kernel->bind(i, read, k.slots[i].bytes(), false)) {
        k.bound[i] = read;
        continue;
      }
      k.bound[i] = kRefused;
      if (read == src) std::memcpy(k.slots[i].raw(), src, k.slots[i].bytes());
      if (auto r = k.kernel->upload_input(i, k.slots[i]); !r)
        if (auto r2 = k.kernel->upload(k.slots); !r2)
          return make_error(k.name + ": upload: " + r2.error().message);
    }
    if (!k.out_bound && k.out_buf >= 0) {
      k.out_bound = k.kernel->bind(0, mems_[static_cast<std::size_t>(k.out_buf)].get_data_handle(),
                                   k.outs[0].bytes(), true);
      if (!k.out_bound) return make_error(k.name + ": the kernel cannot write its state in place");
    }
    if (!k.out_bound)
      k.out_bound =
          k.outs.size() == 1 && k.kernel->bind(0, k.outs[0].raw(), k.outs[0].bytes(), true);
    if (auto e = k.kernel->execute(); !e)
      return make_error(k.name + ": execute: " + e.error().message);
    if (!k.out_bound)
      if (auto r = k.kernel->download(k.outs); !r)
        return make_error(k.name + ": download: " + r.error().message);
    if (k.act_after != Activation::none) {
      Tensor& o = k.outs[0];
      for (std::int64_t i = 0; i < o.numel(); ++i)
        o.set(i, apply_activation(k.act_after, static_cast<float>(o.at(i))));
    }
    return {};
  }

  // Offsets in the arena: intervals of steps; largest first, first fit among overlapping ones.
  // A view (alias_) shares its target's bytes and extends its lifetime.
  void plan_arena() {
    for (const auto& [view, target] : alias_) {
      Buf& v = buf_[static_cast<std::size_t>(view)];
      Buf& t = buf_[static_cast<std::size_t>(target)];
      t.first = std::min(t.first, v.first), t.last = std::max(t.last, v.last);
    }
    std::vector<int> order;
    for (std::size_t b = 0; b < buf_.size(); ++b)
      if (buf_[b].kind == Buf::arena && !alias_.count(static_cast<int>(b)))
        order.push_back(static_cast<int>(b));
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      return buf_[static_cast<std::size_t>(a)].md.get_size() >
             buf_[static_cast<std::size_t>(b)].md.get_size();
    });
    std::vector<int> placed;
    for (int b : order) {
      Buf& x = buf_[static_cast<std::size_t>(b)];
      const std::size_t size = (x.md.get_size() + 63) / 64 * 64;
      std::vector<std::pair<std::size_t, std::size_t>> busy;
      for (int p : placed) {
        const Buf& y = buf_[static_cast<std::size_t>(p)];
        if (y.first <= x.last && x.first <= y.last)
          busy.emplace_back(y.offset, y.offset + (y.md.get_size() + 63) / 64 * 64);
      }
      std::sort(busy.begin(), busy.end());
      std::size_t off = 0;
      for (const auto& [lo, hi] : busy) {
        if (off + size <= lo) break;
        off = std::max(off, hi);
      }
      x.offset = off;
      arena_bytes_ = std::max(arena_bytes_, off + size);
      placed.push_back(b);
    }
    // Views take their target's place: an arena offset, or the target's own kind.
    for (const auto& [view, target] : alias_) {
      Buf& v = buf_[static_cast<std::size_t>(view)];
      const Buf& t = buf_[static_cast<std::size_t>(target)];
      v.kind = t.kind, v.offset = t.offset, v.io = t.io;
    }
  }

  tb::Backend& backend_;
  DeviceGraph g_;
  int threads_;
  int cur_threads_ = 1;  // while building: the threads of the node being built
  int cur_node_ = -1;    // while building: the node being built
  bool timing_ = false;
  std::vector<double> node_s_;  // per node, the last run's (time_nodes)
  // Steps below this work run on one thread (use_threads). 1 MFLOP, about 10 us of one core's
  // work: on the 2-core machine, person-detect int8 at --threads 2 went from 0.39 to 0.17 ms and
  // MobileNetV2 f32 from 3.26 to 2.78 ms (TB_ONEDNN_SERIAL_MFLOP 0 against 1, one run each).
  double serial_flops_ = 1e6;
  std::vector<Buf> buf_;
  std::map<int, int> alias_;     // view buffer -> buffer whose bytes it reads
  std::map<int, int> const_of_;  // value -> constant index
  std::vector<int> val_buf_, plain_buf_;
  std::vector<int> state_bufs_;  // DeviceGraph::states order
  std::size_t state_bytes_ = 0;
  bool states_set_ = false;
  std::vector<dims> val_img_;
  std::vector<Step> steps_;
  std::vector<Upload> uploads_;
  std::vector<KernelNode> kernels_;
  std::vector<Folded> folded_;
  std::vector<dnnl::memory> mems_;
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> arena_, scratch_mem_;
  dnnl::memory scratch_;
  dnnl::stream stream_;
  std::size_t arena_bytes_ = 0, scratch_bytes_ = 0, weight_bytes_ = 0;
  int prims_ = 0, reorders_ = 0, post_ops_ = 0, blocked_ = 0, int8_convs_ = 0, quantize_steps_ = 0,
      conv_quantize_steps_ = 0, requantised_ = 0;
  std::vector<DeviceGraph::Node::Quant> requant_;  // per value: write it as this u8
  std::vector<bool> prequant_;                     // per value: its buffer holds that u8
  std::string layout_ = "blocked";
  std::string winograd_mode_ = "auto";
  int winograd_ = 0;  // convolutions created as Winograd
  int block_ = 16;
  double create_s_ = 0, upload_s_ = 0;
};

}  // namespace

Result<std::unique_ptr<PreparedGraph>> prepare_graph(tb::Backend& self, const DeviceGraph& g,
                                                     const PrepareOptions& o, int threads) {
  if (auto v = g.verify(); !v) return v.error();
  return guard([&]() -> Result<std::unique_ptr<PreparedGraph>> {
    auto graph = std::make_unique<Graph>(self, g, threads);
    graph->build();
    graph->realise();
    if (auto r = graph->prepare_kernels(o); !r) return r.error();
    return std::unique_ptr<PreparedGraph>(std::move(graph));
  });
}

}  // namespace tb::onednn

// GEMM on OpenCL: batch, trans_a, trans_b, +scales, bias, activation and residual epilogues, any
// shape, on every device: f32; f16 and bf16 as storage (loads widen to f32, arithmetic f32, no
// cl_khr_fp16 needed); u8 x s8 -> s32 (f32 with +scales), exact. Kernels, chosen by device type
// (or by the tuner):
//   packed (cl/gemm_packed.cl): CPU devices, every type. upload() packs A and B into zero-padded
//     f32 panels (a one-off load cost, reported as pack_s); execute() runs register-blocked
//     float16 FMAs, K in blocks of kc per launch so the panels stay in cache. u8 x s8: blocks of
//     at most 512 products, exact in f32, summed in s32 (INT_ACC, cl/gemm_common.cl).
//   tiled (cl/gemm_tiled.cl): GPUs, float types. 64 x 64 local-memory tiles from row-major inputs.
//   gemm_s8 (cl/gemm_int8.cl): u8 x s8 on GPUs, through cl_khr_integer_dot_product where the
//     device has it (4x8-bit inputs, OpenCL C 3.0), emulated in integer arithmetic elsewhere.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "opencl_internal.h"
#include "opencl_op.h"
#include "program_cache.h"

namespace tb::ocl {

std::string GemmConfig::str() const {
  if (!packed) {
    if (wpt == 4 && tk == 16) return "tiled";
    return "tiled:w" + std::to_string(wpt) + "k" + std::to_string(tk);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "packed:mr%dnv%dkc%drb%do%d", mr, nv, kc, rb, order);
  return buf;
}

std::optional<GemmConfig> GemmConfig::parse(const std::string& s) {
  GemmConfig c;
  if (s == "tiled") {
    c.packed = false;
    return c;
  }
  int n = 0;
  if (s.rfind("tiled:", 0) == 0) {
    c.packed = false;
    if (std::sscanf(s.c_str(), "tiled:w%dk%d%n", &c.wpt, &c.tk, &n) != 2 ||
        static_cast<std::size_t>(n) != s.size())
      return std::nullopt;
    // Powers of two; every work-item loads whole elements (TS * TK % 256); local memory 32 KiB.
    const auto pow2 = [](int x) { return x > 0 && (x & (x - 1)) == 0; };
    if (!pow2(c.wpt) || !pow2(c.tk) || c.wpt > 8 || c.tk > 64 || (16 * c.wpt * c.tk) % 256 != 0 ||
        2 * c.tk * 16 * c.wpt * 4 > 32768)
      return std::nullopt;
    return c;
  }
  if (std::sscanf(s.c_str(), "packed:mr%dnv%dkc%drb%do%d%n", &c.mr, &c.nv, &c.kc, &c.rb, &c.order,
                  &n) != 5 ||
      static_cast<std::size_t>(n) != s.size())
    return std::nullopt;
  if (c.mr < 1 || c.mr > 16 || c.nv < 1 || c.nv > 4 || c.kc < 0 || c.rb < 1 || c.order < 0 ||
      c.order > 1)
    return std::nullopt;
  return c;
}

GemmConfig default_gemm_config(const DeviceCtx& d) {
  GemmConfig c;
  c.packed = d.is_cpu;
  c.source = "default";
  return c;
}

std::vector<GemmConfig> tiled_configs() {
  std::vector<GemmConfig> v;
  for (const char* s : {"tiled", "tiled:w2k8", "tiled:w2k16", "tiled:w2k32", "tiled:w4k8",
                        "tiled:w4k32", "tiled:w8k8", "tiled:w8k16", "tiled:w8k32"})
    if (auto c = GemmConfig::parse(s)) v.push_back(*c);
  return v;
}

namespace {
std::string packed_source() {
  return cl_source("gemm_common") + cl_source("gemm_packed") + cl_source("gemm_pack");
}
std::string tiled_source() {
  return cl_source("gemm_common") + cl_source("gemm_tiled");
}
std::string int8_source() {
  return cl_source("gemm_common") + cl_source("gemm_int8");
}
bool is_int8(DType t) {
  return t == DType::u8 || t == DType::s8;
}
// K block of the packed kernel for u8 x s8: sums of this many products are exact in f32.
constexpr int kIntBlock = 512;
}  // namespace

TuneKey gemm_tune_key(const DeviceCtx& d) {
  // The kernel a device's GEMMs run by default: packed on CPU devices, tiled elsewhere.
  const std::string kernel = d.is_cpu ? "gemm-packed@" + hex64(fnv1a(packed_source()))
                                      : "gemm-tiled@" + hex64(fnv1a(tiled_source()));
  return {"opencl", d.info.name, device_string(d.device, CL_DRIVER_VERSION), kernel, "*"};
}

GemmConfig select_gemm_config(const DeviceCtx& d) {
  std::optional<GemmConfig> c;
  if (const char* e = std::getenv("TB_OPENCL_GEMM"); e && *e) {
    const std::string s = e;
    c = s == "packed" ? GemmConfig{} : GemmConfig::parse(s);
    if (c) return c->source = "forced", *c;
  }
  if (auto w = tune_store()->get(gemm_tune_key(d)); w && (c = GemmConfig::parse(w->config)))
    return c->source = "tuned", *c;
  return default_gemm_config(d);
}

namespace {

class GemmKernel final : public DeviceKernel {
 public:
  GemmKernel(std::shared_ptr<DeviceCtx> d, Problem p, GemmConfig cfg, std::vector<TensorSpec> io,
             Buffers buffers)
      : DeviceKernel(std::move(d), buffers),
        p_(std::move(p)),
        g_(*p_.as<GemmDesc>()),
        cfg_(cfg),
        io_(std::move(io)),
        types_(gemm_types(p_.dtype, p_.post)),
        int8_(is_int8(p_.dtype)) {
    if (int8_ && !d_->is_cpu) cfg_.packed = false;  // gemm_s8
    if (int8_ && cfg_.packed && (cfg_.kc <= 0 || cfg_.kc > kIntBlock)) cfg_.kc = kIntBlock;
    // In a graph, the packed kernel reads a row-major A in place: A is an activation there, and
    // packing it would be one more pass per inference. TB_OPENCL_GRAPH_PACK_A=1 packs it as the
    // PreparedKernel path does (A/B comparisons).
    const char* e = std::getenv("TB_OPENCL_GRAPH_PACK_A");
    a_direct_ = graph_mode() && cfg_.packed && !g_.trans_a && !(e && std::string(e) == "1");
  }

  Result<void> init() {
    // Only the configuration and the storage type go into the build options: epilogue and
    // transposes are kernel arguments, so one cached binary serves them all.
    std::string opts = "-cl-std=CL1.2";
    const bool s8_kernel = int8_ && !cfg_.packed;
    // The integer dot products are OpenCL C 3.0 feature functions; emulated where the device
    // lacks them (or TB_OPENCL_INT8_EMULATE=1, to compare).
    if (s8_kernel) {
      const char* e = std::getenv("TB_OPENCL_INT8_EMULATE");
      dot_ = int8_dot_support(d_->device).supported && !(e && std::string(e) == "1");
      opts = dot_ ? "-cl-std=CL3.0" : "-cl-std=CL1.2 -DTB_EMULATE_DOT";
    }
    opts += type_options(types_.a, types_.b, types_.c);
    if (!cfg_.packed && !s8_kernel)
      opts += " -DWPT=" + std::to_string(cfg_.wpt) + " -DTK=" + std::to_string(cfg_.tk);
    if (cfg_.packed) {
      opts += " -DMR=" + std::to_string(cfg_.mr) + " -DNV=" + std::to_string(cfg_.nv);
      if (a_direct_) opts += " -DA_DIRECT";
      if (int8_) opts += " -DINT_ACC";
    }
    const std::string src = s8_kernel     ? int8_source()
                            : cfg_.packed ? packed_source()
                                          : tiled_source();
    if (src.empty()) return make_error("opencl: kernel source not found");
    auto built = build_program(d_->context.get(), d_->device, src, opts);
    if (!built) return built.error();
    program_ = std::move(built->program);
    build_s_ = built->build_s;
    cache_hit_ = built->cache_hit;

    cl_int err = CL_SUCCESS;
    gemm_ = Kernel(clCreateKernel(program_.get(),
                                  s8_kernel     ? "gemm_s8"
                                  : cfg_.packed ? "gemm_packed"
                                                : "gemm_tiled",
                                  &err));
    TB_CL_CHECK_ERR(err, "clCreateKernel(gemm)");
    if (cfg_.packed) {
      pack_a_ = Kernel(clCreateKernel(program_.get(), "pack_a", &err));
      TB_CL_CHECK_ERR(err, "clCreateKernel(pack_a)");
      pack_b_ = Kernel(clCreateKernel(program_.get(), "pack_b", &err));
      TB_CL_CHECK_ERR(err, "clCreateKernel(pack_b)");
    }

    const std::size_t f = sizeof(float), bt = static_cast<std::size_t>(g_.batch);
    const std::size_t M = static_cast<std::size_t>(g_.m), N = static_cast<std::size_t>(g_.n),
                      K = static_cast<std::size_t>(g_.k);
    const std::size_t fc = dtype_size(types_.c);
    if (!graph_mode()) {  // a graph binds its own
      own_.resize(io_.size());
      for (std::size_t i = 0; i < io_.size(); ++i)
        if (auto r = alloc(own_[i], spec_bytes(io_[i])); !r) return r;
      if (auto r = alloc(c_, bt * M * N * fc); !r) return r;
      std::vector<cl_mem> ins;
      for (const Mem& m : own_) ins.push_back(m.get());
      bound_ = bind_operands(ins, c_.get());
    }
    // Partial sums between K blocks: f32 (s32 for u8 x s8) in C itself when C has that type,
    // else in a workspace.
    const DType partial = int8_ ? DType::s32 : DType::f32;
    if (cfg_.packed && types_.c != partial && cfg_.kc > 0 && cfg_.kc < g_.k)
      if (auto r = alloc(w_, bt * M * N * f); !r) return r;
    if (cfg_.packed) {
      mb_ = (M + static_cast<std::size_t>(cfg_.mr) - 1) / static_cast<std::size_t>(cfg_.mr);
      const std::size_t nr = 16 * static_cast<std::size_t>(cfg_.nv);
      nb_ = (N + nr - 1) / nr;
      if (!a_direct_)
        if (auto r = alloc(ap_, bt * mb_ * static_cast<std::size_t>(cfg_.mr) * K * f); !r) return r;
      if (auto r = alloc(bp_, bt * nb_ * nr * K * f); !r) return r;
    }
    return {};
  }

  Result<void> upload(std::span<const Tensor> inputs) override {
    if (graph_mode()) return make_error("opencl gemm: a graph kernel has no upload");
    if (inputs.size() != io_.size()) return make_error("opencl gemm: wrong input count");
    mem_.uploaded_bytes = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (auto r = write_input(i, inputs[i]); !r) return r;
    if (cfg_.packed) return pack(true, true);
    return {};
  }

  // A layer's activation (A) or weights (B) alone; with the packed kernel only that panel is
  // repacked.
  Result<void> upload_input(std::size_t index, const Tensor& t) override {
    if (graph_mode()) return make_error("opencl gemm: a graph kernel has no upload");
    if (auto r = write_input(index, t); !r) return r;
    if (cfg_.packed && index < 2) return pack(index == 0, index == 1);
    return {};
  }

  Result<Timing> execute() override {
    if (graph_mode()) return make_error("opencl gemm: a graph kernel has no execute");
    const auto t0 = std::chrono::steady_clock::now();
    begin_timed();
    if (auto r = enqueue(); !r) return r.error();
    auto s = end_timed();
    if (!s) return s.error();
    // The first run's wall time includes what drivers compile lazily at the first enqueue
    // (PoCL builds its work-group function then): part of the load cost, reported apart.
    if (first_execute_s_ < 0)
      first_execute_s_ =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return Timing{s.value(), TimingSource::profiling_events};
  }

  Result<void> download(std::span<Tensor> outputs) override {
    if (graph_mode()) return make_error("opencl gemm: a graph kernel has no download");
    if (outputs.size() != 1) return make_error("opencl gemm: expected one output");
    const std::size_t bytes =
        static_cast<std::size_t>(g_.batch * g_.m * g_.n) * dtype_size(types_.c);
    if (outputs[0].dtype() != types_.c || outputs[0].bytes() != bytes)
      return make_error("opencl gemm: output has the wrong type or size");
    TB_CL_CHECK(clEnqueueReadBuffer(d_->queue.get(), c_.get(), CL_TRUE, 0, bytes, outputs[0].raw(),
                                    0, nullptr, nullptr));
    return {};
  }

  // Operands in io_ order: A, B, then scales, bias and residual as the epilogue has them.
  Result<void> bind(std::span<const cl_mem> ins, cl_mem out) override {
    if (!graph_mode()) return make_error("opencl gemm: bind() needs a graph kernel");
    if (ins.size() != io_.size()) return make_error("opencl gemm: wrong operand count to bind");
    bound_ = bind_operands(ins, out);
    return {};
  }

  // The packed kernel reads B (and A unless a_direct_) as panels, packed whenever they change.
  bool repacks_operand(std::size_t index) const override {
    return cfg_.packed && (index == 1 || (index == 0 && !a_direct_));
  }
  bool reads_operand(std::size_t index) const override { return !repacks_operand(index); }

  MemoryStats memory() const override { return mem_; }

  std::vector<std::pair<std::string, double>> details() const override {
    std::vector<std::pair<std::string, double>> v = {{"program_build_s", build_s_},
                                                     {"program_cache_hit", cache_hit_ ? 1.0 : 0.0}};
    if (cfg_.packed) {
      v.emplace_back("pack_s", pack_s_);
      v.emplace_back("mr", cfg_.mr);
      v.emplace_back("nr", 16 * cfg_.nv);
      v.emplace_back("kc", cfg_.kc);
      v.emplace_back("rb", cfg_.rb);
    }
    if (int8_ && !cfg_.packed) v.emplace_back("int8_dot", dot_ ? 1.0 : 0.0);
    return v;
  }

  const GemmConfig& config() const { return cfg_; }
  std::optional<KernelConfig> kernel_config() const override {
    return KernelConfig{cfg_.str(), cfg_.source.empty() ? "given" : cfg_.source};
  }

 protected:
  Result<void> enqueue() override {
    const cl_int M = static_cast<cl_int>(g_.m), N = static_cast<cl_int>(g_.n),
                 K = static_cast<cl_int>(g_.k);
    const cl_mem A = cfg_.packed && !a_direct_ ? ap_.get() : bound_.a,
                 B = cfg_.packed ? bp_.get() : bound_.b;
    const cl_mem C = bound_.c, W = w_ ? w_.get() : bound_.c;
    cl_kernel k = gemm_.get();
    const cl_int epi = epilogue_code(p_.post);
    if (!cfg_.packed) {  // gemm_s8 or gemm_tiled: same arguments
      const cl_int trans = (g_.trans_a ? 1 : 0) | (g_.trans_b ? 2 : 0);
      TB_CL_CHECK(set_args(k, bound_.a, bound_.b, C, bound_.as, bound_.bs, bound_.bias, bound_.res,
                           M, N, K, trans, epi));
      if (int8_) {
        const std::size_t gws[3] = {static_cast<std::size_t>(N), static_cast<std::size_t>(M),
                                    static_cast<std::size_t>(g_.batch)};
        return launch(k, 3, gws);
      }
      const std::size_t ts = 16 * static_cast<std::size_t>(cfg_.wpt);
      const std::size_t gws[3] = {(static_cast<std::size_t>(N) + ts - 1) / ts * 16,
                                  (static_cast<std::size_t>(M) + ts - 1) / ts * 16,
                                  static_cast<std::size_t>(g_.batch)};
      const std::size_t lws[3] = {16, 16, 1};
      return launch(k, 3, gws, lws);
    }
    TB_CL_CHECK(set_args(k, A, B, C, W, bound_.as, bound_.bs, bound_.bias, bound_.res, M, N, K));
    const std::size_t rb = static_cast<std::size_t>(cfg_.rb), mg = (mb_ + rb - 1) / rb;
    const std::size_t gws[3] = {cfg_.order ? nb_ : mg, cfg_.order ? mg : nb_,
                                static_cast<std::size_t>(g_.batch)};
    const std::size_t lws[3] = {1, 1, 1};
    const cl_int kc = cfg_.kc > 0 ? std::min<cl_int>(cfg_.kc, K) : K;
    for (cl_int k0 = 0; k0 < K; k0 += kc) {
      const cl_int len = std::min(kc, K - k0);
      const cl_int flags = (k0 > 0 ? 1 : 0) | (k0 + len >= K ? 2 : 0) | (cfg_.order ? 4 : 0);
      TB_CL_CHECK(set_arg(k, 11, k0));
      TB_CL_CHECK(set_arg(k, 12, len));
      TB_CL_CHECK(set_arg(k, 13, flags));
      TB_CL_CHECK(set_arg(k, 14, epi));
      TB_CL_CHECK(set_arg(k, 15, static_cast<cl_int>(cfg_.rb)));
      if (auto r = launch(k, 3, gws, lws); !r) return r;
    }
    return {};
  }

  // Packs operand 0 (A) or 1 (B) into its panel (packed kernel only).
  Result<void> refresh(std::size_t index) override {
    if (!repacks_operand(index)) return {};
    const cl_int N = static_cast<cl_int>(g_.n), K = static_cast<cl_int>(g_.k);
    const std::size_t lws[3] = {16, 1, 1};  // one work-group shape for every problem
    if (index == 0) {
      const cl_int M = static_cast<cl_int>(g_.m);
      TB_CL_CHECK(set_args(pack_a_.get(), bound_.a, ap_.get(), M, K,
                           static_cast<cl_int>(g_.trans_a ? 1 : 0)));
      const std::size_t ga[3] = {(static_cast<std::size_t>(K) + 15) / 16 * 16,
                                 mb_ * static_cast<std::size_t>(cfg_.mr),
                                 static_cast<std::size_t>(g_.batch)};
      return launch(pack_a_.get(), 3, ga, lws);
    }
    TB_CL_CHECK(set_args(pack_b_.get(), bound_.b, bp_.get(), N, K,
                         static_cast<cl_int>(g_.trans_b ? 1 : 0)));
    const std::size_t gb[3] = {nb_ * 16 * static_cast<std::size_t>(cfg_.nv),
                               static_cast<std::size_t>(K), static_cast<std::size_t>(g_.batch)};
    return launch(pack_b_.get(), 3, gb, lws);
  }

 private:
  Result<void> write_input(std::size_t i, const Tensor& t) {
    if (i >= io_.size()) return make_error("opencl gemm: no input " + std::to_string(i));
    // Shapes are checked against io_: a conv run as a GEMM keeps its own (NHWC) shapes.
    if (t.dtype() != io_[i].dtype || t.shape() != io_[i].shape)
      return make_error("opencl gemm: input " + io_[i].name + " has the wrong type or shape");
    TB_CL_CHECK(clEnqueueWriteBuffer(d_->queue.get(), own_[i].get(), CL_TRUE, 0, t.bytes(), t.raw(),
                                     0, nullptr, nullptr));
    mem_.uploaded_bytes += t.bytes();
    return {};
  }

  Result<void> alloc(Mem& m, std::size_t bytes) {
    cl_int err = CL_SUCCESS;
    m = Mem(clCreateBuffer(d_->context.get(), CL_MEM_READ_WRITE, bytes, nullptr, &err));
    TB_CL_CHECK_ERR(err, "clCreateBuffer");
    mem_.device_bytes += bytes;
    return {};
  }

  // Own buffers: packs A and / or B and waits; pack_s is the packing's device time.
  Result<void> pack(bool a, bool b) {
    begin_timed();
    if (a)
      if (auto r = refresh(0); !r) return r;
    if (b)
      if (auto r = refresh(1); !r) return r;
    auto s = end_timed();
    if (!s) return s.error();
    pack_s_ = s.value();
    return {};
  }

  // The buffers the launches read and write: own, or the graph's.
  struct Bound {
    cl_mem a = nullptr, b = nullptr, c = nullptr, as = nullptr, bs = nullptr, bias = nullptr,
           res = nullptr;
  };
  // Operands in io_ order: A, B, then scales, bias and residual as the epilogue has them.
  Bound bind_operands(std::span<const cl_mem> ins, cl_mem out) const {
    Bound b;
    std::size_t next = 2;
    b.a = ins[0], b.b = ins[1], b.c = out;
    if (p_.post.scales) b.as = ins[next++], b.bs = ins[next++];
    if (p_.post.bias) b.bias = ins[next++];
    if (p_.post.residual) b.res = ins[next++];
    return b;
  }

  Problem p_;
  GemmDesc g_;
  GemmConfig cfg_;
  std::vector<TensorSpec> io_;
  GemmTypes types_;
  bool int8_ = false, a_direct_ = false, dot_ = false;
  Program program_;
  Kernel gemm_, pack_a_, pack_b_;
  std::vector<Mem> own_;  // own input buffers, in io_ order
  Mem c_, w_, ap_, bp_;
  Bound bound_;
  std::size_t mb_ = 0, nb_ = 0;
  double build_s_ = 0, pack_s_ = 0, first_execute_s_ = -1;
  bool cache_hit_ = false;
  MemoryStats mem_;
};

}  // namespace

Result<std::unique_ptr<PreparedKernel>> prepare_gemm(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                     const GemmConfig& cfg,
                                                     std::vector<TensorSpec> io) {
  auto k = make_gemm(std::move(d), p, cfg, std::move(io), Buffers::own);
  if (!k) return k.error();
  return std::unique_ptr<PreparedKernel>(std::move(k.value()));
}

Result<std::unique_ptr<DeviceKernel>> make_gemm(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                const GemmConfig& cfg, std::vector<TensorSpec> io,
                                                Buffers buffers) {
  if (!p.as<GemmDesc>()) return make_error("opencl: prepare_gemm needs a gemm");
  if (auto c = check_post(p); !c) return c.error();
  if (io.empty()) io = p.inputs();
  if (io.size() != p.inputs().size()) return make_error("opencl: prepare_gemm: wrong io specs");
  auto k = std::make_unique<GemmKernel>(std::move(d), p, cfg, std::move(io), buffers);
  if (auto r = k->init(); !r) return r.error();
  return std::unique_ptr<DeviceKernel>(std::move(k));
}

}  // namespace tb::ocl

#include "vulkan_gemm.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <map>

namespace tb::vulkan {

namespace {
constexpr std::uint32_t kBindings = GemmDispatch::kBindings;

struct Push {
  std::uint32_t M, N, K;
  std::uint32_t a_r, a_c, b_r, b_c;
  std::uint32_t sa, sb, sc;
};

// dot: the int8 variants with packed dot products (CMakeLists.txt "_s8dot").
std::string dtype_suffix(DType dt, bool dot) {
  switch (dt) {
    case DType::f16:
      return "_f16";
    case DType::bf16:
      return "_bf16";
    case DType::s8:
    case DType::u8:
      return dot ? "_s8dot" : "_s8";
    default:
      return "_f32";
  }
}

std::string blob_name(const GemmConfig& c, DType dt, bool dot) {
  const std::string blk = std::to_string(c.tm) + "x" + std::to_string(c.tn);
  const std::string sfx = dtype_suffix(dt, dot);
  switch (c.shader) {
    case GemmShader::naive:
      return "gemm_naive" + sfx;
    case GemmShader::reg:
      return "gemm_reg_" + blk + sfx;
    case GemmShader::sg:
      return "gemm_sg_" + blk + sfx;
    case GemmShader::wide:
      return "gemm_wide_" + blk + sfx;
    case GemmShader::tiled64:
      return "gemm_tiled64" + sfx;
    case GemmShader::tiled32:
      return "gemm_tiled32" + sfx;
  }
  return "?";
}

std::uint32_t ceil_div(std::int64_t a, std::int64_t b) {
  return static_cast<std::uint32_t>((a + b - 1) / b);
}
bool packed(GemmShader s) {
  return s != GemmShader::naive;
}
bool blocked(GemmShader s) {  // TM x TN from the variant table
  return s == GemmShader::reg || s == GemmShader::sg || s == GemmShader::wide;
}
bool int8(DType dt) {
  return dt == DType::s8 || dt == DType::u8;
}
// k values per loaded element of the packed shaders: vec4 / f16vec4, uvec4 of 16 bytes or of 8
// bf16, or u64vec4 of 8 floats (wide).
std::int64_t k_unit(GemmShader s, DType dt) {
  return int8(dt) ? 16 : (s == GemmShader::wide || dt == DType::bf16) ? 8 : 4;
}
using Blocks = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
}  // namespace

// The blocks compiled in, read from the variant table that CMakeLists.txt generates
// (vulkan_shaders.h: "gemm_<shader>_<TM>x<TN><dtype suffix>"), so the list is written once.
const Blocks& gemm_blocks(GemmShader s, DType dt) {
  static const Blocks none;
  static const std::map<std::string, Blocks> table = [] {
    std::map<std::string, Blocks> t;
    for (std::string_view name : spirv_blob_names())
      for (const char* sh : {"gemm_reg_", "gemm_sg_", "gemm_wide_"}) {
        if (!name.starts_with(sh)) continue;
        unsigned tm = 0, tn = 0;
        int used = 0;
        const std::string rest(name.substr(std::string_view(sh).size()));
        if (std::sscanf(rest.c_str(), "%ux%u%n", &tm, &tn, &used) != 2 || !tm || !tn) continue;
        // The suffix keeps the shader's prefix: "gemm_reg__f16" for every reg f16 block.
        t[std::string(sh) + rest.substr(static_cast<std::size_t>(used))].emplace_back(tm, tn);
      }
    return t;
  }();
  if (!blocked(s)) return none;
  const std::string prefix = s == GemmShader::reg  ? "gemm_reg_"
                             : s == GemmShader::sg ? "gemm_sg_"
                                                   : "gemm_wide_";
  // f32, f16 and bf16 have their own variants; every other dtype reads the int8 ones.
  const DType key = dt == DType::f32 || dt == DType::f16 || dt == DType::bf16 ? dt : DType::s8;
  const auto it = table.find(prefix + dtype_suffix(key, false));
  return it == table.end() ? none : it->second;
}

// ---- configurations -------------------------------------------------------------------------

std::string GemmConfig::str() const {
  const auto wg = std::to_string(lx) + "x" + std::to_string(ly);
  const auto blk = "tm" + std::to_string(tm) + "tn" + std::to_string(tn) + ":" + wg;
  switch (shader) {
    case GemmShader::naive:
      return "naive:" + wg;
    case GemmShader::reg:
      return "reg:" + blk;
    case GemmShader::sg:
      return "sg:" + blk;
    case GemmShader::wide:
      return "wide:" + blk;
    case GemmShader::tiled64:
      return "tiled64";
    case GemmShader::tiled32:
      return "tiled32";
  }
  return "?";
}

std::optional<GemmConfig> GemmConfig::parse(std::string_view s) {
  unsigned tm = 0, tn = 0, lx = 0, ly = 0;
  const std::string str(s);
  if (str == "tiled64") return tiled_config(GemmShader::tiled64);
  if (str == "tiled32") return tiled_config(GemmShader::tiled32);
  if (std::sscanf(str.c_str(), "naive:%ux%u", &lx, &ly) == 2 && lx && ly)
    return GemmConfig{GemmShader::naive, 1, 1, lx, ly};
  for (auto [name, sh] : {std::pair{"reg", GemmShader::reg}, std::pair{"sg", GemmShader::sg},
                          std::pair{"wide", GemmShader::wide}}) {
    if (std::sscanf(str.c_str(), (std::string(name) + ":tm%utn%u:%ux%u").c_str(), &tm, &tn, &lx,
                    &ly) != 4 ||
        !lx || !ly)
      continue;
    // Canonical spelling only (str() round-trips), and a block compiled for some dtype.
    const GemmConfig c{sh, tm, tn, lx, ly};
    if (c.str() != str) return std::nullopt;
    for (DType dt : {DType::f32, DType::f16, DType::s8, DType::bf16}) {
      const auto& b = gemm_blocks(sh, dt);
      if (std::find(b.begin(), b.end(), std::pair{tm, tn}) != b.end()) return c;
    }
  }
  return std::nullopt;
}

GemmConfig naive_config() {
  return {GemmShader::naive, 1, 1, 16, 16};
}

GemmConfig tiled_config(GemmShader s) {
  // Must agree with the BM/BN defines of the variant table in CMakeLists.txt.
  if (s == GemmShader::tiled64) return {s, 4, 4, 16, 16};  // BM = BN = 64
  return {GemmShader::tiled32, 2, 2, 16, 16};              // BM = BN = 32
}

namespace {
bool is_cpu(const vk::PhysicalDeviceInfo& d) {
  return d.vk_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
}
}  // namespace

Support gemm_dtype_supported(const Context& ctx, DType dt) {
  switch (dt) {
    case DType::f32:
      return Support::yes();
    case DType::f16:
      // f16 storage buffers (loads as f16vec4, stores of float16_t); arithmetic in f32.
      if (!ctx.info().fp16)
        return Support::no(
            "vulkan: gemm f16 needs storageBuffer16BitAccess and shaderFloat16, "
            "which " +
            ctx.info().name + " does not offer");
      return Support::yes();
    case DType::s8:
    case DType::u8:
      // Bytes packed four to a 32-bit word, int32 arithmetic: core Vulkan, no feature needed
      // (packed dot products where the device has them: int8_dot_enabled).
    case DType::bf16:
      // Two to a word, widened exactly to f32: storage only, f32 arithmetic everywhere.
      return Support::yes();
    default:
      return Support::no("vulkan: gemm " + std::string(dtype_name(dt)) +
                         " not supported on this backend (f32, f16, bf16, s8)");
  }
}

Support config_supported(const Context& ctx, const GemmConfig& c, DType dt) {
  const auto& info = ctx.info();
  if (c.shader != GemmShader::reg && c.shader != GemmShader::sg && dt != DType::f32)
    return Support::no("vulkan gemm: " + c.str() + " is f32 only");
  if (c.shader == GemmShader::wide && !info.int64)
    return Support::no("vulkan gemm: " + c.str() + " needs shaderInt64, which " + info.name +
                       " does not offer");
  if (blocked(c.shader)) {
    const auto& b = gemm_blocks(c.shader, dt);
    if (std::find(b.begin(), b.end(), std::pair{c.tm, c.tn}) == b.end())
      return Support::no("vulkan gemm: no compiled " + std::string(dtype_name(dt)) +
                         " variant for " + c.str());
  }
  if (c.shader == GemmShader::sg && (!ctx.subgroup_broadcast8() || c.lx != 8 || c.ly != 1))
    return Support::no("vulkan gemm: " + c.str() +
                       " needs an 8 x 1 workgroup and 8-lane subgroups with subgroupBroadcast");
  if (c.lx * c.ly > info.max_workgroup_invocations || c.lx > info.max_workgroup_size[0] ||
      c.ly > info.max_workgroup_size[1])
    return Support::no("vulkan gemm config " + c.str() + " exceeds the device's workgroup limits");
  return Support::yes();
}

GemmConfig default_gemm_config(const Context& ctx, const GemmDesc& g, DType dt) {
  const auto& dev = ctx.info();
  const std::int64_t mn = std::min(g.m, g.n);
  if (is_cpu(dev)) {
    // Throughput follows FMAs per load on lavapipe, but every invocation block beyond the
    // problem's edge is wasted work, and the largest blocks compile slowly: scale with size.
    // From 512 up the wide blocks (f32 loaded 8 k values at a time) win, and 16x32 is the one
    // whose compile cost a default can carry (lavapipe 22.3, this 2-core VM, quiet, one run):
    // 1024^3 at 49.7 GFLOP/s against 36.5 for reg 16x16, pipeline creation 3.5 s cold and
    // 0.85 s from Mesa's shader cache (32x32: 61.3 GFLOP/s, but 15 s cold and 2.7 s cached:
    // only the tuner picks it, weighing that cost); 512^3 at 32.4 against 17.8. The
    // subgroup-shared blocks (sg) stay tuner candidates.
    const GemmConfig wide{GemmShader::wide, 16, 32, 8, 1};
    if (mn >= 512 && config_supported(ctx, wide, dt).supported) return wide;
    const GemmConfig big{GemmShader::reg, 16, 16, 8, 1};
    if (mn >= 512 && config_supported(ctx, big, dt).supported) return big;
    if (mn >= 64) return {GemmShader::reg, 8, 8, 8, 1};
    if (mn >= 8) return {GemmShader::reg, 4, 4, 8, 1};
    return {GemmShader::reg, 1, 4, 8, 1};
  }
  if (dt != DType::f32) return {GemmShader::reg, 4, 4, 64, 1};
  if (dev.max_workgroup_invocations < 256) return naive_config();
  return mn >= 256 ? tiled_config(GemmShader::tiled64) : tiled_config(GemmShader::tiled32);
}

std::vector<GemmConfig> gemm_candidates(const Context& ctx, const GemmDesc& g, DType dt) {
  std::vector<GemmConfig> v{default_gemm_config(ctx, g, dt)};
  auto add = [&](GemmConfig c) {
    if (std::find(v.begin(), v.end(), c) == v.end() && config_supported(ctx, c, dt).supported)
      v.push_back(c);
  };
  if (is_cpu(ctx.info())) {
    // The tuner stops at its time budget, so the likeliest winners come first: the wide blocks
    // (fewest loads per FMA; measured fastest on lavapipe), largest first.
    const auto& wide = gemm_blocks(GemmShader::wide, dt);
    for (auto it = wide.rbegin(); it != wide.rend(); ++it)
      if (it->first <= 2 * g.m && it->second <= 2 * g.n)
        add({GemmShader::wide, it->first, it->second, 8, 1});
    for (auto [tm, tn] : gemm_blocks(GemmShader::reg, dt))
      if (tm <= 2 * g.m && tn <= 2 * g.n && tm * tn >= 16) add({GemmShader::reg, tm, tn, 8, 1});
    add({GemmShader::reg, 8, 8, 16, 1});
    for (auto [tm, tn] : gemm_blocks(GemmShader::sg, dt))
      if (tm <= 2 * g.m && 8 * tn <= 2 * g.n && tm * tn >= 128) add({GemmShader::sg, tm, tn, 8, 1});
  } else {
    add(tiled_config(GemmShader::tiled64));
    add(tiled_config(GemmShader::tiled32));
    add({GemmShader::reg, 4, 4, 64, 1});
    add({GemmShader::reg, 8, 8, 64, 1});
  }
  if (dt == DType::f32) add(naive_config());
  return v;
}

// ---- the prepared kernel --------------------------------------------------------------------

namespace {

class GemmKernel final : public PreparedKernel {
 public:
  GemmKernel(std::shared_ptr<Context> ctx, GemmDesc g, DType dt, Epilogue post, GemmConfig cfg,
             std::string source)
      : ctx_(std::move(ctx)),
        g_(g),
        dt_(dt),
        types_(gemm_types(dt, post)),
        post_(post),
        cfg_(cfg),
        source_(std::move(source)) {}

  Result<void> init(bool reuse) {
    const auto& dev = ctx_->device();
    const std::uint64_t mark = ctx_->validation_mark();
    auto d = make_gemm_dispatch(*ctx_, g_, dt_, post_, cfg_, reuse);
    if (!d) return d.error();
    disp_ = std::move(d.value());
    pipeline_ = disp_.pipeline;
    stats_ = disp_.stats;
    kp_ = disp_.kp;
    const auto t_setup = std::chrono::steady_clock::now();

    const std::size_t f = sizeof(float);
    const std::size_t b = static_cast<std::size_t>(g_.batch);
    const std::size_t kk = static_cast<std::size_t>(disp_.packed ? kp_ : g_.k);
    a_bytes_ = b * g_.m * kk * dtype_size(types_.a);
    b_bytes_ = b * g_.n * kk * dtype_size(types_.b);
    c_bytes_ = b * g_.m * g_.n * dtype_size(types_.c);
    auto mk = [&](vk::Buffer& buf, std::size_t bytes) -> Result<void> {
      TB_VK_TRY(buf.create(dev, bytes, vk::MemoryKind::device));
      device_bytes_ += bytes;
      return {};
    };
    if (auto r = mk(a_, a_bytes_); !r) return r;
    if (auto r = mk(b_, b_bytes_); !r) return r;
    if (auto r = mk(c_, c_bytes_); !r) return r;
    if (auto r = mk(bias_, post_.bias ? g_.n * f : 16); !r) return r;
    if (auto r = mk(res_, post_.residual ? c_bytes_ : 16); !r) return r;
    if (auto r = mk(a_scale_, 16); !r) return r;
    if (auto r = mk(b_scale_, post_.scales ? g_.n * f : 16); !r) return r;
    const std::array<VkBuffer, kBindings> bufs = {
        a_.handle(),   b_.handle(),       c_.handle(),      bias_.handle(),
        res_.handle(), a_scale_.handle(), b_scale_.handle()};
    TB_VK_TRY(set_.create(dev, *pipeline_, bufs));
    const auto* pc = disp_.push.data();
    const auto pc_bytes = static_cast<std::uint32_t>(disp_.push.size() * 4);

    // Recorded once, submitted by every execute().
    TB_VK_TRY(stream_.create(dev));
    TB_VK_TRY(stream_.begin());
    stream_.dispatch(*pipeline_, set_, pc, pc_bytes, disp_.gx, disp_.gy, disp_.gz);
    stream_.shader_writes_to_host_barrier();
    TB_VK_TRY(stream_.end());
    setup_s_ = seconds_since(t_setup);

    // Drivers may compile lazily at the first dispatch (lavapipe JITs there, for seconds with
    // large blocks): one workgroup now, so that the load cost is paid and measured in prepare.
    if (!stats_.reused) {
      const auto t0 = std::chrono::steady_clock::now();
      TB_VK_TRY(vk::run_once(
          dev, [&](vk::CommandStream& s) { s.dispatch(*pipeline_, set_, pc, pc_bytes, 1, 1, 1); }));
      first_dispatch_s_ = seconds_since(t0);
    }
    return ctx_->check_validation(mark);
  }

  Result<void> upload(std::span<const Tensor> in) override {
    const std::uint64_t mark = ctx_->validation_mark();
    const auto specs = g_.inputs(dt_, post_);
    if (in.size() != specs.size())
      return make_error("gemm upload: " + std::to_string(in.size()) + " inputs, want " +
                        std::to_string(specs.size()));
    // Element counts, not shapes: a pointwise conv runs as this GEMM over its NHWC tensors.
    for (std::size_t i = 0; i < specs.size(); ++i)
      if (in[i].dtype() != specs[i].dtype || in[i].numel() != spec_numel(specs[i]))
        return make_error("gemm upload: input " + specs[i].name + " is " + in[i].shape_str() + " " +
                          std::string(dtype_name(in[i].dtype())) +
                          ", want its problem's element count and type");
    const auto& dev = ctx_->device();
    const auto t0 = std::chrono::steady_clock::now();
    uploaded_ = 0;
    if (!disp_.packed) {
      TB_VK_TRY(vk::write_buffer(dev, a_, in[0].raw(), in[0].bytes()));
      TB_VK_TRY(vk::write_buffer(dev, b_, in[1].raw(), in[1].bytes()));
      uploaded_ += in[0].bytes() + in[1].bytes();
    } else {
      // A as m x kp (k contiguous), B transposed as n x kp; k zero-padded to kp, a multiple of
      // the shader's load width.
      const auto tp = std::chrono::steady_clock::now();
      auto pack = [&](const Tensor& src, std::int64_t rows, bool rows_contiguous_k,
                      vk::Buffer& dst) -> Result<void> {
        const auto buf = pack_gemm_operand(src.raw(), dtype_size(src.dtype()), g_.batch, rows, g_.k,
                                           kp_, rows_contiguous_k);
        TB_VK_TRY(vk::write_buffer(dev, dst, buf.data(), buf.size()));
        uploaded_ += buf.size();
        return {};
      };
      if (auto r = pack(in[0], g_.m, !g_.trans_a, a_); !r) return r;
      if (auto r = pack(in[1], g_.n, g_.trans_b, b_); !r) return r;
      pack_s_ = seconds_since(tp);
    }
    std::size_t next = 2;
    if (post_.scales) {
      TB_VK_TRY(vk::write_buffer(dev, a_scale_, in[next].raw(), in[next].bytes()));
      TB_VK_TRY(vk::write_buffer(dev, b_scale_, in[next + 1].raw(), in[next + 1].bytes()));
      uploaded_ += in[next].bytes() + in[next + 1].bytes();
      next += 2;
    }
    if (post_.bias) {
      TB_VK_TRY(vk::write_buffer(dev, bias_, in[next].raw(), in[next].bytes()));
      uploaded_ += in[next++].bytes();
    }
    if (post_.residual) {
      TB_VK_TRY(vk::write_buffer(dev, res_, in[next].raw(), in[next].bytes()));
      uploaded_ += in[next++].bytes();
    }
    upload_s_ = seconds_since(t0);
    uploaded_ok_ = true;
    return ctx_->check_validation(mark);
  }

  Result<Timing> execute() override {
    if (!uploaded_ok_) return make_error("gemm execute before upload");
    return ctx_->timed_submit(stream_);
  }

  Result<void> download(std::span<Tensor> out) override {
    const std::uint64_t mark = ctx_->validation_mark();
    if (out.size() != 1 || out[0].dtype() != types_.c || out[0].bytes() != c_bytes_)
      return make_error("gemm download: want one " + std::string(dtype_name(types_.c)) +
                        " tensor of " + std::to_string(c_bytes_) + " bytes");
    TB_VK_TRY(vk::read_buffer(ctx_->device(), c_, out[0].raw(), c_bytes_));
    return ctx_->check_validation(mark);
  }

  MemoryStats memory() const override { return {device_bytes_, 0, uploaded_}; }

  std::vector<std::pair<std::string, double>> details() const override {
    auto v = ctx_->load_details(stats_, first_dispatch_s_, setup_s_, upload_s_);
    v.insert(v.end(), {{"pack_s", pack_s_},
                       {"tm", cfg_.tm},
                       {"tn", cfg_.tn},
                       {"subgroup_shared_a", cfg_.shader == GemmShader::sg ? 1.0 : 0.0},
                       {"wide_loads", cfg_.shader == GemmShader::wide ? 1.0 : 0.0}});
    if (int8(dt_)) v.emplace_back("int8_dot_product", disp_.int8_dot ? 1.0 : 0.0);
    return v;
  }

  std::optional<KernelConfig> kernel_config() const override {
    return KernelConfig{cfg_.str(), source_};
  }

 private:
  std::shared_ptr<Context> ctx_;
  GemmDesc g_;
  DType dt_;
  GemmTypes types_;
  Epilogue post_;
  GemmConfig cfg_;
  std::string source_;  // tuned, default or given
  GemmDispatch disp_;
  std::int64_t kp_ = 0;
  std::shared_ptr<vk::ComputePipeline> pipeline_;
  PipelineStats stats_;
  vk::Buffer a_, b_, c_, bias_, res_, a_scale_, b_scale_;
  vk::DescriptorSet set_;
  vk::CommandStream stream_;
  std::size_t a_bytes_ = 0, b_bytes_ = 0, c_bytes_ = 0;
  std::uint64_t device_bytes_ = 0, uploaded_ = 0;
  double setup_s_ = 0;  // buffers, descriptor set, command recording
  double upload_s_ = 0, pack_s_ = 0, first_dispatch_s_ = 0;
  bool uploaded_ok_ = false;
};

}  // namespace

GemmConfig chosen_gemm_config(const Context& ctx, const GemmDesc& g, DType dt,
                              std::string* source) {
  if (auto t = lookup_tuned(ctx, g, dt); t && config_supported(ctx, *t, dt).supported) {
    if (source) *source = "tuned";
    return *t;
  }
  if (source) *source = "default";
  return default_gemm_config(ctx, g, dt);
}

Support supports_gemm(const Problem& p, const Context& ctx) {
  const GemmDesc* g = p.as<GemmDesc>();
  if (auto s = gemm_dtype_supported(ctx, p.dtype); !s.supported) return s;
  // Indices are 32-bit in the shaders, and one buffer must fit a storage-buffer range.
  const std::uint64_t range = ctx.info().max_storage_buffer_range;
  const std::int64_t kp = (g->k + 15) / 16 * 16;
  for (std::int64_t elems : {g->batch * g->m * kp, g->batch * g->n * kp, g->batch * g->m * g->n})
    if (static_cast<std::uint64_t>(elems) * 4 > range || elems >= (1ll << 31))
      return Support::no("vulkan: a gemm operand exceeds maxStorageBufferRange");
  return Support::yes();
}

std::optional<GemmDesc> pointwise_gemm(const Problem& p) {
  const ConvDesc* c = p.as<ConvDesc>();
  if (!c || !c->pointwise()) return std::nullopt;
  if (std::getenv("TB_VULKAN_GRAPH_CONV_AS_CONV") || std::getenv("TB_VULKAN_CONV_DIRECT"))
    return std::nullopt;  // the A/B anchors
  GemmDesc g;
  g.m = c->n * c->h * c->w;
  g.n = c->k;
  g.k = c->c;
  g.trans_b = true;
  return g;
}

Result<GemmDispatch> make_gemm_dispatch(Context& ctx, const GemmDesc& g, DType dt,
                                        const Epilogue& post, const GemmConfig& cfg, bool reuse) {
  GemmDispatch d;
  d.cfg = cfg;
  d.packed = packed(cfg.shader);
  const std::int64_t ku = k_unit(cfg.shader, dt);
  const std::int64_t k4 = (g.k + ku - 1) / ku;  // loaded elements per packed row
  d.kp = k4 * ku;
  const std::array<std::uint32_t, 8> spec = {cfg.lx,
                                             cfg.ly,
                                             cfg.tm,
                                             cfg.tn,
                                             post.bias ? 1u : 0u,
                                             activation_code(post.act),
                                             post.residual ? 1u : 0u,
                                             post.scales ? 1u : 0u};
  d.int8_dot = int8(dt) && int8_dot_enabled(ctx);
  auto p =
      ctx.pipeline(blob_name(cfg, dt, d.int8_dot), kBindings, sizeof(Push), spec, reuse, &d.stats);
  if (!p) return p.error();
  d.pipeline = std::move(p.value());

  Push pc{};
  pc.M = static_cast<std::uint32_t>(g.m);
  pc.N = static_cast<std::uint32_t>(g.n);
  pc.sc = static_cast<std::uint32_t>(g.m * g.n);
  if (cfg.shader == GemmShader::naive) {
    pc.K = static_cast<std::uint32_t>(g.k);
    pc.a_r = static_cast<std::uint32_t>(g.trans_a ? 1 : g.k);
    pc.a_c = static_cast<std::uint32_t>(g.trans_a ? g.m : 1);
    pc.b_r = static_cast<std::uint32_t>(g.trans_b ? 1 : g.n);
    pc.b_c = static_cast<std::uint32_t>(g.trans_b ? g.k : 1);
    pc.sa = static_cast<std::uint32_t>(g.m * g.k);
    pc.sb = static_cast<std::uint32_t>(g.k * g.n);
    d.gx = ceil_div(g.n, cfg.lx);
    d.gy = ceil_div(g.m, cfg.ly);
  } else {
    pc.K = static_cast<std::uint32_t>(k4);
    pc.a_r = pc.b_r = static_cast<std::uint32_t>(k4);
    pc.a_c = pc.b_c = 1;
    pc.sa = static_cast<std::uint32_t>(g.m * k4);
    pc.sb = static_cast<std::uint32_t>(g.n * k4);
    if (blocked(cfg.shader)) {
      // sg: one 8-lane workgroup per TM rows (ly = 1), each lane TN columns.
      d.gx = ceil_div(ceil_div(g.n, cfg.tn), cfg.lx);
      d.gy = ceil_div(ceil_div(g.m, cfg.tm), cfg.ly);
    } else {
      d.gx = ceil_div(g.n, cfg.tn * cfg.lx);
      d.gy = ceil_div(g.m, cfg.tm * cfg.ly);
    }
  }
  d.gz = static_cast<std::uint32_t>(g.batch);
  const auto& lim = ctx.info().max_workgroup_count;
  if (d.gx > lim[0] || d.gy > lim[1] || static_cast<std::uint64_t>(g.batch) > lim[2])
    return make_error("dispatch " + std::to_string(d.gx) + "x" + std::to_string(d.gy) + "x" +
                      std::to_string(g.batch) + " exceeds maxComputeWorkGroupCount");
  static_assert(sizeof(Push) % 4 == 0);
  d.push.resize(sizeof(Push) / 4);
  std::memcpy(d.push.data(), &pc, sizeof pc);
  return d;
}

std::vector<unsigned char> pack_gemm_operand(const void* src, std::size_t es, std::int64_t batch,
                                             std::int64_t rows, std::int64_t k, std::int64_t kp,
                                             bool rows_contiguous_k) {
  // Byte-wise, whatever the element size.
  std::vector<unsigned char> buf(static_cast<std::size_t>(batch * rows * kp) * es, 0);
  const auto* s0 = static_cast<const unsigned char*>(src);
  for (std::int64_t b = 0; b < batch; ++b) {
    const unsigned char* s = s0 + static_cast<std::size_t>(b * rows * k) * es;
    unsigned char* d = buf.data() + static_cast<std::size_t>(b * rows * kp) * es;
    if (rows_contiguous_k) {
      for (std::int64_t r = 0; r < rows; ++r)
        std::memcpy(d + static_cast<std::size_t>(r * kp) * es,
                    s + static_cast<std::size_t>(r * k) * es, static_cast<std::size_t>(k) * es);
    } else {
      for (std::int64_t p = 0; p < k; ++p)
        for (std::int64_t r = 0; r < rows; ++r)
          std::memcpy(d + static_cast<std::size_t>(r * kp + p) * es,
                      s + static_cast<std::size_t>(p * rows + r) * es, es);
    }
  }
  return buf;
}

Result<std::unique_ptr<PreparedKernel>> prepare_gemm(std::shared_ptr<Context> ctx, const Problem& p,
                                                     const GemmPrepareOptions& opts) {
  const GemmDesc* g = p.as<GemmDesc>();
  if (!g) return make_error("vulkan: not a gemm");
  if (auto s = gemm_dtype_supported(*ctx, p.dtype); !s.supported) return make_error(s.reason);
  std::string source = "given";
  const GemmConfig cfg =
      opts.config ? *opts.config : chosen_gemm_config(*ctx, *g, p.dtype, &source);
  if (auto s = config_supported(*ctx, cfg, p.dtype); !s.supported) return make_error(s.reason);
  auto k = std::make_unique<GemmKernel>(ctx, *g, p.dtype, p.post, cfg, std::move(source));
  if (auto r = k->init(opts.reuse_pipeline); !r) return r.error();
  return std::unique_ptr<PreparedKernel>(std::move(k));
}

}  // namespace tb::vulkan

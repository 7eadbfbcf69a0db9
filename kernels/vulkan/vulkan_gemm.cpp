#include "vulkan_gemm.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace tb::vulkan {

namespace {
constexpr std::uint32_t kBindings = 5;  // A, B, C, bias, residual

struct Push {
  std::uint32_t M, N, K;
  std::uint32_t a_r, a_c, b_r, b_c;
  std::uint32_t sa, sb, sc;
};

std::string blob_name(const GemmConfig& c) {
  switch (c.shader) {
    case GemmShader::naive:
      return "gemm_naive_f32";
    case GemmShader::reg:
      return "gemm_reg_" + std::to_string(c.tm) + "x" + std::to_string(c.tn) + "_f32";
    case GemmShader::tiled64:
      return "gemm_tiled64_f32";
    case GemmShader::tiled32:
      return "gemm_tiled32_f32";
  }
  return "?";
}

std::uint32_t ceil_div(std::int64_t a, std::int64_t b) {
  return static_cast<std::uint32_t>((a + b - 1) / b);
}
bool packed(GemmShader s) {
  return s != GemmShader::naive;
}
}  // namespace

// The reg blocks compiled in (CMakeLists.txt variant table).
const std::vector<std::pair<std::uint32_t, std::uint32_t>>& reg_blocks() {
  static const std::vector<std::pair<std::uint32_t, std::uint32_t>> v = {
      {1, 4}, {4, 4}, {4, 8}, {8, 8}, {8, 16}, {16, 16}, {16, 32}, {32, 32}};
  return v;
}

// ---- configurations -------------------------------------------------------------------------

std::string GemmConfig::str() const {
  const auto wg = std::to_string(lx) + "x" + std::to_string(ly);
  switch (shader) {
    case GemmShader::naive:
      return "naive:" + wg;
    case GemmShader::reg:
      return "reg:tm" + std::to_string(tm) + "tn" + std::to_string(tn) + ":" + wg;
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
  if (std::sscanf(str.c_str(), "reg:tm%utn%u:%ux%u", &tm, &tn, &lx, &ly) == 4 && lx && ly) {
    const auto& b = reg_blocks();
    if (std::find(b.begin(), b.end(), std::pair{tm, tn}) != b.end())
      return GemmConfig{GemmShader::reg, tm, tn, lx, ly};
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

GemmConfig default_gemm_config(const vk::PhysicalDeviceInfo& dev, const GemmDesc& g) {
  if (is_cpu(dev)) {
    // Throughput follows FMAs per load on lavapipe, but every invocation block beyond the
    // problem's edge is wasted work, and the largest blocks compile slowly: scale with size.
    const std::int64_t mn = std::min(g.m, g.n);
    // 32x32 is fastest at 1024^3 but its first dispatch compiles for ~10 s on lavapipe: only
    // the tuner picks it, when it is worth it.
    if (mn >= 512) return {GemmShader::reg, 16, 16, 8, 1};
    if (mn >= 64) return {GemmShader::reg, 8, 8, 8, 1};
    if (mn >= 8) return {GemmShader::reg, 4, 4, 8, 1};
    return {GemmShader::reg, 1, 4, 8, 1};
  }
  if (dev.max_workgroup_invocations < 256) return naive_config();
  return std::min(g.m, g.n) >= 256 ? tiled_config(GemmShader::tiled64)
                                   : tiled_config(GemmShader::tiled32);
}

std::vector<GemmConfig> gemm_candidates(const vk::PhysicalDeviceInfo& dev, const GemmDesc& g) {
  std::vector<GemmConfig> v{default_gemm_config(dev, g)};
  auto add = [&](GemmConfig c) {
    if (std::find(v.begin(), v.end(), c) == v.end()) v.push_back(c);
  };
  if (is_cpu(dev)) {
    for (auto [tm, tn] : reg_blocks())
      if (tm <= 2 * g.m && tn <= 2 * g.n && tm * tn >= 16) add({GemmShader::reg, tm, tn, 8, 1});
    add({GemmShader::reg, 8, 8, 16, 1});
  } else {
    add(tiled_config(GemmShader::tiled64));
    add(tiled_config(GemmShader::tiled32));
    add({GemmShader::reg, 4, 4, 64, 1});
  }
  add(naive_config());
  return v;
}

// ---- the prepared kernel --------------------------------------------------------------------

namespace {

class GemmKernel final : public PreparedKernel {
 public:
  GemmKernel(std::shared_ptr<Context> ctx, GemmDesc g, Epilogue post, GemmConfig cfg)
      : ctx_(std::move(ctx)), g_(g), post_(post), cfg_(cfg) {}

  Result<void> init(bool reuse) {
    const auto& dev = ctx_->device();
    const std::uint64_t mark = ctx_->validation_mark();
    k4_ = (g_.k + 3) / 4;
    const std::array<std::uint32_t, 7> spec = {cfg_.lx,
                                               cfg_.ly,
                                               cfg_.tm,
                                               cfg_.tn,
                                               post_.bias ? 1u : 0u,
                                               activation_code(post_.act),
                                               post_.residual ? 1u : 0u};
    PipelineStats st;
    auto p = ctx_->pipeline(blob_name(cfg_), kBindings, sizeof(Push), spec, reuse, &st);
    if (!p) return p.error();
    pipeline_ = std::move(p.value());
    stats_ = st;

    const std::size_t f = sizeof(float);
    const std::size_t b = static_cast<std::size_t>(g_.batch);
    const std::size_t kk = packed(cfg_.shader) ? static_cast<std::size_t>(k4_) * 4 : g_.k;
    a_bytes_ = b * g_.m * kk * f;
    b_bytes_ = b * g_.n * kk * f;
    c_bytes_ = b * g_.m * g_.n * f;
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
    const std::array<VkBuffer, kBindings> bufs = {a_.handle(), b_.handle(), c_.handle(),
                                                  bias_.handle(), res_.handle()};
    TB_VK_TRY(set_.create(dev, *pipeline_, bufs));

    Push pc{};
    pc.M = static_cast<std::uint32_t>(g_.m);
    pc.N = static_cast<std::uint32_t>(g_.n);
    pc.sc = static_cast<std::uint32_t>(g_.m * g_.n);
    std::uint32_t gx, gy;
    if (cfg_.shader == GemmShader::naive) {
      pc.K = static_cast<std::uint32_t>(g_.k);
      pc.a_r = static_cast<std::uint32_t>(g_.trans_a ? 1 : g_.k);
      pc.a_c = static_cast<std::uint32_t>(g_.trans_a ? g_.m : 1);
      pc.b_r = static_cast<std::uint32_t>(g_.trans_b ? 1 : g_.n);
      pc.b_c = static_cast<std::uint32_t>(g_.trans_b ? g_.k : 1);
      pc.sa = static_cast<std::uint32_t>(g_.m * g_.k);
      pc.sb = static_cast<std::uint32_t>(g_.k * g_.n);
      gx = ceil_div(g_.n, cfg_.lx);
      gy = ceil_div(g_.m, cfg_.ly);
    } else {
      pc.K = static_cast<std::uint32_t>(k4_);
      pc.a_r = pc.b_r = static_cast<std::uint32_t>(k4_);
      pc.a_c = pc.b_c = 1;
      pc.sa = static_cast<std::uint32_t>(g_.m * k4_);
      pc.sb = static_cast<std::uint32_t>(g_.n * k4_);
      if (cfg_.shader == GemmShader::reg) {
        gx = ceil_div(ceil_div(g_.n, cfg_.tn), cfg_.lx);
        gy = ceil_div(ceil_div(g_.m, cfg_.tm), cfg_.ly);
      } else {
        gx = ceil_div(g_.n, cfg_.tn * cfg_.lx);
        gy = ceil_div(g_.m, cfg_.tm * cfg_.ly);
      }
    }
    const auto& lim = ctx_->info().max_workgroup_count;
    if (gx > lim[0] || gy > lim[1] || static_cast<std::uint64_t>(g_.batch) > lim[2])
      return make_error("dispatch " + std::to_string(gx) + "x" + std::to_string(gy) + "x" +
                        std::to_string(g_.batch) + " exceeds maxComputeWorkGroupCount");

    // Recorded once, submitted by every execute().
    TB_VK_TRY(stream_.create(dev));
    TB_VK_TRY(stream_.begin());
    stream_.dispatch(*pipeline_, set_, &pc, sizeof pc, gx, gy,
                     static_cast<std::uint32_t>(g_.batch));
    stream_.shader_writes_to_host_barrier();
    TB_VK_TRY(stream_.end());

    // Drivers may compile lazily at the first dispatch (lavapipe JITs there, for seconds with
    // large blocks): one workgroup now, so that the load cost is paid and measured in prepare.
    if (!stats_.reused) {
      const auto t0 = std::chrono::steady_clock::now();
      TB_VK_TRY(vk::run_once(dev, [&](vk::CommandStream& s) {
        s.dispatch(*pipeline_, set_, &pc, sizeof pc, 1, 1, 1);
      }));
      first_dispatch_s_ = seconds_since(t0);
    }
    return ctx_->check_validation(mark);
  }

  Result<void> upload(std::span<const Tensor> in) override {
    const std::uint64_t mark = ctx_->validation_mark();
    const std::size_t want = 2 + (post_.bias ? 1 : 0) + (post_.residual ? 1 : 0);
    if (in.size() != want)
      return make_error("gemm upload: " + std::to_string(in.size()) + " inputs, want " +
                        std::to_string(want));
    const auto specs = g_.inputs(DType::f32, post_);
    for (std::size_t i = 0; i < want; ++i)
      if (in[i].dtype() != DType::f32 || in[i].shape() != specs[i].shape)
        return make_error("gemm upload: input " + specs[i].name + " is " + in[i].shape_str() +
                          ", want its problem shape in f32");
    const auto& dev = ctx_->device();
    const auto t0 = std::chrono::steady_clock::now();
    uploaded_ = 0;
    if (!packed(cfg_.shader)) {
      TB_VK_TRY(vk::write_buffer(dev, a_, in[0].raw(), in[0].bytes()));
      TB_VK_TRY(vk::write_buffer(dev, b_, in[1].raw(), in[1].bytes()));
      uploaded_ += in[0].bytes() + in[1].bytes();
    } else {
      // A as m x k4 (k contiguous), B transposed as n x k4; zero-padded k.
      const std::int64_t kp = k4_ * 4;
      std::vector<float> buf(static_cast<std::size_t>(g_.batch * std::max(g_.m, g_.n) * kp));
      auto pack = [&](const float* src, std::int64_t rows, bool rows_contiguous_k,
                      vk::Buffer& dst) -> Result<void> {
        // rows_contiguous_k: source is rows x k; else k x rows.
        std::fill(buf.begin(), buf.end(), 0.0f);
        for (std::int64_t b = 0; b < g_.batch; ++b) {
          const float* s = src + b * rows * g_.k;
          float* d = buf.data() + b * rows * kp;
          if (rows_contiguous_k) {
            for (std::int64_t r = 0; r < rows; ++r)
              std::memcpy(d + r * kp, s + r * g_.k, static_cast<std::size_t>(g_.k) * 4);
          } else {
            for (std::int64_t p = 0; p < g_.k; ++p)
              for (std::int64_t r = 0; r < rows; ++r) d[r * kp + p] = s[p * rows + r];
          }
        }
        const std::size_t bytes = static_cast<std::size_t>(g_.batch * rows * kp) * 4;
        TB_VK_TRY(vk::write_buffer(dev, dst, buf.data(), bytes));
        uploaded_ += bytes;
        return {};
      };
      if (auto r = pack(in[0].data<float>(), g_.m, !g_.trans_a, a_); !r) return r;
      if (auto r = pack(in[1].data<float>(), g_.n, g_.trans_b, b_); !r) return r;
    }
    std::size_t next = 2;
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
    const std::uint64_t mark = ctx_->validation_mark();
    const auto t0 = std::chrono::steady_clock::now();
    double dev_s = -1;
    TB_VK_TRY(stream_.submit_wait(&dev_s));
    const double host_s = seconds_since(t0);
    if (auto r = ctx_->check_validation(mark); !r) return r.error();
    // Device timestamps when the queue has them; the host round trip (labelled) otherwise.
    if (dev_s >= 0) return Timing{dev_s, TimingSource::device_timestamps};
    return Timing{host_s, TimingSource::host_clock};
  }

  Result<void> download(std::span<Tensor> out) override {
    const std::uint64_t mark = ctx_->validation_mark();
    if (out.size() != 1 || out[0].dtype() != DType::f32 || out[0].bytes() != c_bytes_)
      return make_error("gemm download: want one f32 tensor of " + std::to_string(c_bytes_) +
                        " bytes");
    TB_VK_TRY(vk::read_buffer(ctx_->device(), c_, out[0].raw(), c_bytes_));
    return ctx_->check_validation(mark);
  }

  MemoryStats memory() const override { return {device_bytes_, 0, uploaded_}; }

  std::vector<std::pair<std::string, double>> details() const override {
    // pipeline_create_s: vkCreateComputePipelines plus the first (one-workgroup) dispatch, where
    // lazily compiling drivers do their work; pipeline_vk_create_s: the vk call alone.
    return {{"pipeline_create_s", stats_.create_s + first_dispatch_s_},
            {"pipeline_vk_create_s", stats_.create_s},
            {"first_dispatch_s", first_dispatch_s_},
            {"pipeline_cache_hit", stats_.reused ? 1.0 : static_cast<double>(stats_.cache_hit)},
            {"pipeline_reused", stats_.reused ? 1.0 : 0.0},
            {"upload_s", upload_s_},
            {"tm", cfg_.tm},
            {"tn", cfg_.tn}};
  }

 private:
  std::shared_ptr<Context> ctx_;
  GemmDesc g_;
  Epilogue post_;
  GemmConfig cfg_;
  std::int64_t k4_ = 0;
  std::shared_ptr<vk::ComputePipeline> pipeline_;
  PipelineStats stats_;
  vk::Buffer a_, b_, c_, bias_, res_;
  vk::DescriptorSet set_;
  vk::CommandStream stream_;
  std::size_t a_bytes_ = 0, b_bytes_ = 0, c_bytes_ = 0;
  std::uint64_t device_bytes_ = 0, uploaded_ = 0;
  double upload_s_ = 0, first_dispatch_s_ = 0;
  bool uploaded_ok_ = false;
};

}  // namespace

Result<std::unique_ptr<PreparedKernel>> prepare_gemm(std::shared_ptr<Context> ctx, const Problem& p,
                                                     const GemmPrepareOptions& opts) {
  const GemmDesc* g = p.as<GemmDesc>();
  if (!g || p.dtype != DType::f32) return make_error("vulkan: only f32 gemm is implemented");
  GemmConfig cfg;
  if (opts.config) {
    cfg = *opts.config;
  } else if (auto t = lookup_tuned(*ctx, *g)) {
    cfg = *t;
  } else {
    cfg = default_gemm_config(ctx->info(), *g);
  }
  if (cfg.shader == GemmShader::reg && !GemmConfig::parse(cfg.str()))
    return make_error("vulkan gemm: no compiled variant for " + cfg.str());
  if (cfg.lx * cfg.ly > ctx->info().max_workgroup_invocations ||
      cfg.lx > ctx->info().max_workgroup_size[0] || cfg.ly > ctx->info().max_workgroup_size[1])
    return make_error("vulkan gemm config " + cfg.str() + " exceeds the device's workgroup limits");
  auto k = std::make_unique<GemmKernel>(ctx, *g, p.post, cfg);
  if (auto r = k->init(opts.reuse_pipeline); !r) return r.error();
  return std::unique_ptr<PreparedKernel>(std::move(k));
}

}  // namespace tb::vulkan

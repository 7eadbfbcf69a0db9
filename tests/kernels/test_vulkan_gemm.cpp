// Vulkan GEMM beyond the shared shape list: batch, transposes, epilogues, every shader variant
// forced on the same shapes, pipeline reuse and the on-disk pipeline cache, GELU's erf, device
// properties, and honest unsupported answers. Skips when no Vulkan device is present.
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <vector>

#include "backend_fixture.h"
#include "reference/reference_backend.h"
#include "vulkan/vulkan_gemm.h"
#include "vulkan_loader.h"

namespace tb {
namespace {

std::shared_ptr<vulkan::Context> context_or_skip() {
  auto c = vulkan::shared_context(0);
  return c ? c.value() : nullptr;
}

#define TB_REQUIRE_VULKAN(ctx)  \
  auto ctx = context_or_skip(); \
  if (!ctx) GTEST_SKIP() << "no Vulkan device: " << vulkan::shared_context(0).error().message

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

std::string test_name(std::string s) {
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

// ---- through the Backend interface, default configuration ------------------------------------
class VulkanGemmShapes : public ::testing::TestWithParam<std::string> {};

TEST_P(VulkanGemmShapes, MatchesReference) {
  auto p = Problem::parse(GetParam());
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto o = test::run_and_check("vulkan", p.value());
  if (o.status == Status::unavailable) GTEST_SKIP() << o.message;
  EXPECT_EQ(o.status, Status::passed)
      << o.message << " (max rel err " << o.check.max_rel_err << ")";
}

INSTANTIATE_TEST_SUITE_P(
    Vulkan, VulkanGemmShapes,
    ::testing::Values("gemm:b3m17n31k13:f32", "gemm:m17n31k13ta1:f32", "gemm:m17n31k13tb1:f32",
                      "gemm:b2m33n65k7ta1tb1:f32", "gemm:m64n48k40:f32+bias",
                      "gemm:m31n17k29:f32+relu", "gemm:m31n17k29:f32+bias+relu6",
                      "gemm:m31n17k29:f32+gelu", "gemm:b2m31n17k29:f32+bias+silu+res",
                      "gemm:m40n40k40tb1:f32+res", "gemm:b2m130n67k3ta1:f32+bias+gelu+res",
                      "gemm:m300n260k64:f32+bias+relu", "gemm:m263n301k77:f32",
                      "gemm:b2m17n31k13:f16", "gemm:m67n33k130tb1:f16+bias+gelu",
                      "gemm:m300n260k70ta1:f16+res", "gemm:b2m17n31k13:s8",
                      "gemm:m67n33k130ta1tb1:s8+bias+relu", "gemm:m300n260k70:s8+res",
                      "gemm:m1n5k3:s8", "gemm:m1n5k3:f16"),
    [](const auto& info) { return test_name(info.param); });

// ---- every shader configuration on the same shapes ---------------------------------------------
class VulkanGemmConfigs : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(VulkanGemmConfigs, MatchesReference) {
  TB_REQUIRE_VULKAN(ctx);
  const auto& [cfg_s, prob_s] = GetParam();
  auto cfg = vulkan::GemmConfig::parse(cfg_s);
  ASSERT_TRUE(cfg) << cfg_s;
  ASSERT_EQ(cfg->str(), cfg_s);  // configurations print and parse round-trip
  auto p = Problem::parse(prob_s);
  ASSERT_TRUE(p.ok());
  const auto in = make_inputs(p.value(), 3);
  auto ref = make_outputs(p.value());
  ASSERT_TRUE(reference_compute(p.value(), in, ref).ok());
  if (auto s = vulkan::config_supported(*ctx, *cfg, p->dtype); !s.supported)
    GTEST_SKIP() << s.reason;
  vulkan::GemmPrepareOptions po;
  po.config = cfg;
  auto k = vulkan::prepare_gemm(ctx, p.value(), po);
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_TRUE(k.value()->upload(in).ok());
  auto t = k.value()->execute();
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_GT(t->seconds, 0);
  auto out = make_outputs(p.value());
  ASSERT_TRUE(k.value()->download(out).ok());
  EXPECT_TRUE(out[0].guards_intact());
  const auto c = check_outputs(out, ref, tolerance_for(p.value()));
  EXPECT_EQ(c.status, Status::passed) << c.message;
}

INSTANTIATE_TEST_SUITE_P(
    Vulkan, VulkanGemmConfigs,
    ::testing::Combine(::testing::Values("naive:16x16", "naive:8x1", "reg:tm1tn4:8x1",
                                         "reg:tm4tn4:8x1", "reg:tm8tn16:8x1", "reg:tm4tn8:4x2",
                                         "reg:tm16tn16:8x1", "tiled64", "tiled32", "sg:tm8tn8:8x1",
                                         "sg:tm32tn8:8x1", "sg:tm64tn4:8x1", "sg:tm32tn16:8x1"),
                       ::testing::Values("gemm:b2m37n70k21ta1:f32+bias+gelu",
                                         "gemm:m67n33k130tb1:f32+silu+res", "gemm:m1n5k3:f32",
                                         "gemm:m97n203k67:f32")),
    [](const auto& info) {
      return test_name(std::get<0>(info.param) + "_" + std::get<1>(info.param));
    });

// ---- every compiled block of every dtype, forced, on odd shapes with guard bands ----------------
TEST(VulkanGemm, EveryCompiledBlockMatchesReference) {
  TB_REQUIRE_VULKAN(ctx);
  // Two pipelines per block (no epilogue, full epilogue): cold compiles of the big blocks take
  // seconds each on lavapipe. Under the validation layer (test_vulkan_gemm_validation) each
  // pipeline runs once, on the first and last shapes: the layer checks the API calls and the
  // module, which the shape does not change, and it tripled this test's time (26 to 70 s); the
  // shapes' results are checked without it. Under AddressSanitizer lavapipe's LLVM compiles
  // behind ASan's allocator: there the smallest block of each shader and dtype runs, which takes
  // tierbench's host code through the same paths as any other; every block's results are checked
  // in the release suite. With the largest block as well, this test took 300 s of the sanitized
  // job's 889 s of tests (clean clone, cold shader cache, 2026-12-08).
  const char* all_shapes[] = {"gemm:b2m37n70k21ta1:%s", "gemm:m67n33k130tb1:%s", "gemm:m1n5k3:%s",
                              "gemm:m97n203k67:%s+bias+gelu+res"};
  std::vector<const char*> shapes(std::begin(all_shapes), std::end(all_shapes));
  if (vk::validation_requested()) shapes = {all_shapes[0], all_shapes[3]};
  int ran = 0;
  for (DType dt : {DType::f32, DType::f16, DType::s8}) {
    if (!vulkan::gemm_dtype_supported(*ctx, dt).supported) continue;
    for (auto sh : {vulkan::GemmShader::reg, vulkan::GemmShader::sg, vulkan::GemmShader::wide}) {
      auto blocks = vulkan::gemm_blocks(sh, dt);
      if (kAddressSanitizer && blocks.size() > 1)
        blocks = {*std::min_element(blocks.begin(), blocks.end(), [](auto x, auto y) {
          return x.first * x.second < y.first * y.second;
        })};
      for (auto [tm, tn] : blocks) {
        const vulkan::GemmConfig cfg{sh, tm, tn, 8, 1};
        if (!vulkan::config_supported(*ctx, cfg, dt).supported) continue;
        for (const char* fmt : shapes) {
          char buf[96];
          std::snprintf(buf, sizeof buf, fmt, std::string(dtype_name(dt)).c_str());
          SCOPED_TRACE(cfg.str() + " " + buf);
          auto p = Problem::parse(buf);
          ASSERT_TRUE(p.ok()) << buf;
          const auto in = make_inputs(p.value(), 11);
          auto ref = make_outputs(p.value());
          ASSERT_TRUE(reference_compute(p.value(), in, ref).ok());
          vulkan::GemmPrepareOptions po;
          po.config = cfg;
          auto k = vulkan::prepare_gemm(ctx, p.value(), po);
          ASSERT_TRUE(k.ok()) << k.error().message;
          ASSERT_TRUE(k.value()->upload(in).ok());
          ASSERT_TRUE(k.value()->execute().ok());
          auto out = make_outputs(p.value());
          ASSERT_TRUE(k.value()->download(out).ok());
          EXPECT_TRUE(out[0].guards_intact());
          const auto c = check_outputs(out, ref, tolerance_for(p.value()));
          EXPECT_EQ(c.status, Status::passed) << c.message;
          ++ran;
        }
      }
    }
  }
  EXPECT_GT(ran, 0);
}

// int8: u8 x s8 -> s32 is exact, also with k large enough for sums past 2^24 in magnitude.
TEST(VulkanGemm, Int8IsExact) {
  TB_REQUIRE_VULKAN(ctx);
  auto p = Problem::parse("gemm:m24n40k1100:s8").value();
  std::vector<Tensor> in = make_inputs(p, 2);
  for (std::int64_t i = 0; i < in[0].numel(); ++i) in[0].set(i, 255 - (i % 7));
  for (std::int64_t i = 0; i < in[1].numel(); ++i) in[1].set(i, (i % 3) ? -128 : 127);
  auto ref = make_outputs(p);
  ASSERT_TRUE(reference_compute(p, in, ref).ok());
  for (const auto& cfg : vulkan::gemm_candidates(*ctx, *p.as<GemmDesc>(), p.dtype)) {
    SCOPED_TRACE(cfg.str());
    vulkan::GemmPrepareOptions po;
    po.config = cfg;
    auto k = vulkan::prepare_gemm(ctx, p, po);
    ASSERT_TRUE(k.ok()) << k.error().message;
    ASSERT_TRUE(k.value()->upload(in).ok());
    ASSERT_TRUE(k.value()->execute().ok());
    auto out = make_outputs(p);
    ASSERT_TRUE(k.value()->download(out).ok());
    const auto* got = out[0].data<std::int32_t>();
    const auto* want = ref[0].data<std::int32_t>();
    std::int64_t bad = 0;
    for (std::int64_t i = 0; i < out[0].numel(); ++i) bad += got[i] != want[i];
    EXPECT_EQ(bad, 0);
  }
}

// ---- the tuner: only validated candidates, creation time weighed and reported
// --------------------
TEST(VulkanGemm, TunerWeighsCreationAndReportsBoth) {
  TB_REQUIRE_VULKAN(ctx);
  // Small enough that the candidates are the small blocks (up to 16 x 16 on lavapipe), each
  // compiled twice (cold and warm): a 32 x 32 block's cold compile alone took 15 s.
  auto p = Problem::parse("gemm:m8n8k50:f32+bias").value();
  vulkan::TuneOptions o;
  o.persist = false;
  o.budget_s = 60;
  o.reps = 2;
  auto r = vulkan::tune_gemm(ctx, p, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_GE(r->tried.size(), 2u);  // a choice was weighed
  const vulkan::TuneEntry* best = nullptr;
  for (const auto& e : r->tried) {
    EXPECT_GT(e.gflops, 0) << e.config.str();
    EXPECT_GT(e.create_s, 0) << e.config.str();
    EXPECT_GT(e.create_warm_s, 0) << e.config.str();
    EXPECT_NEAR(e.score_s, e.create_warm_s + o.runs * e.run_s, 1e-9) << e.config.str();
    if (!best || e.score_s < best->score_s) best = &e;
  }
  EXPECT_EQ(best->config, r->best);
  // Ranking by run time alone is also possible (runs = 0).
  o.runs = 0;
  o.budget_s = 0;  // one candidate: the default
  auto r0 = vulkan::tune_gemm(ctx, p, o);
  ASSERT_TRUE(r0.ok());
  EXPECT_EQ(r0->tried.size(), 1u);
}

// A stored winner is what prepare_gemm (and the graphs) then choose for that shape class; the
// kernel says so; Backend::tune stores a validated winner (a pointwise conv: its GEMM's).
TEST(VulkanGemm, StoredWinnerIsChosenAndReported) {
  TB_REQUIRE_VULKAN(ctx);
  auto mem = std::make_shared<MemoryTuneStore>();
  set_tune_store(mem);
  const auto p = Problem::parse("gemm:m40n72k24:f32+bias").value();
  const GemmDesc& g = *p.as<GemmDesc>();
  std::string source;
  const auto def = vulkan::chosen_gemm_config(*ctx, g, p.dtype, &source);
  EXPECT_EQ(source, "default");
  Backend* b = test::backend("vulkan");
  const auto key = b->tune_key(p, 0);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->shape_class, "m64n128k32:f32");
  // conv 1x1 over 5 x 8 pixels, 24 -> 72 channels: the same GEMM shape.
  EXPECT_EQ(b->tune_key(Problem::parse("conv:n1c24h5w8k72r1s1:f32+bias").value(), 0), key);
  EXPECT_FALSE(b->tune_key(Problem::parse("attn:h2q8s8d16:f32").value(), 0));
  vulkan::GemmConfig other{vulkan::GemmShader::reg, 4, 8, 8, 1};
  if (other == def) other = {vulkan::GemmShader::reg, 8, 8, 8, 1};
  TuneWinner w;
  w.key = *key;
  w.config = other.str();
  ASSERT_TRUE(mem->put(w).ok());
  EXPECT_EQ(vulkan::chosen_gemm_config(*ctx, g, p.dtype, &source), other);
  EXPECT_EQ(source, "tuned");
  auto k = b->prepare(p, {});
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k.value()->kernel_config()->name, other.str());
  EXPECT_EQ(k.value()->kernel_config()->source, "tuned");
  const auto o = test::run_and_check("vulkan", p);
  EXPECT_EQ(o.status, Status::passed) << o.message;
  // No time budget: only the default (always first) is tried, validated and timed.
  TuneRequest r;
  r.budget_s = 0;
  auto t = b->tune(p, r);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->winner.config, def.str());
  EXPECT_EQ(t->winner.default_config, def.str());
  EXPECT_EQ(t->winner.key, *key);
  ASSERT_FALSE(t->candidates.empty());
  EXPECT_EQ(t->candidates[0].status, Status::passed);
  for (std::size_t i = 1; i < t->candidates.size(); ++i)
    EXPECT_EQ(t->candidates[i].status, Status::skipped);
  EXPECT_EQ(mem->get(*key)->config, def.str());
  set_tune_store(nullptr);
}

// ---- attention: every fused variant (blk default, reg, generic) on odd, causal, GQA shapes -----
TEST(VulkanAttention, EveryVariantMatchesReference) {
  TB_REQUIRE_VULKAN(ctx);
  for (const char* variant : {"", "blk", "reg", "generic"}) {
    if (*variant) setenv("TB_VULKAN_ATTENTION", variant, 1);
    for (const char* s :
         {"attn:h4kv2q31s67d32:f32", "attn:b2h4kv2q17s100d64c1:f32", "attn:h3q13s200d128c1:f32",
          "attn:h2q1s131d64:f32", "attn:h2q5s9d40c1:f32"}) {
      SCOPED_TRACE(std::string(variant) + " " + s);
      auto p = Problem::parse(s);
      ASSERT_TRUE(p.ok()) << s;
      const auto o = test::run_and_check("vulkan", p.value());
      EXPECT_EQ(o.status, Status::passed) << o.message;
    }
    unsetenv("TB_VULKAN_ATTENTION");
  }
}

// ---- GELU: erf implemented in the shader, checked over [-6, 6] ---------------------------------
TEST(VulkanGemm, GeluErfAccurate) {
  TB_REQUIRE_VULKAN(ctx);
  auto p = Problem::parse("gemm:m1024n1k1:f32+gelu");
  ASSERT_TRUE(p.ok());
  std::vector<Tensor> in = make_inputs(p.value(), 1);
  for (int i = 0; i < 1024; ++i) in[0].set(i, -6.0 + 12.0 * i / 1023.0);
  in[1].set(0, 1.0);
  auto ref = make_outputs(p.value());
  ASSERT_TRUE(reference_compute(p.value(), in, ref).ok());
  auto k = vulkan::prepare_gemm(ctx, p.value(), {});
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_TRUE(k.value()->upload(in).ok());
  ASSERT_TRUE(k.value()->execute().ok());
  auto out = make_outputs(p.value());
  ASSERT_TRUE(k.value()->download(out).ok());
  double worst = 0;
  for (int i = 0; i < 1024; ++i) worst = std::max(worst, std::abs(out[0].at(i) - ref[0].at(i)));
  EXPECT_LT(worst, 2e-6);
}

// ---- pipelines: in-process reuse and the on-disk VkPipelineCache --------------------------------
std::vector<float> run(PreparedKernel& k, const Problem& p, const std::vector<Tensor>& in) {
  EXPECT_TRUE(k.upload(in).ok());
  EXPECT_TRUE(k.execute().ok());
  auto out = make_outputs(p);
  EXPECT_TRUE(k.download(out).ok());
  const float* f = out[0].data<float>();
  return {f, f + out[0].numel()};
}

double detail(const PreparedKernel& k, const std::string& name) {
  for (auto& [n, v] : k.details())
    if (n == name) return v;
  return -99;
}

TEST(VulkanGemm, SecondPrepareReusesPipelineWithIdenticalResults) {
  TB_REQUIRE_VULKAN(ctx);
  auto p = Problem::parse("gemm:m45n77k33:f32+bias+relu").value();
  const auto in = make_inputs(p, 5);
  vulkan::GemmPrepareOptions po;
  po.config = vulkan::GemmConfig{vulkan::GemmShader::reg, 4, 8, 8, 1};
  auto k1 = vulkan::prepare_gemm(ctx, p, po);
  ASSERT_TRUE(k1.ok()) << k1.error().message;
  auto k2 = vulkan::prepare_gemm(ctx, p, po);
  ASSERT_TRUE(k2.ok()) << k2.error().message;
  EXPECT_EQ(detail(*k2.value(), "pipeline_reused"), 1);
  EXPECT_EQ(detail(*k2.value(), "pipeline_cache_hit"), 1);
  EXPECT_GE(detail(*k1.value(), "pipeline_create_s"), 0);
  const auto a = run(*k1.value(), p, in), b = run(*k2.value(), p, in);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
}

TEST(VulkanGemm, PipelineCachePersistedPerDevice) {
  TB_REQUIRE_VULKAN(shared);
  const auto dir =
      std::filesystem::temp_directory_path() / ("tb_vk_cache_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ASSERT_EQ(setenv("XDG_CACHE_HOME", dir.c_str(), 1), 0);
  auto inst = vulkan::shared_instance();
  ASSERT_TRUE(inst.ok());
  auto p = Problem::parse("gemm:m20n30k40:f32").value();
  const auto in = make_inputs(p, 9);
  vulkan::GemmPrepareOptions po;
  po.config = vulkan::GemmConfig{vulkan::GemmShader::reg, 1, 4, 4, 2};
  po.reuse_pipeline = false;  // through the VkPipelineCache every time
  std::vector<float> first;
  {
    auto c1 = vulkan::Context::open(inst.value(), 0);
    ASSERT_TRUE(c1.ok()) << c1.error().message;
    EXPECT_EQ(c1.value()->pipeline_cache_bytes_loaded(), 0u);  // empty directory
    auto k = vulkan::prepare_gemm(c1.value(), p, po);
    ASSERT_TRUE(k.ok()) << k.error().message;
    first = run(*k.value(), p, in);
  }
  const auto path = dir / "tierbench" / "vulkan";
  ASSERT_TRUE(std::filesystem::exists(path));
  bool found = false;
  for (auto& e : std::filesystem::directory_iterator(path))
    if (e.path().filename().string().rfind("pipeline_cache_", 0) == 0 && e.file_size() > 0)
      found = true;
  EXPECT_TRUE(found) << "no pipeline cache file under " << path;
  {
    auto c2 = vulkan::Context::open(inst.value(), 0);
    ASSERT_TRUE(c2.ok());
    EXPECT_GT(c2.value()->pipeline_cache_bytes_loaded(), 0u);
    auto k = vulkan::prepare_gemm(c2.value(), p, po);
    ASSERT_TRUE(k.ok()) << k.error().message;
    const auto again = run(*k.value(), p, in);
    ASSERT_EQ(first.size(), again.size());
    EXPECT_EQ(std::memcmp(first.data(), again.data(), first.size() * 4), 0);
  }
  unsetenv("XDG_CACHE_HOME");
  std::filesystem::remove_all(dir);
}

// ---- timing, devices, honest support answers ----------------------------------------------------
TEST(VulkanGemm, ExecuteUsesDeviceTimestamps) {
  TB_REQUIRE_VULKAN(ctx);
  auto p = make_gemm(64, 64, 64);
  auto k = vulkan::prepare_gemm(ctx, p, {});
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(k.value()->upload(make_inputs(p, 1)).ok());
  auto t = k.value()->execute();
  ASSERT_TRUE(t.ok());
  EXPECT_GT(t->seconds, 0);
  EXPECT_LT(t->seconds, 10);
  EXPECT_EQ(t->source, ctx->info().timestamp_valid_bits ? TimingSource::device_timestamps
                                                        : TimingSource::host_clock);
  const auto m = k.value()->memory();
  EXPECT_GE(m.device_bytes, 3u * 64 * 64 * 4);
  EXPECT_GE(m.uploaded_bytes, 2u * 64 * 64 * 4);
}

TEST(VulkanGemm, ExecuteBeforeUploadIsAnError) {
  TB_REQUIRE_VULKAN(ctx);
  auto k = vulkan::prepare_gemm(ctx, make_gemm(8, 8, 8), {});
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(k.value()->execute().ok());
  std::vector<Tensor> wrong = {Tensor(DType::f32, {1, 8, 9}), Tensor(DType::f32, {1, 8, 8})};
  EXPECT_FALSE(k.value()->upload(wrong).ok());
}

TEST(VulkanBackend, DevicesHaveRealProperties) {
  Backend* b = test::backend("vulkan");
  ASSERT_NE(b, nullptr);
  if (!b->availability().available) GTEST_SKIP() << b->availability().reason;
  const auto devs = b->devices();
  ASSERT_FALSE(devs.empty());
  for (const auto& d : devs) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_NE(d.type, "");
    EXPECT_EQ(d.api_version.rfind("Vulkan 1.", 0), 0u) << d.api_version;
    EXPECT_FALSE(d.driver.empty());
    EXPECT_GT(d.max_workgroup_size, 0);
    EXPECT_GT(d.subgroup_size, 0);
    EXPECT_GT(d.global_memory_bytes, 0u);
  }
  EXPECT_NE(b->version().find("Vulkan"), std::string::npos);
}

TEST(VulkanBackend, UnsupportedIsHonest) {
  Backend* b = test::backend("vulkan");
  ASSERT_NE(b, nullptr);
  if (!b->availability().available) GTEST_SKIP() << b->availability().reason;
  // bf16 runs everywhere (storage in words, f32 arithmetic); these do not: an int8 attention, a
  // bf16 head dim the register shaders cannot take.
  for (const char* s : {"attn:h2q8s8d16:s8", "attn:h2q8s8d13:bf16"}) {
    auto p = Problem::parse(s);
    ASSERT_TRUE(p.ok()) << s;
    const auto sup = b->supports(p.value(), 0);
    EXPECT_FALSE(sup.supported) << s;
    EXPECT_FALSE(sup.reason.empty());
    EXPECT_FALSE(b->prepare(p.value(), {}).ok()) << s;
  }
  // f16 needs the device's 16-bit storage and float16 features: supported exactly when present,
  // else the reason names them. int8 uses 32-bit words only: always supported.
  const bool fp16 = b->devices()[0].fp16;
  const auto f16 = b->supports(Problem::parse("gemm:m8n8k8:f16").value(), 0);
  EXPECT_EQ(f16.supported, fp16) << f16.reason;
  if (!fp16) {
    EXPECT_NE(f16.reason.find("storageBuffer16BitAccess"), std::string::npos);
  }
  EXPECT_TRUE(b->supports(Problem::parse("gemm:m8n8k8:s8").value(), 0).supported);
  EXPECT_FALSE(b->supports(make_gemm(8, 8, 8), 7).supported);  // no such device
}

TEST(VulkanGemm, ConfigParseRejectsGarbage) {
  EXPECT_FALSE(vulkan::GemmConfig::parse("reg:tm0tn4:8x1"));
  EXPECT_FALSE(vulkan::GemmConfig::parse("bogus"));
  EXPECT_FALSE(vulkan::GemmConfig::parse("naive:0x4"));
  EXPECT_FALSE(vulkan::GemmConfig::parse("reg:tm5tn3:8x1"));  // no such compiled variant
  EXPECT_FALSE(vulkan::GemmConfig::parse("sg:tm4tn4:8x1"));
  EXPECT_TRUE(vulkan::GemmConfig::parse("tiled64"));
  EXPECT_TRUE(vulkan::GemmConfig::parse("sg:tm32tn8:8x1"));
}

}  // namespace
}  // namespace tb

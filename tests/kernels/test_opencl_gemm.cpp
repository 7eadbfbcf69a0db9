// OpenCL GEMM beyond the shared suite: batch, transposes and every epilogue on every kernel
// (packed, tiled; for u8 x s8 the packed one and gemm_s8) and on odd packed configurations, in
// f32, f16 and bf16 (storage: one K block and several, through the f32 workspace) and u8 x s8
// with and without +scales (several exact K blocks through the s32 workspace); int8 sums beyond
// f32's exact range; the integer dot products where the device has them, emulated elsewhere;
// the program binary cache; behaviour without an OpenCL driver.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>

#include <unistd.h>

#include "backend_fixture.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_tune.h"
#include "reference/reference_backend.h"

namespace tb {
namespace {

bool opencl_available(std::string* why) {
  Backend* b = test::backend("opencl");
  if (!b) return *why = "no opencl backend registered", false;
  auto a = b->availability();
  *why = a.reason;
  return a.available;
}

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value.empty())
      unsetenv(name);
    else
      setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// "" = the configuration the backend selects by itself (packed on CPU devices, tiled on GPUs).
const std::vector<std::string> kConfigs = {"", "tiled", "packed:mr3nv1kc7rb3o1",
                                           "packed:mr5nv3kc0rb1o0", "packed:mr8nv2kc64rb2o0"};

const std::vector<std::string> kProblems = {
    "gemm:b3m17n31k13:f32+bias+relu",     "gemm:b2m33n47k70ta1:f32+bias+gelu",
    "gemm:m65n33k129tb1:f32+silu+res",    "gemm:b2m9n100k31ta1tb1:f32+bias+relu6+res",
    "gemm:m130n70k300:f32+bias+gelu+res", "gemm:b5m1n17k1:f32+res",
    "gemm:m100n1k77tb1:f32+bias+silu",    "gemm:m16n32k256:f32+relu",
    "gemm:b2m33n47k70ta1:f16+bias+gelu",  "gemm:m65n33k129tb1:f16+silu+res",
    "gemm:m130n70k300:f16+bias+relu+res", "gemm:b2m9n100k31ta1tb1:f16+res",
};

// bf16 and u8 x s8 (with and without +scales; K 1100: several exact blocks) on the selected
// kernel, the GPU kernels (tiled; gemm_s8 for u8 x s8) and one odd packed configuration (fewer
// configurations than above: each type is one more program build per configuration).
const std::vector<std::string> kTypedConfigs = {"", "tiled", "packed:mr3nv1kc7rb3o1"};
const std::vector<std::string> kTypedProblems = {
    "gemm:b2m33n47k70ta1:bf16+bias+gelu",
    "gemm:m65n33k129tb1:bf16+silu+res",
    "gemm:b2m17n31k13:s8",
    "gemm:m33n47k70ta1tb1:s8+bias+relu+res",
    "gemm:m40n30k1100tb1:s8+scales+bias+relu",
    "gemm:b2m9n20k7:u8+scales+gelu+res",
};

// The tiled kernel's other tile sizes and K steps (the GPU tuner's candidates), on odd shapes.
const std::vector<std::string> kTiledConfigs = {"tiled:w2k8", "tiled:w8k32", "tiled:w4k8"};
const std::vector<std::string> kTiledProblems = {
    "gemm:b2m9n100k31ta1tb1:f32+bias+relu6+res",
    "gemm:m130n70k300:f32+bias+gelu+res",
    "gemm:m65n33k129tb1:f16+silu+res",
};

class OpenclGemmTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(OpenclGemmTest, MatchesReference) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  const auto& [config, problem] = GetParam();
  ScopedEnv env("TB_OPENCL_GEMM", config);
  auto p = Problem::parse(problem);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto o = test::run_and_check("opencl", p.value(), 7);
  if (o.status == Status::unsupported) GTEST_SKIP() << o.message;
  EXPECT_EQ(o.status, Status::passed)
      << o.message << " (max rel err " << o.check.max_rel_err << ")";
}

std::string config_problem_name(
    const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
  std::string s = std::get<0>(info.param);
  s = (s.empty() ? std::string("auto") : s) + "_" + std::get<1>(info.param);
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Shapes, OpenclGemmTest,
                         ::testing::Combine(::testing::ValuesIn(kConfigs),
                                            ::testing::ValuesIn(kProblems)),
                         config_problem_name);
INSTANTIATE_TEST_SUITE_P(Tiles, OpenclGemmTest,
                         ::testing::Combine(::testing::ValuesIn(kTiledConfigs),
                                            ::testing::ValuesIn(kTiledProblems)),
                         config_problem_name);
INSTANTIATE_TEST_SUITE_P(Types, OpenclGemmTest,
                         ::testing::Combine(::testing::ValuesIn(kTypedConfigs),
                                            ::testing::ValuesIn(kTypedProblems)),
                         config_problem_name);

double detail(const PreparedKernel& k, const std::string& name) {
  for (const auto& [n, v] : k.details())
    if (n == name) return v;
  return -1;
}

struct RunResult {
  std::vector<std::pair<std::string, double>> details;
  Tensor out;
  Timing timing;
  MemoryStats mem;
};

RunResult run_once(const Problem& p, const std::vector<Tensor>& inputs) {
  RunResult r;
  auto k = test::backend("opencl")->prepare(p, PrepareOptions{});
  EXPECT_TRUE(k.ok()) << k.error().message;
  if (!k) return r;
  EXPECT_TRUE(k.value()->upload(inputs).ok());
  auto t = k.value()->execute();
  EXPECT_TRUE(t.ok()) << t.error().message;
  if (t) r.timing = t.value();
  auto outs = make_outputs(p);
  EXPECT_TRUE(k.value()->download(outs).ok());
  r.out = outs[0];
  r.details = k.value()->details();
  r.mem = k.value()->memory();
  EXPECT_EQ(detail(*k.value(), "program_build_s") >= 0, true);
  return r;
}

double find(const std::vector<std::pair<std::string, double>>& d, const std::string& name) {
  for (const auto& [n, v] : d)
    if (n == name) return v;
  ADD_FAILURE() << "missing detail " << name;
  return -1;
}

TEST(OpenclGemm, SecondPrepareHitsTheBinaryCacheWithIdenticalResults) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("tb_ocl_cache_" + std::to_string(getpid()));
  fs::remove_all(dir);
  ScopedEnv env("XDG_CACHE_HOME", dir.string());
  ScopedEnv cfg("TB_OPENCL_GEMM", "");
  auto p = Problem::parse("gemm:b2m37n45k51ta1:f32+bias+silu+res");
  ASSERT_TRUE(p.ok());
  const auto inputs = make_inputs(p.value(), 11);
  const RunResult cold = run_once(p.value(), inputs);
  const RunResult warm = run_once(p.value(), inputs);
  EXPECT_EQ(find(cold.details, "program_cache_hit"), 0.0);
  EXPECT_EQ(find(warm.details, "program_cache_hit"), 1.0);
  EXPECT_GT(find(cold.details, "program_build_s"), 0.0);
  ASSERT_EQ(cold.out.bytes(), warm.out.bytes());
  EXPECT_EQ(std::memcmp(cold.out.raw(), warm.out.raw(), cold.out.bytes()), 0);
  EXPECT_TRUE(fs::exists(dir / "tierbench" / "opencl"));
  fs::remove_all(dir);
}

TEST(OpenclGemm, ReportsProfilingTimeAndMemory) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  ScopedEnv cfg("TB_OPENCL_GEMM", "");
  const Problem p = make_gemm(64, 48, 80);
  const auto inputs = make_inputs(p, 3);
  const RunResult r = run_once(p, inputs);
  EXPECT_EQ(r.timing.source, TimingSource::profiling_events);
  EXPECT_GT(r.timing.seconds, 0.0);
  EXPECT_EQ(r.mem.uploaded_bytes, inputs[0].bytes() + inputs[1].bytes());
  EXPECT_GE(r.mem.device_bytes, inputs[0].bytes() + inputs[1].bytes() + r.out.bytes());
}

TEST(OpenclGemm, SaysUnsupportedForOtherTypes) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  auto p = Problem::parse("gemm:m8n8k8:s32");
  ASSERT_TRUE(p.ok());
  const Support s = test::backend("opencl")->supports(p.value(), 0);
  EXPECT_FALSE(s.supported);
  EXPECT_NE(s.reason.find("s32"), std::string::npos) << s.reason;
  EXPECT_FALSE(test::backend("opencl")->supports(make_gemm(8, 8, 8), 99).supported);
}

// Runs p on the kernel prepare_gemm builds for cfg and returns its outputs and details.
std::pair<std::vector<Tensor>, std::vector<std::pair<std::string, double>>> run_gemm(
    const std::shared_ptr<ocl::DeviceCtx>& d, const Problem& p, const ocl::GemmConfig& cfg,
    const std::vector<Tensor>& in) {
  auto out = make_outputs(p);
  auto k = ocl::prepare_gemm(d, p, cfg);
  EXPECT_TRUE(k.ok()) << p.str() << ": " << (k.ok() ? "" : k.error().message);
  if (!k) return {};
  EXPECT_TRUE(k.value()->upload(in).ok()) << p.str();
  EXPECT_TRUE(k.value()->execute().ok()) << p.str();
  EXPECT_TRUE(k.value()->download(out).ok()) << p.str();
  return {std::move(out), k.value()->details()};
}

// gemm_s8 (the GPU kernel, forced here by the tiled configuration) uses the integer dot
// products exactly where the device has them, and its emulation (TB_OPENCL_INT8_EMULATE=1 forces
// it) gives the same exact results.
TEST(OpenclGemm, Int8DotProductsWhereTheDeviceHasThem) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  auto d = ocl::open_device(0);
  ASSERT_TRUE(d.ok()) << d.error().message;
  const bool has_dot = ocl::int8_dot_support(d.value()->device).supported;
  ocl::GemmConfig tiled;
  tiled.packed = false;
  for (const char* s : {"gemm:m33n47k70ta1tb1:s8+bias+relu+res", "gemm:b3m5n66k1:s8+res",
                        "gemm:m40n3k257tb1:u8+scales+bias"}) {
    const Problem p = Problem::parse(s).value();
    const auto in = make_inputs(p, 13);
    auto ref = make_outputs(p);
    ASSERT_TRUE(reference_compute(p, in, ref).ok()) << s;
    auto [out, details] = run_gemm(d.value(), p, tiled, in);
    double dot = -1;
    for (const auto& [n, v] : details)
      if (n == "int8_dot") dot = v;
    EXPECT_EQ(dot, has_dot ? 1.0 : 0.0) << s;
    EXPECT_EQ(check_outputs(out, ref, tolerance_for(p)).status, Status::passed) << s;
    ScopedEnv env("TB_OPENCL_INT8_EMULATE", "1");
    auto [emulated, d2] = run_gemm(d.value(), p, tiled, in);
    EXPECT_EQ(check_outputs(emulated, ref, tolerance_for(p)).status, Status::passed) << s;
  }
}

// u8 x s8 sums far beyond 2^24 (f32's exact integers) stay exact on every kernel: extreme
// operands (u8 near 255, s8 near -128 / 127) over K = 2000, compared element for element with
// sums computed here in 64-bit integers (the reference rounds its s32 output through f32 above
// 2^24).
TEST(OpenclGemm, Int8SumsAreExactBeyondFloatPrecision) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  auto d = ocl::open_device(0);
  ASSERT_TRUE(d.ok()) << d.error().message;
  const Problem p = Problem::parse("gemm:m7n19k2000tb1:s8").value();
  auto in = make_inputs(p, 5);
  std::mt19937 rng(9);
  for (std::int64_t i = 0; i < in[0].numel(); ++i) in[0].set(i, 253 + static_cast<int>(rng() % 3));
  for (std::int64_t i = 0; i < in[1].numel(); ++i)
    in[1].set(i, (i / 19) % 5 ? -128 + static_cast<int>(rng() % 2) : 127);
  const GemmDesc& g = *p.as<GemmDesc>();
  std::vector<std::int64_t> want(static_cast<std::size_t>(g.m * g.n), 0);
  for (std::int64_t i = 0; i < g.m; ++i)
    for (std::int64_t j = 0; j < g.n; ++j)
      for (std::int64_t k = 0; k < g.k; ++k)
        want[static_cast<std::size_t>(i * g.n + j)] +=
            static_cast<std::int64_t>(in[0].data<std::uint8_t>()[i * g.k + k]) *
            in[1].data<std::int8_t>()[j * g.k + k];
  ocl::GemmConfig tiled;
  tiled.packed = false;
  for (const ocl::GemmConfig& cfg : {ocl::GemmConfig{}, tiled}) {
    auto [out, details] = run_gemm(d.value(), p, cfg, in);
    ASSERT_EQ(out.size(), 1u);
    for (std::size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(out[0].data<std::int32_t>()[i], want[i]) << cfg.str() << " element " << i;
    EXPECT_GT(std::abs(want[0]), 1 << 24);
  }
}

TEST(OpenclGemm, DevicesHaveProperties) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  const auto devs = test::backend("opencl")->devices();
  ASSERT_FALSE(devs.empty());
  for (const auto& d : devs) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_FALSE(d.type.empty());
    EXPECT_NE(d.api_version.find("OpenCL"), std::string::npos);
    EXPECT_GT(d.compute_units, 0);
    EXPECT_GT(d.global_memory_bytes, 0u);
    EXPECT_GT(d.max_workgroup_size, 0);
  }
  EXPECT_NE(test::backend("opencl")->version().find("OpenCL"), std::string::npos);
}

// The GPU tuner (tiled kernel), run on whatever device this machine has: every candidate is
// validated first, the default is the anchor, and the winner is a tiled configuration that
// parses back; bad tile strings are refused.
TEST(OpenclTune, TiledKernelTunesAmongValidatedTiles) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  OpenclTuneOptions o;
  o.tiled = true, o.quick = true, o.persist = false, o.size = 128, o.budget_s = 120;
  auto r = tune_opencl_gemm(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->winner.default_config, "tiled");
  ASSERT_FALSE(r->candidates.empty());
  EXPECT_EQ(r->candidates[0].config, "tiled");
  int passed = 0;
  for (const auto& c : r->candidates) {
    passed += c.status == Status::passed;
    EXPECT_TRUE(c.status == Status::passed || c.status == Status::skipped)
        << c.config << ": " << c.message;
  }
  EXPECT_GE(passed, 2);
  const auto w = ocl::GemmConfig::parse(r->winner.config);
  ASSERT_TRUE(w.has_value()) << r->winner.config;
  EXPECT_FALSE(w->packed);
  EXPECT_EQ(w->str(), r->winner.config);
  for (const char* bad : {"tiled:w3k16", "tiled:w16k16", "tiled:w8k64", "tiled:w1k8", "tiled:w4"})
    EXPECT_FALSE(ocl::GemmConfig::parse(bad).has_value()) << bad;
}

// With no budget the tuner still measures its first candidate, the default (tierbench tune's
// first pass measures every class's default this way): validated, timed and the winner.
TEST(OpenclTune, NoBudgetStillMeasuresTheDefault) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  OpenclTuneOptions o;
  o.quick = true, o.persist = false, o.size = 128, o.budget_s = 0;
  auto r = tune_opencl_gemm(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_GE(r->candidates.size(), 2u);
  EXPECT_EQ(r->candidates[0].status, Status::passed) << r->candidates[0].message;
  EXPECT_GT(r->candidates[0].gflops, 0);
  for (std::size_t i = 1; i < r->candidates.size(); ++i)
    EXPECT_EQ(r->candidates[i].status, Status::skipped) << r->candidates[i].config;
  EXPECT_EQ(r->winner.config, r->candidates[0].config);
  EXPECT_EQ(r->winner.config, r->winner.default_config);
}

// A stored winner is what every GEMM and pointwise conv then runs (one key for every shape),
// and the prepared kernel says it was tuned.
TEST(OpenclTune, StoredWinnerIsSelectedAndReported) {
  std::string why;
  if (!opencl_available(&why)) GTEST_SKIP() << why;
  auto d = ocl::open_device(0);
  ASSERT_TRUE(d.ok()) << d.error().message;
  if (!d.value()->is_cpu) GTEST_SKIP() << "only the packed (CPU) kernel is tunable";
  auto mem = std::make_shared<MemoryTuneStore>();
  set_tune_store(mem);
  EXPECT_EQ(ocl::select_gemm_config(*d.value()).source, "default");
  Backend* b = test::backend("opencl");
  const auto key = b->tune_key(make_gemm(300, 200, 100), 0);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->shape_class, "*");
  EXPECT_EQ(b->tune_key(make_gemm(8, 8, 8), 0), key);
  EXPECT_EQ(b->tune_key(Problem::parse("conv:n1c32h7w7k16r1s1:f32").value(), 0), key);
  EXPECT_FALSE(b->tune_key(Problem::parse("conv:n1c32h7w7k16r3s3p1:f32").value(), 0));
  EXPECT_FALSE(b->tune_key(Problem::parse("attn:h2q8s8d16:f32").value(), 0));
  TuneWinner w;
  w.key = *key;
  w.config = "packed:mr6nv2kc512rb1o1";
  ASSERT_TRUE(mem->put(w).ok());
  const auto c = ocl::select_gemm_config(*d.value());
  EXPECT_EQ(c.str(), w.config);
  EXPECT_EQ(c.source, "tuned");
  auto k = b->prepare(make_gemm(33, 47, 65), {});
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_TRUE(k.value()->kernel_config().has_value());
  EXPECT_EQ(k.value()->kernel_config()->name, w.config);
  EXPECT_EQ(k.value()->kernel_config()->source, "tuned");
  const auto o = test::run_and_check("opencl", make_gemm(33, 47, 65));
  EXPECT_EQ(o.status, Status::passed) << o.message;
  set_tune_store(nullptr);
}

// Runs in a child process whose ICD loader sees no vendor: availability must say why, and
// nothing may crash.
TEST(OpenclGemm, UnavailableWithoutDriver) {
  if (std::getenv("TB_OPENCL_CHILD_NO_ICD")) {
    Backend* b = test::backend("opencl");
    ASSERT_NE(b, nullptr);
    const auto a = b->availability();
    EXPECT_FALSE(a.available);
    EXPECT_FALSE(a.reason.empty());
    EXPECT_TRUE(b->devices().empty());
    EXPECT_FALSE(b->supports(make_gemm(4, 4, 4), 0).supported);
    EXPECT_FALSE(b->prepare(make_gemm(4, 4, 4), PrepareOptions{}).ok());
    return;
  }
  namespace fs = std::filesystem;
  const fs::path empty = fs::temp_directory_path() / ("tb_ocl_noicd_" + std::to_string(getpid()));
  fs::create_directories(empty);
  const std::string cmd = "TB_OPENCL_CHILD_NO_ICD=1 OCL_ICD_VENDORS=" + empty.string() + " /proc/" +
                          std::to_string(getpid()) +
                          "/exe --gtest_filter=OpenclGemm.UnavailableWithoutDriver >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  fs::remove_all(empty);
  EXPECT_EQ(rc, 0) << "child with an empty OCL_ICD_VENDORS failed: " << cmd;
}

}  // namespace
}  // namespace tb

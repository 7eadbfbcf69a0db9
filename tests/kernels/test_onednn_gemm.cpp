// The oneDNN backend's GEMM beyond test_gemm: data types, batch, transposes, fused epilogues,
// and the load-cost details (primitive creation, weight reorder, primitive cache).
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "backend_fixture.h"
#include "reference/reference_backend.h"

namespace tb {
namespace {

Backend* onednn() {
  Backend* b = test::backend("onednn");
  return b && b->availability().available ? b : nullptr;
}

class OnednnGemm : public ::testing::TestWithParam<std::string> {};

TEST_P(OnednnGemm, MatchesReference) {
  if (!onednn()) GTEST_SKIP() << "onednn unavailable";
  auto p = Problem::parse(GetParam());
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto o = test::run_and_check("onednn", p.value(), 7);
  // f16 needs AVX512-FP16 in oneDNN 2.6: unsupported elsewhere, never an error.
  if (o.status == Status::unsupported) GTEST_SKIP() << o.message;
  EXPECT_EQ(o.status, Status::passed)
      << o.message << " (max rel err " << o.check.max_rel_err << ")";
}

const std::vector<std::string> kProblems = {
    // epilogues, one at a time and together
    "gemm:m31n47k29:f32+bias",
    "gemm:m31n47k29:f32+relu",
    "gemm:m31n47k29:f32+relu6",
    "gemm:m31n47k29:f32+gelu",
    "gemm:m31n47k29:f32+silu",
    "gemm:m31n47k29:f32+res",
    "gemm:m64n48k96:f32+bias+gelu+res",
    "gemm:m1n1000k1024:f32+bias+relu",
    // transposes and batch
    "gemm:m17n33k65ta1:f32",
    "gemm:m17n33k65tb1:f32",
    "gemm:m17n33k65ta1tb1:f32+bias",
    "gemm:b3m17n31k13:f32",
    "gemm:b4m64n64k64ta1tb1:f32+bias+silu+res",
    "gemm:b2m1n129k257tb1:f32",
    // bf16 x bf16 -> f32
    "gemm:m1n1k1:bf16",
    "gemm:m61n67k257:bf16",
    "gemm:m128n128k128:bf16+bias+gelu+res",
    "gemm:b2m33n17k64tb1:bf16+relu",
    // u8 x s8 -> s32
    "gemm:m1n1k1:s8",
    "gemm:m61n67k257:u8",
    "gemm:m64n64k1024:s8+relu",
    "gemm:m17n31k13tb1:s8+res",
    "gemm:b3m9n10k11:s8",
    "gemm:m33n65k100:s8+bias+relu",
    // u8 x s8 -> f32, dequantised by a_scale * b_scale[n] (+scales)
    "gemm:m1n1k1:s8+scales",
    "gemm:m61n67k257:u8+scales",
    "gemm:m31n47k29:s8+scales+bias",
    "gemm:m31n47k29:s8+scales+relu6",
    "gemm:m31n47k29:s8+scales+gelu",
    "gemm:m31n47k29:s8+scales+silu+res",
    "gemm:m64n64k1024:s8+scales+bias+relu",
    "gemm:m17n33k65ta1tb1:s8+scales+bias",
    "gemm:b3m9n10k11:u8+scales+bias+gelu+res",
    "gemm:b2m1n129k257tb1:s8+scales",
    // f16: supported only with AVX512-FP16
    "gemm:m32n32k32:f16",
};

INSTANTIATE_TEST_SUITE_P(Shapes, OnednnGemm, ::testing::ValuesIn(kProblems), [](const auto& info) {
  std::string s = info.param;
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
});

std::map<std::string, double> details_of(const PreparedKernel& k) {
  std::map<std::string, double> m;
  for (const auto& [name, v] : k.details()) m[name] = v;
  return m;
}

TEST(OnednnBackend, VersionNamesLibrary) {
  if (!onednn()) GTEST_SKIP();
  EXPECT_EQ(onednn()->version().rfind("oneDNN ", 0), 0u) << onednn()->version();
  ASSERT_EQ(onednn()->devices().size(), 1u);
  EXPECT_EQ(onednn()->devices()[0].type, "cpu");
}

TEST(OnednnBackend, ReportsLoadCostsAndCacheHits) {
  if (!onednn()) GTEST_SKIP();
  // A shape no other test in this binary uses, so that the first creation is a miss.
  const auto p = Problem::parse("gemm:m96n160k224:f32+bias+relu").value();
  const auto inputs = make_inputs(p, 3);
  for (int round = 0; round < 2; ++round) {
    auto k = onednn()->prepare(p, PrepareOptions{0, 1});
    ASSERT_TRUE(k.ok()) << k.error().message;
    ASSERT_TRUE(k.value()->upload(inputs).ok());
    const auto d = details_of(*k.value());
    ASSERT_TRUE(d.count("primitive_create_s") && d.count("reorder_s") &&
                d.count("primitive_cache_hit"));
    EXPECT_GT(d.at("primitive_create_s"), 0.0);
    EXPECT_GE(d.at("reorder_s"), 0.0);
    EXPECT_EQ(d.at("threads"), 1.0);
    if (d.at("primitive_cache_capacity") > 0) {
      EXPECT_EQ(d.at("primitive_cache_hit"), round == 1 ? 1.0 : 0.0);
    }
    EXPECT_GT(k.value()->memory().host_bytes, 0u);
    EXPECT_EQ(k.value()->memory().uploaded_bytes, 96u * 224 * 4 + 224u * 160 * 4 + 160u * 4);
  }
}

TEST(OnednnBackend, RepeatedExecuteIsStable) {
  if (!onednn()) GTEST_SKIP();
  const auto p = Problem::parse("gemm:b2m40n50k60tb1:f32+bias+silu+res").value();
  const auto inputs = make_inputs(p, 11);
  auto ref = make_outputs(p);
  ASSERT_TRUE(reference_compute(p, inputs, ref).ok());
  auto k = onednn()->prepare(p, PrepareOptions{0, 2});
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_TRUE(k.value()->upload(inputs).ok());
  for (int i = 0; i < 3; ++i) {
    auto t = k.value()->execute();
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_GT(t.value().seconds, 0.0);
  }
  auto out = make_outputs(p);
  ASSERT_TRUE(k.value()->download(out).ok());
  EXPECT_EQ(check_outputs(out, ref, tolerance_for(p)).status, Status::passed);
}

TEST(OnednnBackend, UploadInputReplacesOneInput) {
  if (!onednn()) GTEST_SKIP();
  // Replace A (activations), then B (weights, which go through the reorder): each run must
  // match the reference computed on the inputs as they are after the replacement.
  const auto p = Problem::parse("gemm:m20n36k52:f32+bias").value();
  auto inputs = make_inputs(p, 21);
  auto k = onednn()->prepare(p, PrepareOptions{});
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_TRUE(k.value()->upload(inputs).ok());
  const auto fresh = make_inputs(p, 22);
  for (std::size_t i : {0u, 1u}) {
    inputs[i] = fresh[i];
    auto r = k.value()->upload_input(i, inputs[i]);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(k.value()->execute().ok());
    auto ref = make_outputs(p), out = make_outputs(p);
    ASSERT_TRUE(reference_compute(p, inputs, ref).ok());
    ASSERT_TRUE(k.value()->download(out).ok());
    EXPECT_EQ(check_outputs(out, ref, tolerance_for(p)).status, Status::passed)
        << "after replacing input " << i;
  }
  EXPECT_FALSE(k.value()->upload_input(7, inputs[0]).ok());
}

// bind(): the kernel reads an input from, and writes its output to, memory the caller holds,
// without a copy; a write to that memory before the next execute is what the kernel reads. A
// weight that goes through a reorder, a wrong size or an unknown index is refused.
TEST(OnednnBackend, BindReadsAndWritesCallerMemory) {
  if (!onednn()) GTEST_SKIP();
  const auto p = Problem::parse("attn:h4kv2q1s24d16c1:f32").value();
  auto inputs = make_inputs(p, 41);
  auto k = onednn()->prepare(p, PrepareOptions{});
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_TRUE(k.value()->upload(inputs).ok());
  auto out = make_outputs(p);
  ASSERT_TRUE(k.value()->bind(0, out[0].raw(), out[0].bytes(), true));
  for (std::size_t i = 0; i < inputs.size(); ++i)
    ASSERT_TRUE(k.value()->bind(i, inputs[i].raw(), inputs[i].bytes(), false)) << "input " << i;
  const auto fresh = make_inputs(p, 42);
  for (int round = 0; round < 2; ++round) {
    if (round == 1)  // the caller's memory changes in place: the next execute reads it
      for (std::size_t i = 0; i < inputs.size(); ++i)
        std::memcpy(inputs[i].raw(), fresh[i].raw(), inputs[i].bytes());
    ASSERT_TRUE(k.value()->execute().ok());
    auto ref = make_outputs(p);
    ASSERT_TRUE(reference_compute(p, inputs, ref).ok());
    EXPECT_EQ(check_outputs(out, ref, tolerance_for(p)).status, Status::passed)
        << "round " << round;
  }
  EXPECT_FALSE(k.value()->bind(0, inputs[0].raw(), inputs[0].bytes() + 4, false));
  EXPECT_FALSE(k.value()->bind(9, inputs[0].raw(), inputs[0].bytes(), false));

  const auto g = Problem::parse("gemm:m20n36k52:f32+bias").value();
  auto gi = make_inputs(g, 43);
  auto gk = onednn()->prepare(g, PrepareOptions{});
  ASSERT_TRUE(gk.ok()) << gk.error().message;
  ASSERT_TRUE(gk.value()->upload(gi).ok());
  if (gk.value()->bind(1, gi[1].raw(), gi[1].bytes(), false)) {
    // B was read in place (no reorder on this machine): still the reference's answer.
    ASSERT_TRUE(gk.value()->execute().ok());
    auto ref = make_outputs(g), o = make_outputs(g);
    ASSERT_TRUE(reference_compute(g, gi, ref).ok());
    ASSERT_TRUE(gk.value()->download(o).ok());
    EXPECT_EQ(check_outputs(o, ref, tolerance_for(g)).status, Status::passed);
  }
}

// The scales are inputs, not constants baked into the primitive: replacing b_scale (or a_scale)
// after upload must change the result accordingly, with no re-prepare.
TEST(OnednnBackend, ScalesAreReadAtExecute) {
  if (!onednn()) GTEST_SKIP();
  const auto p = Problem::parse("gemm:m20n36k52:s8+scales+bias+relu").value();
  auto inputs = make_inputs(p, 31);
  auto k = onednn()->prepare(p, PrepareOptions{});
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_TRUE(k.value()->upload(inputs).ok());
  const auto fresh = make_inputs(p, 32);
  for (std::size_t i : {2u, 3u}) {  // a_scale, b_scale
    ASSERT_NE(fresh[i].at(0), inputs[i].at(0));
    inputs[i] = fresh[i];
    ASSERT_TRUE(k.value()->upload_input(i, inputs[i]).ok());
    ASSERT_TRUE(k.value()->execute().ok());
    auto ref = make_outputs(p), out = make_outputs(p);
    ASSERT_TRUE(reference_compute(p, inputs, ref).ok());
    ASSERT_TRUE(k.value()->download(out).ok());
    EXPECT_EQ(check_outputs(out, ref, tolerance_for(p)).status, Status::passed)
        << "after replacing input " << i;
  }
}

TEST(OnednnBackend, WrongInputSizeIsAnError) {
  if (!onednn()) GTEST_SKIP();
  const auto p = Problem::parse("gemm:m8n8k8:f32").value();
  auto k = onednn()->prepare(p, PrepareOptions{});
  ASSERT_TRUE(k.ok());
  std::vector<Tensor> bad = {Tensor(DType::f32, {8, 7}), Tensor(DType::f32, {8, 8})};
  EXPECT_FALSE(k.value()->upload(bad).ok());
}

TEST(OnednnBackend, OtherDevicesAreUnsupported) {
  if (!onednn()) GTEST_SKIP();
  EXPECT_FALSE(onednn()->supports(make_gemm(4, 4, 4), 1).supported);
}

}  // namespace
}  // namespace tb

// OpenCL conv / attention / pool and row ops beyond the shared suites: the attention two-pass split
// path forced on every shape, the conv paths (GEMM, direct, vector depthwise, implicit GEMM) with
// more epilogues and odd channel counts, in f32, f16, bf16 and u8 x s8 (with and without +scales;
// sums beyond f32's exact range), attention in f16 and bf16 (prefill and decode kernels),
// upload_input (activation replaced, weights kept; weights replaced and repacked) on every kernel
// family, and honest "unsupported" for other data types.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <tuple>

#include "backend_fixture.h"
#include "reference/reference_backend.h"

namespace tb {
namespace {

Backend* opencl_or_skip(std::string* why) {
  Backend* b = test::backend("opencl");
  if (!b) return *why = "no opencl backend registered", nullptr;
  auto a = b->availability();
  *why = a.reason;
  return a.available ? b : nullptr;
}

std::string test_name(std::string s) {
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

void expect_passed(const std::string& problem) {
  std::string why;
  if (!opencl_or_skip(&why)) GTEST_SKIP() << "opencl unavailable: " << why;
  auto p = Problem::parse(problem);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto o = test::run_and_check("opencl", p.value(), 11);
  EXPECT_EQ(o.status, Status::passed)
      << problem << ": " << o.message << " (max rel err " << o.check.max_rel_err << ")";
}

// --- attention, split over keys ------------------------------------------------------------------

class OpenclAttentionSplit : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { setenv("TB_OPENCL_ATTN_SPLITS", "3", 1); }
  void TearDown() override { unsetenv("TB_OPENCL_ATTN_SPLITS"); }
};
TEST_P(OpenclAttentionSplit, MatchesReference) {
  expect_passed(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Shapes, OpenclAttentionSplit,
                         ::testing::Values("attn:h2q1s50d16:f32",          // splits of 16 keys
                                           "attn:h4kv1q1s300d64:f32",      // decode, MQA
                                           "attn:b2h4kv2q7s90d40c1:f32",   // causal: empty splits
                                           "attn:h2q20s37d13:f32",         // odd head dim
                                           "attn:h8kv2q3s257d128c1:f32"),  // GQA + causal
                         [](const auto& info) { return test_name(info.param); });

// --- attention, the in-place decode kernel forced on and off, with and without splits ------------

class OpenclAttentionDecode
    : public ::testing::TestWithParam<std::tuple<const char*, const char*, std::string>> {
 protected:
  void SetUp() override {
    setenv("TB_OPENCL_ATTN_DECODE", std::get<0>(GetParam()), 1);
    if (*std::get<1>(GetParam())) setenv("TB_OPENCL_ATTN_SPLITS", std::get<1>(GetParam()), 1);
  }
  void TearDown() override {
    unsetenv("TB_OPENCL_ATTN_DECODE");
    unsetenv("TB_OPENCL_ATTN_SPLITS");
  }
};
TEST_P(OpenclAttentionDecode, MatchesReference) {
  expect_passed(std::get<2>(GetParam()));
}
INSTANTIATE_TEST_SUITE_P(
    Shapes, OpenclAttentionDecode,
    ::testing::Combine(::testing::Values("1", "0"), ::testing::Values("", "3"),
                       ::testing::Values("attn:h2q1s50d16:f32",         // partial last tile
                                         "attn:h4kv1q1s300d64:f32",     // MQA: 4 rows a head
                                         "attn:h8kv2q1s257d128:f32",    // GQA
                                         "attn:b2h4kv2q7s90d32c1:f32",  // causal, 14 rows
                                         "attn:h3q2s1031d48c1:f32",     // DV 3, causal decode
                                         "attn:h2q20s37d13:f32")),      // odd d: prep path
    [](const auto& info) {
      return test_name(std::string("decode") + std::get<0>(info.param) + "_split" +
                       std::get<1>(info.param) + "_" + std::get<2>(info.param));
    });

TEST(OpenclOps, AttentionPicksTheDecodeKernelForDecode) {
  std::string why;
  Backend* b = opencl_or_skip(&why);
  if (!b) GTEST_SKIP() << "opencl unavailable: " << why;
  for (const auto& [s, want] :
       {std::pair{"attn:h8q1s1024d64:f32", 1.0}, std::pair{"attn:h8kv2q1s1024d128:f32", 1.0},
        std::pair{"attn:h8q256s256d64:f32", 0.0}, std::pair{"attn:h8q1s1024d40:f32", 0.0}}) {
    auto k = b->prepare(Problem::parse(s).value(), PrepareOptions{});
    ASSERT_TRUE(k.ok()) << k.error().message;
    double got = -1;
    for (const auto& [name, v] : k.value()->details())
      if (name == "decode_kernel") got = v;
    EXPECT_EQ(got, want) << s;
  }
}

// --- conv paths ---------------------------------------------------------------------------------

class OpenclConv : public ::testing::TestWithParam<std::string> {};
TEST_P(OpenclConv, MatchesReference) {
  expect_passed(GetParam());
}
INSTANTIATE_TEST_SUITE_P(
    Paths, OpenclConv,
    ::testing::Values(
        "conv:n2c19h5w7k40r1s1:f32+bias+gelu+res",     // pointwise -> GEMM
        "conv:n1c8h9w9k24r3s3p1g8:f32+bias+silu+res",  // depthwise x3 multiplier
        "conv:n2c6h10w12k4r3s3st2p1g2:f32+bias+res",   // grouped, strided, batch
        "conv:n1c3h8w8k33r1s1st2:f32+relu6",           // 1x1 strided: igemm
        "conv:n1c5h9w9k70r3s3p1dl2:f32+bias",          // NV 2, dilated
        // The same paths in f16, bf16 and u8 x s8 (+scales: f32 out).
        "conv:n2c19h5w7k40r1s1:f16+bias+gelu+res", "conv:n1c20h6w6k20r3s3p1g20:f16+res",
        "conv:n1c6h10w12k4r3s3st2p1g2:f16+bias+relu", "conv:n2c19h5w7k40r1s1:bf16+bias+res",
        "conv:n1c20h6w6k20r3s3p1g20:bf16+bias", "conv:n1c8h9w9k24r3s3p1g8:bf16+silu",
        "conv:n1c5h9w9k70r3s3p1dl2:bf16+bias", "conv:n2c19h5w7k40r1s1:s8+bias+relu+res",
        "conv:n1c20h6w6k20r3s3p1g20:s8", "conv:n1c8h9w9k24r3s3p1g8:u8+res",
        "conv:n1c6h10w12k4r3s3st2p1g2:s8+bias", "conv:n2c19h5w7k40r1s1:s8+scales+bias+relu6+res",
        "conv:n1c20h6w6k20r3s3p1g20:s8+scales+bias+relu6", "conv:n1c8h9w9k24r3s3p1g8:s8+scales+res",
        "conv:n1c3h17w17k16r3s3st2p1:s8+scales+bias+relu",
        "conv:n1c64h5w5k20r3s3p1:u8+scales+bias+silu"),  // igemm, K 576: 2 blocks
    [](const auto& info) { return test_name(info.param); });

// u8 x s8 convs whose sums exceed 2^24 stay exact on the implicit GEMM (R * S * C = 4608
// products: int blocks) and the pointwise GEMM: extreme operands, compared element for element
// with sums computed here in 64-bit integers (the reference rounds its s32 output through f32
// above 2^24).
std::vector<std::int64_t> exact_conv(const ConvDesc& c, const Tensor& src, const Tensor& w) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(c.oh() * c.ow() * c.k));
  for (std::int64_t y = 0; y < c.oh(); ++y)
    for (std::int64_t x = 0; x < c.ow(); ++x)
      for (std::int64_t o = 0; o < c.k; ++o) {
        std::int64_t acc = 0;
        for (std::int64_t u = 0; u < c.r; ++u)
          for (std::int64_t v = 0; v < c.s; ++v) {
            const std::int64_t iy = y - c.pad + u, ix = x - c.pad + v;
            if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
            for (std::int64_t i = 0; i < c.c; ++i)
              acc +=
                  static_cast<std::int64_t>(src.data<std::uint8_t>()[(iy * c.w + ix) * c.c + i]) *
                  w.data<std::int8_t>()[((o * c.r + u) * c.s + v) * c.c + i];
          }
        out[static_cast<std::size_t>((y * c.ow() + x) * c.k + o)] = acc;
      }
  return out;
}

TEST(OpenclOps, Int8ConvSumsAreExactBeyondFloatPrecision) {
  std::string why;
  Backend* b = opencl_or_skip(&why);
  if (!b) GTEST_SKIP() << "opencl unavailable: " << why;
  for (const char* s : {"conv:n1c512h3w3k18r3s3p1:s8", "conv:n1c1500h2w3k17r1s1:s8"}) {
    const Problem p = Problem::parse(s).value();
    auto in = make_inputs(p, 3);
    for (std::int64_t i = 0; i < in[0].numel(); ++i) in[0].set(i, 250 + i % 6);
    for (std::int64_t i = 0; i < in[1].numel(); ++i) in[1].set(i, i % 7 ? -128 : 127);
    const auto want = exact_conv(*p.as<ConvDesc>(), in[0], in[1]);
    auto out = make_outputs(p);
    auto k = b->prepare(p, PrepareOptions{});
    ASSERT_TRUE(k.ok()) << k.error().message;
    ASSERT_TRUE(k.value()->upload(in).ok());
    ASSERT_TRUE(k.value()->execute().ok());
    ASSERT_TRUE(k.value()->download(out).ok());
    std::int64_t biggest = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(out[0].data<std::int32_t>()[i], want[i]) << s << " " << i;
      biggest = std::max(biggest, std::abs(want[i]));
    }
    EXPECT_GT(biggest, 1 << 24) << s;
  }
}

// --- attention in f16 and bf16 (Q K V stored narrow, O f32), prefill and decode kernels -------

class OpenclAttentionTypes : public ::testing::TestWithParam<std::string> {};
TEST_P(OpenclAttentionTypes, MatchesReference) {
  expect_passed(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Shapes, OpenclAttentionTypes,
                         ::testing::Values("attn:h2q20s37d13:f16",         // prep path
                                           "attn:b2h4kv2q7s90d32c1:bf16",  // causal prefill
                                           "attn:h8kv2q1s257d64:f16",      // decode, GQA
                                           "attn:h4kv1q1s300d64:bf16"),    // decode, MQA
                         [](const auto& info) { return test_name(info.param); });

// --- pool and row-op extras
// -----------------------------------------------------------------------

class OpenclSmallOps : public ::testing::TestWithParam<std::string> {};
TEST_P(OpenclSmallOps, MatchesReference) {
  expect_passed(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Shapes, OpenclSmallOps,
                         ::testing::Values("softmax:m3n17:f32", "lnorm:m2n1:f32",
                                           "rmsnorm:m4n300:f32", "maxpool:n2c3h4w4r4s4:f32",
                                           "avgpool:n1c5h6w6r3s2st3p1:f32", "gpool:n2c33h1w1:f32"),
                         [](const auto& info) { return test_name(info.param); });

// --- upload_input
// ---------------------------------------------------------------------------------

// Replace each input in turn: every run must match the reference on the inputs as they are.
void check_upload_input(const std::string& problem) {
  std::string why;
  Backend* b = opencl_or_skip(&why);
  if (!b) GTEST_SKIP() << "opencl unavailable: " << why;
  const auto p = Problem::parse(problem).value();
  auto inputs = make_inputs(p, 31);
  auto k = b->prepare(p, PrepareOptions{});
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_TRUE(k.value()->upload(inputs).ok());
  const auto fresh = make_inputs(p, 32);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    inputs[i] = fresh[i];
    auto r = k.value()->upload_input(i, inputs[i]);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(k.value()->execute().ok());
    auto ref = make_outputs(p), out = make_outputs(p);
    ASSERT_TRUE(reference_compute(p, inputs, ref).ok());
    ASSERT_TRUE(k.value()->download(out).ok());
    const Check c = check_outputs(out, ref, tolerance_for(p));
    EXPECT_EQ(c.status, Status::passed)
        << problem << " after replacing input " << i << ": " << c.message;
  }
  EXPECT_FALSE(k.value()->upload_input(inputs.size(), inputs[0]).ok());
  // Wrong shape: an error, not a crash.
  EXPECT_FALSE(k.value()->upload_input(0, Tensor(DType::f32, {3})).ok());
}

TEST(OpenclUploadInput, Gemm) {
  check_upload_input("gemm:m20n36k52:f32+bias+res");
}
TEST(OpenclUploadInput, ConvPointwise) {
  check_upload_input("conv:n1c8h5w5k12r1s1:f32+bias");
}
TEST(OpenclUploadInput, ConvIgemm) {
  check_upload_input("conv:n1c4h6w6k8r3s3p1:f32+res");
}
TEST(OpenclUploadInput, ConvDepthwise) {
  check_upload_input("conv:n1c8h6w6k8r3s3p1g8:f32");
}
TEST(OpenclUploadInput, Attention) {
  check_upload_input("attn:h2kv1q5s40d16c1:f32");
}
TEST(OpenclUploadInput, LayerNorm) {
  check_upload_input("lnorm:m3n40:f32");
}

// --- support ----------------------------------------------------------------------------------

TEST(OpenclOps, SaysUnsupportedForOtherTypes) {
  std::string why;
  Backend* b = opencl_or_skip(&why);
  if (!b) GTEST_SKIP() << "opencl unavailable: " << why;
  for (const char* s : {"conv:n1c16h8w8k32r3s3p1:s32", "attn:h2q33s70d64:s8",
                        "softmax:m16n128:bf16", "add:n1000:bf16"}) {
    const Support sp = b->supports(Problem::parse(s).value(), 0);
    EXPECT_FALSE(sp.supported) << s;
    EXPECT_FALSE(sp.reason.empty()) << s;
    EXPECT_FALSE(b->prepare(Problem::parse(s).value(), PrepareOptions{}).ok()) << s;
  }
  EXPECT_FALSE(b->supports(Problem::parse("add:n8:f32").value(), 99).supported);
}

TEST(OpenclOps, AttentionReportsItsSplits) {
  std::string why;
  Backend* b = opencl_or_skip(&why);
  if (!b) GTEST_SKIP() << "opencl unavailable: " << why;
  setenv("TB_OPENCL_ATTN_SPLITS", "4", 1);
  auto k = b->prepare(Problem::parse("attn:h2q1s256d32:f32").value(), PrepareOptions{});
  unsetenv("TB_OPENCL_ATTN_SPLITS");
  ASSERT_TRUE(k.ok()) << k.error().message;
  double splits = 0;
  for (const auto& [name, v] : k.value()->details())
    if (name == "splits") splits = v;
  EXPECT_EQ(splits, 4);
}

}  // namespace
}  // namespace tb

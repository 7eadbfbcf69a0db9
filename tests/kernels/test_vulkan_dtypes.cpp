// The Vulkan backend's element types beyond f32 against the reference: u8 x s8 -> s32 GEMM and
// conv (direct, depthwise, implicit GEMM, pointwise as GEMM) with and without the +scales
// epilogue, each through the packed-dot-product variants (where the device has
// shaderIntegerDotProduct) and the exact fallback (TB_VULKAN_INT8_DOT=0); bf16 GEMM, conv and
// attention (storage only, f32 arithmetic: every device); f16 conv and attention (where the device
// has 16-bit storage and shaderFloat16). Unlike the all-backend suites these fail, not skip, when
// Vulkan is available but calls a type unsupported that needs no feature.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "backend_fixture.h"
#include "kernels.h"

namespace tb {
namespace {

const std::vector<std::string> kInt8 = {
    "gemm:m33n17k45:s8+scales+bias+relu",                // k padded to 48 in the packed layout
    "gemm:b2m8n20k64ta1:u8+scales+gelu+res",             // A given k x m, f32 residual
    "gemm:m5n7k300:s8",                                  // exact s32, no epilogue
    "gemm:m3n9k20:s8+bias+relu6",                        // s32 rounded after a float epilogue
    "conv:n1c3h9w9k8r3s3st2p1:s8+scales+bias+relu",      // RGB input: igemm, bytes
    "conv:n1c16h9w9k16r3s3p1g16:s8+scales+bias+relu6",   // depthwise, words of 4 channels
    "conv:n1c32h8w8k32r3s3st2p1g32:u8+scales+silu+res",  // strided depthwise
    "conv:n1c6h6w6k6r3s3p1g6:s8+relu",                   // depthwise, 6 channels: direct
    "conv:n1c16h7w7k24r3s3p1:s8+scales+bias+res",        // implicit GEMM, dot products
    "conv:n1c12h6w6k9r3s3g3:s8+scales+gelu",             // grouped, 4 channels per group
    "conv:n2c20h5w6k12r1s1:s8+scales+bias",              // pointwise: the packed GEMM
    "conv:n1c16h6w6k16r3s3p1:s8+bias+res",               // s32 dst and residual
};

const std::vector<std::string> kFloat = {
    "gemm:m31n17k37:bf16+bias+gelu",
    "gemm:b2m9n16k40tb1:bf16+res",
    "conv:n1c16h8w8k32r3s3p1:bf16+bias+relu",
    "conv:n1c16h9w9k16r3s3p1g16:bf16+bias+relu6",
    "conv:n1c3h7w7k5r3s3p1:bf16",
    "conv:n1c24h5w5k16r1s1:bf16+bias",
    "attn:h4kv2q16s16d32c1:bf16",
    "attn:h2q9s70d64:bf16",
    "attn:h2q64s64d32c1:bf16",  // the blocked shader (TB_VULKAN_ATTENTION=blk below)
    "conv:n1c16h8w8k32r3s3p1:f16+bias+res",
    "conv:n1c8h9w9k8r3s3p1g8:f16+relu",
    "conv:n1c3h7w7k5r3s3st2p1:f16+bias",
    "conv:n1c8h5w5k12r1s1:f16",
    "attn:h2q9s33d64c1:f16",
    "attn:h4kv1q1s100d32:f16",
};

Backend* vulkan_or_skip() {
  Backend* b = test::backend("vulkan");
  if (!b || !b->availability().available) return nullptr;
  return b;
}

void expect_passes(const std::string& problem) {
  auto p = Problem::parse(problem);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto o = test::run_and_check("vulkan", p.value());
  if (p->dtype == DType::f16 && o.status == Status::unsupported)
    GTEST_SKIP() << o.message;  // the one type that needs a device feature
  EXPECT_EQ(o.status, Status::passed)
      << problem << ": " << o.message << " (max rel err " << o.check.max_rel_err << ")";
}

class VulkanInt8 : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};
TEST_P(VulkanInt8, MatchesReference) {
  if (!vulkan_or_skip()) GTEST_SKIP() << "Vulkan unavailable";
  const bool dot = std::get<1>(GetParam());
  if (!dot) setenv("TB_VULKAN_INT8_DOT", "0", 1);
  expect_passes(std::get<0>(GetParam()));
  unsetenv("TB_VULKAN_INT8_DOT");
}
INSTANTIATE_TEST_SUITE_P(Vulkan, VulkanInt8,
                         ::testing::Combine(::testing::ValuesIn(kInt8), ::testing::Bool()),
                         [](const auto& info) {
                           std::string s = std::get<0>(info.param) +
                                           (std::get<1>(info.param) ? "_dot" : "_fallback");
                           for (char& c : s)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

class VulkanFloat : public ::testing::TestWithParam<std::string> {};
TEST_P(VulkanFloat, MatchesReference) {
  if (!vulkan_or_skip()) GTEST_SKIP() << "Vulkan unavailable";
  if (GetParam().find("q64s64") != std::string::npos) setenv("TB_VULKAN_ATTENTION", "blk", 1);
  expect_passes(GetParam());
  unsetenv("TB_VULKAN_ATTENTION");
}
INSTANTIATE_TEST_SUITE_P(Vulkan, VulkanFloat, ::testing::ValuesIn(kFloat), [](const auto& info) {
  std::string s = info.param;
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
});

double detail(const PreparedKernel& k, const std::string& key) {
  for (const auto& [name, v] : k.details())
    if (name == key) return v;
  return -1;
}

// The int8 kernels say which path ran; the dot-product variants are chosen exactly when the
// device has the feature and the switch does not turn them off.
TEST(VulkanInt8Dot, ChosenByDeviceFeature) {
  Backend* b = vulkan_or_skip();
  if (!b) GTEST_SKIP() << "Vulkan unavailable";
  const bool has = b->devices().at(0).int8_dot;
  for (const char* s : {"conv:n1c16h7w7k24r3s3p1:s8+scales", "gemm:m16n16k64:s8+scales"}) {
    const auto p = Problem::parse(s).value();
    auto k = b->prepare(p, {});
    ASSERT_TRUE(k.ok()) << k.error().message;
    EXPECT_EQ(detail(*k.value(), "int8_dot_product"), has ? 1.0 : 0.0) << s;
    setenv("TB_VULKAN_INT8_DOT", "0", 1);
    auto f = b->prepare(p, {});
    unsetenv("TB_VULKAN_INT8_DOT");
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(detail(*f.value(), "int8_dot_product"), 0.0) << s;
  }
}

// An image's layer (a few channels per group, a window of up to 7x7) takes its window and channel
// count as specialization constants, which the driver unrolls; a deep layer keeps the runtime
// loops. Both still match the reference (the int8 case: bytes of a 7x7 window, MobileNetV2's and
// ResNet-50's stems at 16x16).
TEST(VulkanConv, ImageLayersGetTheirWindowAsSpecializationConstants) {
  Backend* b = vulkan_or_skip();
  if (!b) GTEST_SKIP() << "Vulkan unavailable";
  for (const auto& [s, want] : std::vector<std::pair<const char*, double>>{
           {"conv:n1c3h16w16k64r7s7st2p3:s8+scales+bias+relu", 1},
           {"conv:n1c3h16w16k32r3s3st2p1:f32+bias+relu", 1},
           {"conv:n1c16h7w7k24r3s3p1:f32", -1}}) {
    const auto p = Problem::parse(s).value();
    auto k = b->prepare(p, {});
    ASSERT_TRUE(k.ok()) << k.error().message;
    EXPECT_EQ(detail(*k.value(), "path_igemm"), 1.0) << s;
    EXPECT_EQ(detail(*k.value(), "window_specialized"), want) << s;
    expect_passes(s);
  }
}

// What the backend cannot run, it says why.
TEST(VulkanDtypes, UnsupportedSaysWhy) {
  Backend* b = vulkan_or_skip();
  if (!b) GTEST_SKIP() << "Vulkan unavailable";
  const auto odd = b->supports(Problem::parse("attn:h2q20s37d13:bf16").value(), 0);
  EXPECT_FALSE(odd.supported);
  EXPECT_NE(odd.reason.find("head dim"), std::string::npos) << odd.reason;
  const auto s8 = b->supports(Problem::parse("attn:h2q4s4d32:s8").value(), 0);
  EXPECT_FALSE(s8.supported);
  EXPECT_NE(s8.reason.find("s8"), std::string::npos) << s8.reason;
}

}  // namespace
}  // namespace tb

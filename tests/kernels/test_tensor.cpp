#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "dtype.h"
#include "tensor.h"
#include "validate.h"

namespace tb {
namespace {

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_FLOAT_EQ(bf16_to_f32(f32_to_bf16(3.140625f)), 3.140625f);
  // 1 + 2^-8 is exactly halfway between two bf16 values: rounds to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(DType, F16RoundTrip) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f, 0.1f}) {
    const float back = f16_to_f32(f32_to_f16(v));
    EXPECT_NEAR(back, v, std::fabs(v) * 1e-3 + 1e-7) << v;
  }
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
}

TEST(Tensor, GuardsCatchOverrun) {
  Tensor t(DType::f32, {3, 5});
  EXPECT_TRUE(t.guards_intact());
  t.data<float>()[14] = 1.0f;
  EXPECT_TRUE(t.guards_intact());
  t.data<float>()[15] = 1.0f;  // one past the end: lands in the guard band
  EXPECT_FALSE(t.guards_intact());
}

// Integers saturate, and NaN (which has no integer: converting it is undefined behaviour, found
// by fuzz_onnx quantising a NaN weight to s8) stores 0.
TEST(Tensor, SetSaturatesIntegersAndStoresNaNAsZero) {
  Tensor s8(DType::s8, {4}), u8(DType::u8, {4}), s32(DType::s32, {2});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  s8.set(0, nan), s8.set(1, inf), s8.set(2, -inf), s8.set(3, -3.6);
  EXPECT_EQ(s8.at(0), 0);
  EXPECT_EQ(s8.at(1), 127);
  EXPECT_EQ(s8.at(2), -128);
  EXPECT_EQ(s8.at(3), -4);
  u8.set(0, nan), u8.set(1, 300), u8.set(2, -1), u8.set(3, 2.5);
  EXPECT_EQ(u8.at(0), 0);
  EXPECT_EQ(u8.at(1), 255);
  EXPECT_EQ(u8.at(2), 0);
  EXPECT_EQ(u8.at(3), 2);  // to nearest, ties to even
  s32.set(0, nan), s32.set(1, 1e300);
  EXPECT_EQ(s32.at(0), 0);
  EXPECT_EQ(s32.at(1), 2147483647);
}

TEST(Validate, InputsAreSeededAndNonZero) {
  auto p = make_gemm(9, 7, 5);
  auto a = make_inputs(p, 1), b = make_inputs(p, 1), c = make_inputs(p, 2);
  ASSERT_EQ(a.size(), 2u);
  int differ = 0;
  for (std::int64_t i = 0; i < a[0].numel(); ++i) {
    EXPECT_NE(a[0].at(i), 0.0);
    EXPECT_EQ(a[0].at(i), b[0].at(i));
    differ += a[0].at(i) != c[0].at(i);
  }
  EXPECT_GT(differ, 0);
}

// Integer inputs reach the magnitudes where a kernel that keeps u8 x s8 pairs in 16 bits, or sums
// in f32 past 2^24, would differ from the reference: u8 over the whole byte, s8 to +-63.
TEST(Validate, IntegerInputsSpanTheRangesTheInt8TiersFeed) {
  auto p = Problem::parse("gemm:m64n64k64:u8").value();
  const auto in = make_inputs(p, 3);
  ASSERT_EQ(in.size(), 2u);
  ASSERT_EQ(in[0].dtype(), DType::u8);
  ASSERT_EQ(in[1].dtype(), DType::s8);
  double a_lo = 255, a_hi = 0, b_lo = 0, b_hi = 0;
  for (std::int64_t i = 0; i < in[0].numel(); ++i) {
    a_lo = std::min(a_lo, in[0].at(i)), a_hi = std::max(a_hi, in[0].at(i));
    b_lo = std::min(b_lo, in[1].at(i)), b_hi = std::max(b_hi, in[1].at(i));
    EXPECT_NE(in[1].at(i), 0.0);
  }
  EXPECT_GE(a_lo, 1);
  EXPECT_LE(a_lo, 4);
  EXPECT_EQ(a_hi, 255);
  EXPECT_EQ(b_lo, -kInputS8Max);
  EXPECT_EQ(b_hi, kInputS8Max);
}

TEST(Validate, DetectsMismatchAndMistrust) {
  auto p = make_gemm(4, 4, 4);
  std::vector<Tensor> ref = make_outputs(p), got;
  for (std::int64_t i = 0; i < ref[0].numel(); ++i)
    ref[0].set(i, 1.0 + 0.1 * static_cast<double>(i));
  got = ref;
  EXPECT_EQ(check_outputs(got, ref, {1e-4}).status, Status::passed);
  got[0].set(5, got[0].at(5) * 1.01);
  auto c = check_outputs(got, ref, {1e-4});
  EXPECT_EQ(c.status, Status::failed);
  EXPECT_EQ(c.mismatches, 1);
  std::vector<Tensor> zeros = make_outputs(p);
  for (std::int64_t i = 0; i < zeros[0].numel(); ++i) zeros[0].set(i, 0);
  EXPECT_EQ(check_outputs(zeros, zeros, {1e-4}).status, Status::mistrusted);
  got = ref;
  got[0].data<float>()[16] = 0;  // out-of-bounds write into the guard band
  EXPECT_EQ(check_outputs(got, ref, {1e-4}).status, Status::failed);
}

}  // namespace
}  // namespace tb

#include <gtest/gtest.h>

#include "problem.h"

namespace tb {
namespace {

TEST(Problem, GemmRoundTrip) {
  for (const char* s : {"gemm:m1024n1024k1024:f32", "gemm:b4m17n31k13ta1:f32+bias+relu",
                        "gemm:m1n1k1tb1:bf16+gelu+res", "gemm:m8n8k8:s8"}) {
    auto p = Problem::parse(s);
    ASSERT_TRUE(p.ok()) << s << ": " << p.error().message;
    EXPECT_EQ(p->str(), s);
    auto q = Problem::parse(p->str());
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q.value(), p.value());
  }
}

TEST(Problem, CanonicalisesDefaults) {
  auto p = Problem::parse("gemm:b1k3m1n2ta0:f32");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->str(), "gemm:m1n2k3:f32");
}

TEST(Problem, RejectsBadInput) {
  for (const char* s :
       {"", "gemm", "gemm:m1n1:f32", "gemm:m0n1k1:f32", "gemm:m1n1k1:f64", "gemm:m1n1k1:f32+bogus",
        "conv2x:m1:f32", "gemm:m1m2n1k1:f32", "gemm:M1n1k1:f32", "gemm:m1n1k1ta2:f32",
        "gemm:m99999999999999999n1k1:f32", "gemm:m1n1k1:f32+relu+gelu", "gemm:mn1k1:f32"}) {
    EXPECT_FALSE(Problem::parse(s).ok()) << s;
  }
}

TEST(Problem, FlopsAndBytes) {
  auto p = make_gemm(2, 3, 4);
  EXPECT_DOUBLE_EQ(p.flops(), 2.0 * 2 * 3 * 4);
  EXPECT_DOUBLE_EQ(p.min_bytes(), 4.0 * (2 * 4 + 4 * 3 + 2 * 3));
  auto q = Problem::parse("gemm:m2n3k4:bf16");
  ASSERT_TRUE(q.ok());
  EXPECT_DOUBLE_EQ(q->min_bytes(), 2.0 * (2 * 4 + 4 * 3) + 4.0 * 2 * 3);
}

}  // namespace
}  // namespace tb

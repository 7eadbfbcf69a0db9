#include <gtest/gtest.h>

#include <set>
#include <variant>

#include "backend.h"
#include "problem.h"

namespace tb {
namespace {

TEST(Problem, GemmRoundTrip) {
  for (const char* s : {"gemm:m1024n1024k1024:f32", "gemm:b4m17n31k13ta1:f32+bias+relu",
                        "gemm:m1n1k1tb1:bf16+gelu+res", "gemm:m8n8k8:s8", "gemm:m8n8k8:s8+scales",
                        "gemm:b2m3n5k7ta1:u8+scales+bias+relu6+res"}) {
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

TEST(Problem, ScalesPrintFirstWhateverTheOrderGiven) {
  auto p = Problem::parse("gemm:m4n4k4:s8+relu+bias+scales");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->str(), "gemm:m4n4k4:s8+scales+bias+relu");
  EXPECT_TRUE(p->post.scales);
}

TEST(Problem, ScalesNeedAnIntegerGemmOrConv) {
  for (const char* s :
       {"gemm:m4n4k4:f32+scales", "gemm:m4n4k4:bf16+scales+bias", "gemm:m4n4k4:f16+scales"}) {
    auto p = Problem::parse(s);
    ASSERT_FALSE(p.ok()) << s;
    EXPECT_NE(p.error().message.find("integer"), std::string::npos) << p.error().message;
  }
  for (const char* s : {"attn:h2q4d8:f32+scales", "softmax:m4n8:f32+scales", "add:n8:f32+scales"})
    EXPECT_FALSE(Problem::parse(s).ok()) << s;
  // Hand-built problems get the same verdict.
  Problem p = make_gemm(4, 4, 4, DType::f32);
  p.post.scales = true;
  EXPECT_FALSE(check_post(p).ok());
  p.dtype = DType::u8;
  EXPECT_TRUE(check_post(p).ok());
}

TEST(Problem, ScaledGemmTensors) {
  const auto p = Problem::parse("gemm:b2m3n5k7:s8+scales+bias+res").value();
  const auto in = p.inputs();
  ASSERT_EQ(in.size(), 6u);
  EXPECT_EQ(in[0].dtype, DType::u8);
  EXPECT_EQ(in[1].dtype, DType::s8);
  EXPECT_EQ(in[2].name, "a_scale");
  EXPECT_EQ(in[2].shape, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(in[3].name, "b_scale");
  EXPECT_EQ(in[3].shape, (std::vector<std::int64_t>{5}));
  EXPECT_EQ(in[5].dtype, DType::f32);
  EXPECT_EQ(p.outputs()[0].dtype, DType::f32);
  // Unscaled int8 keeps the exact s32 output.
  EXPECT_EQ(Problem::parse("gemm:m3n5k7:s8+res").value().outputs()[0].dtype, DType::s32);
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

// parse() is generated from the op list: every alternative of OpDesc is reachable by its names.
TEST(Problem, EveryOpOfTheListParses) {
  std::set<std::size_t> seen;
  for (const char* s :
       {"gemm:m2n3k4:f32", "conv:n1c2h3w3k2r1s1:f32", "attn:h2q4s4d8:f32",
        "maxpool:n1c2h4w4r2s2:f32", "avgpool:n1c2h4w4r2s2:f32", "gpool:n1c2h4w4:f32",
        "softmax:m2n3:f32", "lnorm:m2n3:f32", "rmsnorm:m2n3:f32", "add:n3:f32", "mul:n3:f32",
        "rope:t1h1d2:f32", "embed:v3d2t1:f32", "kvwrite:h1s2d2p1:f32", "permute:a2b3c4:f32",
        "slice:r3n2s2c1:f32"}) {
    auto p = Problem::parse(s);
    ASSERT_TRUE(p.ok()) << s << ": " << p.error().message;
    EXPECT_EQ(p->str(), s);
    seen.insert(p->op.index());
  }
  EXPECT_EQ(seen.size(), std::variant_size_v<OpDesc>);
  auto bad = Problem::parse("pool:n1c2h4w4:f32");  // a Desc's kOp is not a name when it has kinds
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown op 'pool'"), std::string::npos)
      << bad.error().message;
}

// The catch-all of a backend's dispatch answers for every op it has no entry for.
TEST(Problem, NoKernelAnswersUnsupportedNamingBackendAndOp) {
  const Problem p = Problem::parse("rmsnorm:m2n3:f32").value();
  const Support s = std::visit(Overloaded{[](const GemmDesc&) { return Support::yes(); },
                                          no_kernel<Support>("somebackend", p)},
                               p.op);
  EXPECT_FALSE(s.supported);
  EXPECT_EQ(s.reason, "somebackend has no rmsnorm kernel");
  const Result<int> r = std::visit(
      Overloaded{[](const GemmDesc&) -> Result<int> { return 1; }, no_kernel<Result<int>>("x", p)},
      p.op);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "x has no rmsnorm kernel");
  // The op it has an entry for still goes there.
  const Problem g = make_gemm(2, 2, 2);
  EXPECT_TRUE(std::visit(Overloaded{[](const GemmDesc&) { return Support::yes(); },
                                    no_kernel<Support>("somebackend", g)},
                         g.op)
                  .supported);
}

}  // namespace
}  // namespace tb

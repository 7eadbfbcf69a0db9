// Convolution on every backend against the reference (general, depthwise, pointwise, strided,
// dilated, grouped, fused epilogues, bf16, int8), and its problem strings.
#include <gtest/gtest.h>

#include <tuple>

#include "backend_fixture.h"

namespace tb {
namespace {

const std::vector<std::string> kShapes = {
    "conv:n1c3h7w7k5r3s3p1:f32",                  // RGB-like input
    "conv:n2c17h5w6k13r1s1:f32+bias",             // pointwise, primes
    "conv:n1c16h9w9k16r3s3p1g16:f32+bias+relu6",  // depthwise
    "conv:n1c8h11w13k6r3s3st2p1:f32+relu",        // strided
    "conv:n1c4h10w10k4r3s3p2dl2:f32",             // dilated
    "conv:n1c12h6w6k9r3s3g3:f32+gelu",            // grouped
    "conv:n1c16h8w8k16r3s3p1:f32+bias+silu+res",  // full epilogue
    "conv:n1c5h13w17k7r5s5p2:f32",                // 5x5
    "conv:n1c7h1w1k3r1s1:f32",                    // 1x1 image
    "conv:n1c1000h3w3k8r1s1:f32",                 // long reduction
    "conv:n1c64h28w28k64r3s3p1:f32+bias+relu",    // ResNet-like
    "conv:n1c32h14w14k32r3s3st2p1g32:f32",        // strided depthwise (MobileNetV2)
    // extra padding at the bottom and right (TensorFlow's SAME with stride 2 on an even image)
    "conv:n1c8h8w8k6r3s3st2pe1:f32+bias+relu",
    "conv:n1c16h10w10k16r3s3st2pe1g16:f32+relu6",
    "conv:n2c8h9w7k8r5s5st2p1pe2:f32",
    "conv:n1c16h8w8k16r3s3st2pe1:bf16+bias",
    "conv:n1c16h8w8k24r3s3st2p1pe1g8:s8+scales+bias+relu",
    "conv:n1c16h8w8k32r3s3p1:bf16+bias+relu",
    "conv:n1c16h8w8k32r3s3p1:s8",
    "conv:n1c32h7w7k32r1s1:u8+relu",
    "conv:n1c16h6w6k16r3s3p1:s8+bias+res",
    // int8 dequantised by a_scale * b_scale[k] (f32 dst)
    "conv:n1c16h8w8k32r3s3p1:s8+scales",
    "conv:n2c17h5w6k13r1s1:u8+scales+bias+relu",              // pointwise, primes
    "conv:n1c16h9w9k16r3s3p1g16:s8+scales+bias+relu6",        // depthwise
    "conv:n1c12h11w13k9r3s3st2p1g3:s8+scales+bias+gelu+res",  // strided, grouped, full epilogue
    "conv:n1c5h13w17k7r5s5p2dl1:s8+scales+silu",
};

TB_BACKEND_SUITE(ConvTest, kShapes);

TEST(ConvProblem, RoundTrips) {
  for (const char* s :
       {"conv:n1c64h56w56k64r3s3p1:f32+bias+relu", "conv:n2c3h224w224k32r3s3st2p1:bf16",
        "conv:n1c144h56w56k144r3s3p1g144:f32+relu6", "conv:n1c4h9w9k4r3s3p2dl2:s8+res",
        "conv:n1c8h4w4k8r1s1:u8+scales+bias+relu6+res"}) {
    auto p = Problem::parse(s);
    ASSERT_TRUE(p.ok()) << s << ": " << p.error().message;
    EXPECT_EQ(p->str(), s);
    EXPECT_EQ(Problem::parse(p->str()).value(), p.value());
  }
  EXPECT_EQ(Problem::parse("conv:c8h4w4k8r1s1st1p0dl1g1:f32")->str(), "conv:n1c8h4w4k8r1s1:f32");
}

TEST(ConvProblem, Shapes) {
  const auto p = Problem::parse("conv:n2c6h10w12k4r3s3st2p1g2:f32+bias+res").value();
  const auto* c = p.as<ConvDesc>();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->oh(), 5);
  EXPECT_EQ(c->ow(), 6);
  // pe pads the bottom and right only: 8 + 0 + 1 - 3 = 6, / 2 + 1 = 4 (SAME on an even image)
  const auto same = Problem::parse("conv:n1c4h8w8k4r3s3st2pe1:f32").value();
  EXPECT_EQ(same.as<ConvDesc>()->oh(), 4);
  EXPECT_EQ(same.as<ConvDesc>()->ow(), 4);
  EXPECT_EQ(same.str(), "conv:n1c4h8w8k4r3s3st2pe1:f32");
  EXPECT_FALSE(same.as<ConvDesc>()->pointwise());
  const auto in = p.inputs();
  ASSERT_EQ(in.size(), 4u);
  EXPECT_EQ(in[1].shape, (std::vector<std::int64_t>{4, 3, 3, 3}));
  EXPECT_EQ(in[3].shape, (std::vector<std::int64_t>{2, 5, 6, 4}));
  EXPECT_DOUBLE_EQ(p.flops(), 2.0 * 2 * 5 * 6 * 4 * 3 * 3 * 3);
}

TEST(ConvProblem, ScalesAddInputsAndMakeTheOutputF32) {
  const auto p = Problem::parse("conv:n1c6h5w5k4r3s3:s8+scales+bias+res").value();
  const auto in = p.inputs();
  ASSERT_EQ(in.size(), 6u);
  EXPECT_EQ(in[2].name, "a_scale");
  EXPECT_EQ(in[2].shape, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(in[3].name, "b_scale");
  EXPECT_EQ(in[3].shape, (std::vector<std::int64_t>{4}));
  EXPECT_EQ(in[3].dtype, DType::f32);
  EXPECT_EQ(in[4].name, "bias");
  EXPECT_EQ(in[5].dtype, DType::f32);  // residual joins the dequantised output
  EXPECT_EQ(p.outputs()[0].dtype, DType::f32);
}

TEST(ConvProblem, RejectsBadInput) {
  for (const char* s :
       {"conv:n1c6h8w8k4r3s3g4:f32", "conv:n1c4h2w2k4r5s5:f32", "conv:n1c4h8w8k4r3s3p3:f32",
        "conv:n1c4h8w8k4r3:f32", "conv:n1c4h8w8k4r3s3x1:f32", "conv:n1c4h8w8k4r3s3st0:f32",
        "conv:n1c4h8w8k4r3s3:f32+scales", "conv:n1c4h8w8k4r3s3:bf16+scales+bias",
        "conv:n1c4h8w8k4r3s3p1pe2:f32", "conv:n1c4h8w8k4r3s3pe-1:f32"})
    EXPECT_FALSE(Problem::parse(s).ok()) << s;
}

}  // namespace
}  // namespace tb

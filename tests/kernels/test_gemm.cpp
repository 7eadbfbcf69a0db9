// GEMM on every backend against the reference, over odd and edge shapes; scaled int8 GEMM
// (+scales) where a backend has it, and a clear "unsupported" where it does not.
#include <gtest/gtest.h>

#include <tuple>

#include "backend_fixture.h"

namespace tb {
namespace {

const std::vector<std::string> kShapes = {
    "gemm:m1n1k1:f32",
    "gemm:m17n31k13:f32",
    "gemm:m129n65k257:f32",
    "gemm:m64n64k64:f32",
    "gemm:m1n4096k256:f32",
    "gemm:m33n1k1000:f32",
    "gemm:m256n256k256:f32",
    "gemm:m7n129k2053:f32",
    // u8 x s8 -> s32, dequantised to f32 by a_scale * b_scale[n]
    "gemm:m1n1k1:s8+scales",
    "gemm:m17n31k13:s8+scales",
    "gemm:m33n65k100:u8+scales+bias+relu",
    "gemm:m7n129k2053:s8+scales+bias",
    "gemm:b3m9n10k11tb1:s8+scales+bias+gelu+res",
    "gemm:m64n48k96ta1:s8+scales+silu",
};

TB_BACKEND_SUITE(GemmTest, kShapes);

// A problem built in code skips parse()'s checks. Scales on f32 mean nothing: every backend must
// call it unsupported and say why -- none may run it and silently drop the scales.
TEST(GemmScales, NonsenseEpilogueIsUnsupportedEverywhere) {
  Problem p = make_gemm(8, 8, 8, DType::f32);
  p.post.scales = true;
  for (const auto& name : test::backend_names()) {
    Backend* b = test::backend(name);
    if (!b->availability().available) continue;
    const Support s = b->supports(p, 0);
    EXPECT_FALSE(s.supported) << name;
    EXPECT_FALSE(s.reason.empty()) << name;
  }
}

// A backend without scaled int8 GEMM reports it unsupported with a reason; one with it matches
// the reference (the suite above checks the values).
TEST(GemmScales, UnsupportedComesWithAReason) {
  const Problem p = Problem::parse("gemm:m16n16k16:s8+scales+bias").value();
  for (const auto& name : test::backend_names()) {
    Backend* b = test::backend(name);
    if (!b->availability().available) continue;
    const Support s = b->supports(p, 0);
    if (!s.supported) {
      EXPECT_FALSE(s.reason.empty()) << name;
    }
  }
  EXPECT_TRUE(test::backend("reference")->supports(p, 0).supported);
}

}  // namespace
}  // namespace tb

// GEMM on every backend against the reference, over odd and edge shapes.
#include <gtest/gtest.h>

#include <tuple>

#include "backend_fixture.h"

namespace tb {
namespace {

class GemmTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(GemmTest, MatchesReference) {
  const auto& [backend, problem] = GetParam();
  auto p = Problem::parse(problem);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto o = test::run_and_check(backend, p.value());
  if (o.status == Status::unavailable || o.status == Status::unsupported)
    GTEST_SKIP() << status_name(o.status) << ": " << o.message;
  EXPECT_EQ(o.status, Status::passed)
      << o.message << " (max rel err " << o.check.max_rel_err << ")";
}

const std::vector<std::string> kShapes = {
    "gemm:m1n1k1:f32",      "gemm:m17n31k13:f32",  "gemm:m129n65k257:f32",  "gemm:m64n64k64:f32",
    "gemm:m1n4096k256:f32", "gemm:m33n1k1000:f32", "gemm:m256n256k256:f32", "gemm:m7n129k2053:f32",
};

INSTANTIATE_TEST_SUITE_P(AllBackends, GemmTest,
                         ::testing::Combine(::testing::ValuesIn(test::backend_names()),
                                            ::testing::ValuesIn(kShapes)),
                         [](const auto& info) {
                           std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (char& c : s)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

}  // namespace
}  // namespace tb

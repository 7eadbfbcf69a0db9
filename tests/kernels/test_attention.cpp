// Attention on every backend against the reference (MHA, GQA/MQA, causal, q != s decode, odd
// head dims), each oneDNN path (fused per ISA, composed) explicitly, and the problem strings.
#include <gtest/gtest.h>

#include <cstdlib>
#include <tuple>

#include "backend_fixture.h"

namespace tb {
namespace {

const std::vector<std::string> kShapes = {
    "attn:h1q1s1d16:f32",            // sizes 1
    "attn:h2q17s17d64:f32",          // primes
    "attn:h8q33d64c1:f32",           // causal self-attention
    "attn:h4kv2q31s67d32:f32",       // GQA, q != s
    "attn:h8kv1q1s1024d128:f32",     // decode, MQA
    "attn:b2h4kv2q16s100d64c1:f32",  // causal chunk against a KV cache
    "attn:h2q130s130d24:f32",        // head dim a multiple of 8, not 16
    "attn:h2q20s37d13:f32",          // odd head dim
    "attn:h3q65s200d128c1:f32",
    "attn:h6kv2q23s40d32c1:f32",  // GQA + causal, row blocks spanning heads
                                  // "attn:h2q33s70d64:bf16", "attn:h4kv2q16s16d32c1:bf16",
};

TB_BACKEND_SUITE(AttentionTest, kShapes);

// Every oneDNN attention path on the f32 shapes: composed, and fused capped at each ISA (a path
// the CPU lacks falls back to a lower one, which is then what is tested).
class OnednnAttentionPath : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void TearDown() override {
    unsetenv("TB_ONEDNN_ATTENTION");
    unsetenv("TB_ATTENTION_ISA");
  }
};
TEST_P(OnednnAttentionPath, MatchesReference) {
  const auto& [path, problem] = GetParam();
  if (path == "composed") {
    setenv("TB_ONEDNN_ATTENTION", "composed", 1);
  } else {
    setenv("TB_ONEDNN_ATTENTION", "fused", 1);
    setenv("TB_ATTENTION_ISA", path.c_str(), 1);
  }
  test::expect_matches_reference("onednn", problem);
}
std::vector<std::string> f32_shapes() {
  std::vector<std::string> v;
  for (const auto& s : kShapes)
    if (s.ends_with(":f32")) v.push_back(s);
  return v;
}
INSTANTIATE_TEST_SUITE_P(Paths, OnednnAttentionPath,
                         ::testing::Combine(::testing::Values("composed", "avx512", "avx2",
                                                              "scalar"),
                                            ::testing::ValuesIn(f32_shapes())),
                         test::param_name);

TEST(OnednnAttention, ReportsWhichPathRan) {
  Backend* b = test::backend("onednn");
  if (!b || !b->availability().available) GTEST_SKIP();
  const auto p = Problem::parse("attn:h2q40d32c1:f32").value();
  const auto fused_flag = [&](const char* mode) {
    setenv("TB_ONEDNN_ATTENTION", mode, 1);
    auto k = b->prepare(p, PrepareOptions{});
    unsetenv("TB_ONEDNN_ATTENTION");
    if (!k) return -1.0;
    for (const auto& [name, v] : k.value()->details())
      if (name == "attention_fused") return v;
    return -2.0;
  };
  EXPECT_EQ(fused_flag("fused"), 1.0);
  EXPECT_EQ(fused_flag("composed"), 0.0);
  EXPECT_EQ(fused_flag("auto"), 1.0);  // f32: fused by default
  setenv("TB_ONEDNN_ATTENTION", "fused", 1);
  EXPECT_TRUE(b->supports(p, 0).supported);
  EXPECT_FALSE(b->supports(Problem::parse("attn:h2q40d32:bf16").value(), 0).supported);
  setenv("TB_ONEDNN_ATTENTION", "bogus", 1);
  EXPECT_FALSE(b->supports(p, 0).supported);
  unsetenv("TB_ONEDNN_ATTENTION");
}

TEST(AttentionProblem, RoundTrips) {
  for (const char* s : {"attn:h8q512s512d64:f32", "attn:b2h32kv8q1s4096d128:f32",
                        "attn:h8q2048s2048d64c1:bf16", "attn:h4kv1q7s9d13:f32"}) {
    auto p = Problem::parse(s);
    ASSERT_TRUE(p.ok()) << s << ": " << p.error().message;
    EXPECT_EQ(p->str(), s);
    EXPECT_EQ(Problem::parse(p->str()).value(), p.value());
  }
  EXPECT_EQ(Problem::parse("attn:b1h4kv4q8d16c0:f32")->str(), "attn:h4q8s8d16:f32");
}

TEST(AttentionProblem, ShapesAndFlops) {
  const auto p = Problem::parse("attn:b2h8kv2q4s6d16c1:f32").value();
  const auto in = p.inputs();
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[0].shape, (std::vector<std::int64_t>{2, 8, 4, 16}));
  EXPECT_EQ(in[1].shape, (std::vector<std::int64_t>{2, 2, 6, 16}));
  // causal, q=4 s=6: query i sees i + 3 keys -> 3 + 4 + 5 + 6 = 18 pairs per head
  EXPECT_EQ(p.as<AttentionDesc>()->pairs(), 18);
  EXPECT_DOUBLE_EQ(p.flops(), 4.0 * 2 * 8 * 16 * 18);
}

TEST(AttentionProblem, RejectsBadInput) {
  for (const char* s : {"attn:h8kv3q4d16:f32", "attn:h2q8s4d16c1:f32", "attn:h2q4d16c2:f32",
                        "attn:h2q4:f32", "attn:h2q4d16:f32+relu"})
    EXPECT_FALSE(Problem::parse(s).ok()) << s;
}

}  // namespace
}  // namespace tb

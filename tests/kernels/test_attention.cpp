// Attention on every backend against the reference (MHA, GQA/MQA, causal, q != s decode, odd
// head dims), each oneDNN path (fused per ISA, composed) explicitly, and the problem strings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <tuple>

#include "backend_fixture.h"
#include "cpu/attention_fused.h"
#include "dtype.h"

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
    // Decode (few rows per kv head): keys split over threads (flash-decoding) and combined.
    "attn:h1q1s2d32:f32",           // fewer keys than a tile: one chunk
    "attn:h2q1s131d64:f32",         // prime length, chunks of whole tiles + a ragged one
    "attn:h1q1s4099d128:f32",       // long cache, many chunks
    "attn:h8kv1q1s1000d64:f32",     // MQA group of 8 rows from one pass over K and V
    "attn:h3kv1q1s190d40:f32",      // 3 rows (not a divisor of the lanes), d % 16 != 0
    "attn:h4kv2q3s257d48c1:f32",    // GQA decode of 3 tokens, causal, 6 rows per kv head
    "attn:b2h6kv2q2s333d16c1:f32",  // batch, causal, chunks some rows see nothing of
    // bf16 Q, K, V (f32 O): fused widens on load, composed runs oneDNN's bf16 primitives;
    // unsupported on the GPU backends
    "attn:h2q33s70d64:bf16",
    "attn:h4kv2q16s16d32c1:bf16",
    "attn:h8kv1q1s1000d64:bf16",  // MQA decode from bf16 K and V, keys split over threads
    "attn:h1q1s4099d128:bf16",
    "attn:h2q20s37d13:bf16",  // odd head dim: the scalar path
    // bf16 dot products (avx512bf16): d = 96 (column chunks of 64 + 32), an odd key count (a
    // key pair half past the end), causal with a KV cache
    "attn:h4kv1q37s131d96c1:bf16",
    // bf16 decode scores from K's rows in pairs: 3 rows per kv head (not a divisor of the
    // lanes), and 4 causal rows over a d = 32 cache
    "attn:h6kv2q1s333d64:bf16",
    "attn:h4kv1q1s200d32c1:bf16",
};

TB_BACKEND_SUITE(AttentionTest, kShapes);

// Every oneDNN attention path on every shape: composed, and fused capped at each ISA (a path
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
INSTANTIATE_TEST_SUITE_P(Paths, OnednnAttentionPath,
                         ::testing::Combine(::testing::Values("composed", "avx512bf16", "avx512",
                                                              "avx2", "scalar"),
                                            ::testing::ValuesIn(kShapes)),
                         test::param_name);

TEST(OnednnAttention, ReportsWhichPathRan) {
  Backend* b = test::backend("onednn");
  if (!b || !b->availability().available) GTEST_SKIP();
  const auto p = Problem::parse("attn:h2q40d32c1:f32").value();
  const auto fused_flag = [&](const char* mode, const Problem& pr) {
    setenv("TB_ONEDNN_ATTENTION", mode, 1);
    auto k = b->prepare(pr, PrepareOptions{});
    unsetenv("TB_ONEDNN_ATTENTION");
    if (!k) return -1.0;
    for (const auto& [name, v] : k.value()->details())
      if (name == "attention_fused") return v;
    return -2.0;
  };
  EXPECT_EQ(fused_flag("fused", p), 1.0);
  EXPECT_EQ(fused_flag("composed", p), 0.0);
  EXPECT_EQ(fused_flag("auto", p), 1.0);  // f32: fused by default
  // bf16: fused for decode (it reads the cache at half the bytes) and for prefill with bf16 dot
  // products; composed (bf16 matmuls) for prefill the fused kernel would widen to f32.
  const auto decode = Problem::parse("attn:h8kv2q1s300d64:bf16").value();
  const auto prefill = Problem::parse("attn:h2q40d32:bf16").value();
  const auto prefill_d48 = Problem::parse("attn:h2q40d48:bf16").value();  // no bf16 pairs
  // Composed needs oneDNN's bf16 matmuls, which an AVX2 CPU lacks: there fused runs it all.
  const bool dot = cpu::fused::isa_for({1, 2, 2, 40, 40, 32, false, true}) == "avx512bf16";
  const bool bf16_mm = b->prepare(Problem::parse("gemm:m8n8k8:bf16").value(), {}).ok();
  EXPECT_EQ(fused_flag("auto", decode), 1.0);
  EXPECT_EQ(fused_flag("auto", prefill), dot || !bf16_mm ? 1.0 : 0.0);
  EXPECT_EQ(fused_flag("auto", prefill_d48), bf16_mm ? 0.0 : 1.0);
  EXPECT_EQ(fused_flag("fused", prefill_d48), 1.0);
  setenv("TB_ONEDNN_ATTENTION", "fused", 1);
  EXPECT_TRUE(b->supports(p, 0).supported);
  EXPECT_TRUE(b->supports(Problem::parse("attn:h2q40d32:bf16").value(), 0).supported);
  EXPECT_FALSE(b->supports(Problem::parse("attn:h2q40d640:f32").value(), 0).supported);
  setenv("TB_ONEDNN_ATTENTION", "bogus", 1);
  EXPECT_FALSE(b->supports(p, 0).supported);
  unsetenv("TB_ONEDNN_ATTENTION");
}

// Split-K (flash-decoding) with any number of key ranges, each ISA the CPU has, gives the
// one-pass result: ranges that are ragged, one tile, or past every key a causal row sees.
TEST(FusedAttention, KeyChunksMatchOnePass) {
  using cpu::fused::Shape;
  const Shape shapes[] = {{1, 1, 1, 1, 1000, 64, false},
                          {1, 8, 2, 1, 777, 32, false},   // GQA, 4 rows per kv head
                          {2, 4, 2, 3, 301, 48, true},    // causal decode of 3 tokens
                          {1, 2, 1, 8, 200, 16, false}};  // 16 rows: the K^T path
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  int tested = 0;
  for (const Shape& sh : shapes) {
    const auto fill = [&](std::int64_t n) {
      std::vector<float> v(static_cast<std::size_t>(n));
      for (float& x : v) x = u(rng);
      return v;
    };
    const auto Q = fill(sh.b * sh.h * sh.q * sh.d), K = fill(sh.b * sh.kv * sh.s * sh.d),
               V = fill(sh.b * sh.kv * sh.s * sh.d);
    std::vector<float> ws(cpu::fused::workspace_bytes(sh) / 4 + 1);
    float* wsp = cpu::fused::use_transpose(sh) ? ws.data() : nullptr;
    const auto run = [&](const std::string& isa, std::int64_t chunks) {
      std::vector<float> O(Q.size());
      const auto f = isa == "avx512" ? cpu::fused::run_avx512
                     : isa == "avx2" ? cpu::fused::run_avx2
                                     : cpu::fused::run_scalar;
      EXPECT_TRUE(f(sh, Q.data(), K.data(), V.data(), O.data(), wsp, chunks));
      return O;
    };
    for (const std::string isa : {"avx512", "avx2", "scalar"}) {
      setenv("TB_ATTENTION_ISA", isa.c_str(), 1);
      const bool usable = cpu::fused::isa_for(sh) == isa;
      unsetenv("TB_ATTENTION_ISA");
      if (!usable) continue;
      ++tested;
      const auto one = run(isa, 1);
      for (std::int64_t chunks : {2, 3, 7, 16, 100}) {
        const auto split = run(isa, chunks);
        for (std::size_t i = 0; i < one.size(); ++i)
          ASSERT_NEAR(split[i], one[i], 1e-5f * (1.0f + std::fabs(one[i])))
              << isa << " chunks " << chunks << " s " << sh.s << " at " << i;
      }
    }
  }
  EXPECT_GE(tested, 4);  // scalar at least, for every shape
  EXPECT_GT(cpu::fused::key_chunks({1, 1, 1, 1, 4096, 128, false}), 1);    // one head: split
  EXPECT_EQ(cpu::fused::key_chunks({1, 8, 8, 2048, 2048, 64, false}), 1);  // prefill: not
  EXPECT_EQ(cpu::fused::key_chunks({1, 1, 1, 1, 2, 64, false}), 1);        // one tile
}

// Scores far outside exp's range, whose max keeps growing along the keys (the running max is
// raised lazily, only past a threshold, so rescaling must be exact whenever it happens), or
// falls, or jumps late: each ISA, f32 and bf16 (bf16 dot products included), through K^T (10
// rows per kv head) and straight from K (decode, 4 rows), one pass and split over keys, against
// softmax in double over the same (rounded) inputs. Large scores also make the test sensitive
// to the score scale, which near-uniform softmaxes of random inputs hide.
TEST(FusedAttention, ExtremeAndGrowingScores) {
  using cpu::fused::Shape;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  int tested = 0;
  for (const bool bf16 : {false, true})
    for (Shape sh : {Shape{1, 2, 1, 5, 700, 32}, Shape{1, 4, 1, 1, 700, 64}}) {
      sh.bf16 = bf16;
      const std::int64_t rows = sh.h * sh.q, d = sh.d;
      // Score of key j for row r ~ (1 + r / 10) * ramp(j): up to ~2000 in natural-log units.
      const auto ramp = [&](int kind, std::int64_t j) {
        const double x = static_cast<double>(j) / sh.s;
        switch (kind) {
          case 0:
            return 1000.0 * x;  // grows by ~1.4 per key: a rescale nearly every tile
          case 1:
            return -1000.0 * x;  // falls: later tiles underflow to 0
          default:
            return j == sh.s - 3 ? 400.0 : 5.0 * x;  // one late outlier
        }
      };
      // bf16: the inputs rounded, the reference computed from the rounded values.
      const auto round = [&](float x) { return bf16 ? bf16_to_f32(f32_to_bf16(x)) : x; };
      std::vector<float> Q(static_cast<std::size_t>(rows * d)),
          K(static_cast<std::size_t>(sh.s * d)), V(K.size());
      for (int kind = 0; kind < 3; ++kind) {
        // Q row r = e_0 sqrt(d) (1 + r / 10) + noise, K row j = e_0 ramp(j) + small noise.
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t t = 0; t < d; ++t)
            Q[r * d + t] =
                round(t == 0 ? static_cast<float>(std::sqrt(d) * (1.0 + r / 10.0)) : u(rng));
        for (std::int64_t j = 0; j < sh.s; ++j)
          for (std::int64_t t = 0; t < d; ++t) {
            K[j * d + t] = round(t == 0 ? static_cast<float>(ramp(kind, j)) : 0.01f * u(rng));
            V[j * d + t] = round(u(rng));
          }
        std::vector<double> want(Q.size());
        for (std::int64_t r = 0; r < rows; ++r) {
          std::vector<double> sc(static_cast<std::size_t>(sh.s));
          double mx = -1e300, sum = 0.0;
          for (std::int64_t j = 0; j < sh.s; ++j) {
            double dot = 0.0;
            for (std::int64_t t = 0; t < d; ++t) dot += double(Q[r * d + t]) * K[j * d + t];
            sc[j] = dot / std::sqrt(double(d));
            mx = std::max(mx, sc[j]);
          }
          for (auto& x : sc) sum += (x = std::exp(x - mx));
          for (std::int64_t j = 0; j < sh.s; ++j)
            for (std::int64_t t = 0; t < d; ++t) want[r * d + t] += sc[j] / sum * V[j * d + t];
        }
        const auto to16 = [](const std::vector<float>& v) {
          std::vector<std::uint16_t> h(v.size());
          for (std::size_t i = 0; i < v.size(); ++i) h[i] = f32_to_bf16(v[i]);
          return h;
        };
        const auto Qh = to16(Q), Kh = to16(K), Vh = to16(V);
        const void* q = bf16 ? static_cast<const void*>(Qh.data()) : Q.data();
        const void* k = bf16 ? static_cast<const void*>(Kh.data()) : K.data();
        const void* v = bf16 ? static_cast<const void*>(Vh.data()) : V.data();
        std::vector<float> ws(cpu::fused::workspace_bytes(sh) / 4 + 1);
        float* wsp = cpu::fused::use_transpose(sh) ? ws.data() : nullptr;
        // bf16: P is rounded to bf16 on the dot-product path (2^-9 relative).
        const double tol = bf16 ? 1e-2 : 1e-4;
        for (const std::string isa : {"avx512bf16", "avx512", "avx2", "scalar"}) {
          setenv("TB_ATTENTION_ISA", isa.c_str(), 1);
          const bool usable = cpu::fused::isa_for(sh) == isa;
          unsetenv("TB_ATTENTION_ISA");
          if (!usable) continue;
          ++tested;
          const auto f = isa == "avx512bf16" ? cpu::fused::run_avx512bf16
                         : isa == "avx512"   ? cpu::fused::run_avx512
                         : isa == "avx2"     ? cpu::fused::run_avx2
                                             : cpu::fused::run_scalar;
          for (std::int64_t chunks : {1, 3}) {
            std::vector<float> O(Q.size());
            ASSERT_TRUE(f(sh, q, k, v, O.data(), wsp, chunks));
            for (std::size_t i = 0; i < O.size(); ++i)
              ASSERT_NEAR(O[i], want[i], tol * (1.0 + std::fabs(want[i])))
                  << isa << (bf16 ? " bf16" : " f32") << " rows " << rows << " kind " << kind
                  << " chunks " << chunks << " at " << i;
          }
        }
      }
    }
  EXPECT_GE(tested, 4 * 3);  // scalar at least, for both dtypes and shapes, each kind
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

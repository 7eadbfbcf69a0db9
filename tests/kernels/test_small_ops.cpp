// The small op families on every backend against the reference, one suite each: pooling (max,
// avg, global), row ops (softmax, layer and RMS norm), binary (add / mul), RoPE, embedding lookup,
// KV-cache write, permute, slice; and their problem strings.
#include <gtest/gtest.h>

#include <tuple>

#include "backend_fixture.h"

namespace tb {
namespace {

const std::vector<std::string> kPoolShapes = {
    "maxpool:n1c16h8w8r2s2st2:f32",
    "maxpool:n2c5h13w11r3s3st2p1:f32",
    "maxpool:n1c1h1w1r1s1:f32",
    "avgpool:n1c17h9w9r3s3p1:f32",
    "avgpool:n1c8h7w7r7s7:f32",
    "avgpool:n1c16h8w8r2s2st2:bf16",
    "gpool:n1c1280h7w7:f32",
    "gpool:n3c7h5w3:f32",
    // extra padding at the bottom and right (TensorFlow's SAME with stride 2 on an even image);
    // the average excludes it from each window's count
    "maxpool:n1c16h8w8r3s3st2pe1:f32",
    "avgpool:n2c5h9w7r3s3st2p1pe1:f32",
    "avgpool:n1c16h8w8r3s3st2pe2:bf16",
};
TB_BACKEND_SUITE(PoolTest, kPoolShapes);

const std::vector<std::string> kRowOpShapes = {
    "softmax:m1n1:f32",     "softmax:m7n1000:f32", "softmax:m64n4099:f32", "softmax:m16n128:bf16",
    "lnorm:m1n17:f32",      "lnorm:m33n768:f32",   "lnorm:m8n4096:bf16",   "rmsnorm:m1n1:f32",
    "rmsnorm:m31n4096:f32", "rmsnorm:m5n77:f32",
};
TB_BACKEND_SUITE(RowOpTest, kRowOpShapes);

const std::vector<std::string> kBinaryShapes = {
    "add:n1:f32",
    "add:n100003:f32",
    "mul:n4097:f32",
    "add:n1000:bf16",
};
TB_BACKEND_SUITE(BinaryTest, kBinaryShapes);

const std::vector<std::string> kRopeShapes = {
    "rope:t1h1d2:f32",
    "rope:t17h8d64:f32",
    "rope:t5h3d126:f32",
};
TB_BACKEND_SUITE(RopeTest, kRopeShapes);

// Rows widened to f32 from every table type (a bf16 tier's tied embedding, read in its segment),
// s8 rows times their row scale (an int8 tier's).
const std::vector<std::string> kEmbedShapes = {
    "embed:v1d1t1:f32",    "embed:v1000d64t37:f32", "embed:v32000d129t5:f32",
    "embed:v50d16t9:bf16", "embed:v7d3t4:bf16",     "embed:v1000d576t1:bf16",
    "embed:v33d6t5:f16",   "embed:v50d16t9:s8",     "embed:v1000d576t3:s8",
    "embed:v7d3t4:s8",
};
TB_BACKEND_SUITE(EmbedTest, kEmbedShapes);

// The kernel form writes the whole output: the cache copied, the token's rows replaced (a graph
// runs it in place: test_graph_states.cpp). A bf16 or f16 cache takes the f32 token rounded.
const std::vector<std::string> kKvWriteShapes = {
    "kvwrite:h1s1d1p0:f32",          "kvwrite:h3s128d64p127:f32", "kvwrite:h2s17d7p5:f32",
    "kvwrite:h3s16d64p0:bf16",       "kvwrite:h2s5d7p2:bf16",     "kvwrite:h2s9d6p3:f16",
    "kvwrite:h32s1024d128p1000:f32",
};
TB_BACKEND_SUITE(KvWriteTest, kKvWriteShapes);

// [a][b][c] -> [b][a][c]: a prefill's tokens-major q, k, v to heads-major and back.
const std::vector<std::string> kPermuteShapes = {
    "permute:a1b1c1:f32",     "permute:a128b9c64:f32", "permute:a7b5c3:f32",
    "permute:a9b128c64:bf16", "permute:a3b4c5:bf16",   "permute:a6b2c8:f16",
};
TB_BACKEND_SUITE(PermuteTest, kPermuteShapes);

// [o][r][n] -> [o][c][n], rows s + j t: a prefill's last token (s = r - 1), an imported Slice.
const std::vector<std::string> kSliceShapes = {
    "slice:r1n1s0c1:f32",    "slice:r128n576s127c1:f32",  "slice:o3r10n7s1c3t3:f32",
    "slice:o2r9n5s8c1:f32",  "slice:r128n576s127c1:bf16", "slice:o4r6n6s0c3t2:bf16",
    "slice:o2r7n10s2c5:f16",
};
TB_BACKEND_SUITE(SliceTest, kSliceShapes);

TEST(SmallOpProblem, RoundTrips) {
  for (const char* s :
       {"maxpool:n1c64h112w112r3s3st2p1:f32", "avgpool:n1c8h7w7r7s7:f32", "gpool:n1c1280h7w7:f32",
        "softmax:m128n1000:f32", "lnorm:m512n768:bf16", "rmsnorm:m1n4096:f32", "add:n4096:f32",
        "mul:n7:f32", "rope:t128h32d128:f32", "embed:v32000d4096t128:f32",
        "maxpool:n1c96h112w112r3s3st2pe1:f32", "kvwrite:h8s4096d128p4095:bf16",
        "permute:a128b9c64:f32", "slice:r128n576s127c1:f32", "slice:o3r10n7s1c3t3:bf16"}) {
    auto p = Problem::parse(s);
    ASSERT_TRUE(p.ok()) << s << ": " << p.error().message;
    EXPECT_EQ(p->str(), s);
    EXPECT_EQ(Problem::parse(p->str()).value(), p.value());
  }
}

TEST(SmallOpProblem, ShapesAndTypes) {
  const auto g = Problem::parse("gpool:n2c3h4w5:f32").value();
  EXPECT_EQ(g.outputs()[0].shape, (std::vector<std::int64_t>{2, 3}));
  const auto kv = Problem::parse("kvwrite:h3s16d8p2:bf16").value();
  EXPECT_EQ(kv.inputs()[0].dtype, DType::f32);
  EXPECT_EQ(kv.inputs()[0].shape, (std::vector<std::int64_t>{3, 8}));
  EXPECT_EQ(kv.inputs()[1].dtype, DType::bf16);
  EXPECT_EQ(kv.outputs()[0].shape, (std::vector<std::int64_t>{3, 16, 8}));
  const auto sl = Problem::parse("slice:o2r9n5s1c2t4:bf16").value();  // rows 1 and 5
  EXPECT_EQ(sl.inputs()[0].shape, (std::vector<std::int64_t>{2, 9, 5}));
  EXPECT_EQ(sl.outputs()[0].shape, (std::vector<std::int64_t>{2, 2, 5}));
  EXPECT_EQ(sl.outputs()[0].dtype, DType::bf16);
  const auto e = Problem::parse("embed:v10d4t3:f32").value();
  EXPECT_EQ(e.inputs()[1].dtype, DType::s32);
  const auto eb = Problem::parse("embed:v10d4t3:bf16").value();
  EXPECT_EQ(eb.inputs()[0].dtype, DType::bf16);
  EXPECT_EQ(eb.outputs()[0].dtype, DType::f32);
  const auto es = Problem::parse("embed:v10d4t3:s8").value();
  ASSERT_EQ(es.inputs().size(), 3u);
  EXPECT_EQ(es.inputs()[0].dtype, DType::s8);
  EXPECT_EQ(es.inputs()[2].shape, (std::vector<std::int64_t>{10}));
  EXPECT_EQ(EmbedDesc::row(-1, 10), 9);
  EXPECT_EQ(EmbedDesc::row(23, 10), 3);
  EXPECT_EQ(Problem::parse("lnorm:m2n3:f32")->inputs().size(), 3u);
  EXPECT_EQ(Problem::parse("rmsnorm:m2n3:f32")->inputs().size(), 2u);
  // pe: (8 + 0 + 1 - 3) / 2 + 1 = 4
  const auto same = Problem::parse("maxpool:n1c4h8w8r3s3st2pe1:f32").value();
  EXPECT_EQ(same.outputs()[0].shape, (std::vector<std::int64_t>{1, 4, 4, 4}));
}

TEST(SmallOpProblem, RejectsBadInput) {
  for (const char* s : {"maxpool:n1c4h4w4r2:f32",
                        "maxpool:n1c4h4w4r2s2p2:f32",
                        "maxpool:n1c4h8w8r3s3p1pe2:f32",
                        "avgpool:n1c4h8w8r3s3pe-1:f32",
                        "gpool:n1c4h4w4r2s2:f32",
                        "softmax:m4:f32",
                        "rope:t2h2d3:f32",
                        "add:n4:f32+relu",
                        "embed:v0d4t4:f32",
                        "norm:m1n1:f32",
                        "kvwrite:h1s4d4p4:f32",
                        "kvwrite:h1s4d4:f32",
                        "kvwrite:h1s4d4p-1:f32",
                        "kvwrite:h1s4d4p0:f32+relu",
                        "slice:r4n2s4c1:f32",
                        "slice:r4n2s1c2t3:f32",
                        "slice:r4n2s0c0:f32",
                        "slice:r4n2s0c1t0:f32",
                        "slice:r4n2c1:f32",
                        "slice:r9223372036854775807n1s1c4611686018427387904t2:f32"})
    EXPECT_FALSE(Problem::parse(s).ok()) << s;
}

TEST(SmallOpProblem, IntegerTypesAreUnsupported) {
  Backend* ref = test::backend("reference");
  ASSERT_TRUE(ref);
  EXPECT_FALSE(ref->supports(Problem::parse("softmax:m2n8:s8").value(), 0).supported);
}

}  // namespace
}  // namespace tb

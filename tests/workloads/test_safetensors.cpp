// The safetensors reader and writer: round trip, and every malformed file a clean error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "models.h"
#include "safetensors.h"
#include "weights.h"

namespace tb::workloads {
namespace {

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tb_st_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* n) const { return (dir_ / n).string(); }
  // A file with a given header text and `data` bytes after it.
  std::string raw_file(const char* n, const std::string& header, std::size_t data) const {
    std::ofstream f(path(n), std::ios::binary);
    const std::uint64_t len = header.size();
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>((len >> (8 * i)) & 0xff));
    f << header << std::string(data, '\x01');
    return path(n);
  }
  std::filesystem::path dir_;
};

TEST_F(Safetensors, RoundTrip) {
  const std::vector<StSpec> specs = {
      {"a.weight", DType::f32, {3, 5}}, {"b", DType::bf16, {7}}, {"c", DType::s8, {2, 2, 2}}};
  auto w = write_safetensors(path("x.safetensors"), specs, {{"k", "v"}},
                             [](std::size_t i, std::span<std::byte> out) {
                               for (std::size_t j = 0; j < out.size(); ++j)
                                 out[j] = static_cast<std::byte>(i * 31 + j);
                             });
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto h = read_safetensors_header(path("x.safetensors"));
  ASSERT_TRUE(h.ok()) << h.error().message;
  ASSERT_EQ(h->tensors.size(), 3u);
  EXPECT_EQ(h->metadata.at("k"), "v");
  EXPECT_EQ(h->data_start % 8, 0u);
  const auto* b = h->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::bf16);
  EXPECT_EQ(b->shape, (std::vector<std::int64_t>{7}));
  for (bool cold : {false, true}) {
    auto t = read_safetensors(path("x.safetensors"), *h, {"c", "a.weight"}, cold);
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_EQ(t->size(), 2u);
    EXPECT_EQ((*t)[0].dtype(), DType::s8);
    EXPECT_EQ((*t)[1].shape(), (std::vector<std::int64_t>{3, 5}));
    for (std::size_t j = 0; j < 8; ++j)
      EXPECT_EQ((*t)[0].raw()[j], static_cast<std::byte>(2 * 31 + j));
    EXPECT_EQ((*t)[1].raw()[59], static_cast<std::byte>(59));
  }
}

TEST_F(Safetensors, CorruptFilesAreCleanErrors) {
  const auto expect_error = [](const std::string& p, const char* needle) {
    auto h = read_safetensors_header(p);
    ASSERT_FALSE(h.ok()) << p;
    EXPECT_NE(h.error().message.find(needle), std::string::npos) << h.error().message;
  };
  expect_error(path("missing"), "open");
  { std::ofstream(path("short"), std::ios::binary) << "abc"; }
  expect_error(path("short"), "too short");
  expect_error(raw_file("json", "{not json", 0), "not JSON");
  expect_error(raw_file("arr", "[1,2]", 0), "not a JSON object");
  const std::string good = R"({"t":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})";
  expect_error(raw_file("trunc", good, 10), "outside the data");
  expect_error(raw_file("span", R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]}})", 24),
               "need 16");
  expect_error(raw_file("dtype", R"({"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}})", 2),
               "unsupported dtype");
  expect_error(raw_file("noshape", R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", 4), "needs");
  // Header length beyond the file.
  {
    std::ofstream f(path("len"), std::ios::binary);
    for (int i = 0; i < 8; ++i) f.put(i == 1 ? '\x10' : '\0');
    f << "{}";
  }
  expect_error(path("len"), "exceeds the file");
  EXPECT_TRUE(read_safetensors_header(raw_file("ok", good, 24)).ok());
}

TEST_F(Safetensors, WeightsFileChecksTheArchitecture) {
  auto g = build_tier("person-detect", "int8");
  ASSERT_TRUE(g.ok());
  auto made = ensure_weights_file(*g, path("pd.safetensors"), 7);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_TRUE(*made);
  EXPECT_FALSE(*ensure_weights_file(*g, path("pd.safetensors"), 7));  // cached
  auto w = load_weights(*g, path("pd.safetensors"), true);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->tensors.size(), g->weights.size());
  EXPECT_EQ(static_cast<std::int64_t>(w->bytes), g->figures().weight_bytes);
  // Deterministic: the same seed writes the same bytes.
  ASSERT_TRUE(ensure_weights_file(*g, path("pd2.safetensors"), 7).ok());
  auto w2 = load_weights(*g, path("pd2.safetensors"), false);
  ASSERT_TRUE(w2.ok());
  for (std::size_t i = 0; i < w->tensors.size(); ++i)
    ASSERT_EQ(std::memcmp(w->tensors[i].raw(), w2->tensors[i].raw(), w->tensors[i].bytes()), 0);
  // The f32 architecture needs other dtypes: a user file of the wrong kind names the tensor.
  auto f = build_tier("person-detect", "f32");
  auto bad = load_weights(*f, path("pd.safetensors"), false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(
                "features.0.weight' is I8[16,3,3,3], the architecture needs F32[16,3,3,3]"),
            std::string::npos)
      << bad.error().message;
  // A different architecture's file: a missing tensor.
  auto m = build_tier("mobilenetv2", "int8");
  auto miss = load_weights(*m, path("pd.safetensors"), false);
  ASSERT_FALSE(miss.ok());
  EXPECT_NE(miss.error().message.find("is I8[16,3,3,3], the architecture needs I8[32,3,3,3]"),
            std::string::npos)
      << miss.error().message;
}

// A cached int8 file from before the weights took 7 bits (8-bit values, no "tierbench.s8_max"
// mark) is written again, with the mark; a current one is kept; f32 files carry no mark.
TEST_F(Safetensors, CachedInt8WeightsOfEightBitsAreWrittenAgain) {
  auto g = build_tier("person-detect", "int8");
  ASSERT_TRUE(g.ok());
  std::vector<StSpec> specs;
  for (const auto& w : g->weights) specs.push_back({w.name, w.dtype, w.shape});
  ASSERT_TRUE(write_safetensors(path("old.safetensors"), specs, {{"format", "pt"}},
                                [](std::size_t, std::span<std::byte> out) {
                                  std::memset(out.data(), 0x7f, out.size());  // 127: 8 bits
                                })
                  .ok());
  auto made = ensure_weights_file(*g, path("old.safetensors"), 7);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_TRUE(*made);
  auto h = read_safetensors_header(path("old.safetensors"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->metadata["tierbench.s8_max"], std::to_string(kWeightQMax));
  auto w = load_weights(*g, path("old.safetensors"), false);
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (const auto& t : w->tensors) {
    if (t.dtype() != DType::s8) continue;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      ASSERT_LE(std::abs(static_cast<int>(t.data<std::int8_t>()[i])), kWeightQMax);
    }
  }
  EXPECT_FALSE(*ensure_weights_file(*g, path("old.safetensors"), 7));  // current: kept
}

}  // namespace
}  // namespace tb::workloads

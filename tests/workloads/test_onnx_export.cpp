// ONNX export: the model parses back with the ONNX library, passes onnx::checker, declares opset
// 17, and its initialisers hold exactly the weights tierbench runs (conv weights permuted to
// [k][c/g][r][s], bit for bit). Every tier x dtype exports (reduced configurations for speed).
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "models.h"
#include "onnx_export.h"
#include "weights.h"

namespace tb::workloads {
namespace {

// Weights with a distinct pattern per tensor (reduced graphs: no file needed).
std::vector<Tensor> pattern_weights(const Graph& g) {
  std::vector<Tensor> w;
  int k = 0;
  for (const auto& s : g.weights) {
    Tensor t(s.dtype, s.shape);
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.set(i, s.dtype == DType::s8 ? (i * 7 + k) % 255 - 127 : 0.01 * ((i * 7 + k) % 97) - 0.4);
    w.push_back(std::move(t));
    ++k;
  }
  return w;
}

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

// The weight's bytes as the model must hold them.
std::string expected_bytes(const Graph& g, std::size_t i, const Tensor& t) {
  const auto* raw = reinterpret_cast<const char*>(t.raw());
  bool conv = false;
  for (const auto& l : g.layers)
    if (l.problem && l.problem->as<ConvDesc>() && l.in.at(1).kind == Operand::weight &&
        l.in[1].index == static_cast<int>(i))
      conv = true;
  if (!conv) return std::string(raw, t.bytes());
  const auto& s = t.shape();
  const std::int64_t K = s[0], R = s[1], S = s[2], C = s[3];
  const std::size_t es = dtype_size(t.dtype());
  std::string out(t.bytes(), '\0');
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t r = 0; r < R; ++r)
        for (std::int64_t x = 0; x < S; ++x)
          std::memcpy(&out[(((k * C + c) * R + r) * S + x) * es],
                      raw + (((k * R + r) * S + x) * C + c) * es, es);
  return out;
}

TEST(OnnxExport, PersonDetectF32FromTheWeightsFileTierbenchRuns) {
  auto g = build_tier("person-detect", "f32");
  ASSERT_TRUE(g.ok()) << g.error().message;
  const auto dir = std::filesystem::temp_directory_path() / "tb_test_onnx_export";
  std::filesystem::create_directories(dir);
  const std::string wpath = (dir / "person-detect-f32.safetensors").string();
  std::filesystem::remove(wpath);
  ASSERT_TRUE(ensure_weights_file(*g, wpath, 42).ok());
  auto lw = load_weights(*g, wpath, false);
  ASSERT_TRUE(lw.ok()) << lw.error().message;

  const std::string path = (dir / "person-detect.onnx").string();
  auto sum = export_onnx(*g, lw->tensors, path);
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  EXPECT_TRUE(sum->external_data.empty());
  EXPECT_NO_THROW(onnx::checker::check_model(path));

  onnx::ModelProto m;
  {
    std::ifstream f(path, std::ios::binary);
    ASSERT_TRUE(m.ParseFromIstream(&f));
  }
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).domain(), "");
  EXPECT_EQ(m.opset_import(0).version(), 17);
  EXPECT_EQ(m.ir_version(), 8);
  const auto& gp = m.graph();
  EXPECT_EQ(gp.node_size(), sum->nodes);
  EXPECT_EQ(gp.initializer_size(), sum->initializers);

  // One Conv per conv layer, NCHW inside, NHWC at the input.
  int convs = 0, conv_nodes = 0, transposes = 0;
  for (const auto& l : g->layers) convs += l.problem && l.problem->as<ConvDesc>() ? 1 : 0;
  for (const auto& n : gp.node()) {
    conv_nodes += n.op_type() == "Conv";
    transposes += n.op_type() == "Transpose";
  }
  EXPECT_EQ(conv_nodes, convs);
  EXPECT_EQ(transposes, 1);  // the input's NHWC -> NCHW only
  ASSERT_EQ(gp.input_size(), 1);
  EXPECT_EQ(gp.input(0).name(), "image");
  const auto& in_shape = gp.input(0).type().tensor_type().shape();
  ASSERT_EQ(in_shape.dim_size(), 4);
  EXPECT_EQ(in_shape.dim(1).dim_value(), 96);
  EXPECT_EQ(in_shape.dim(3).dim_value(), 3);
  ASSERT_EQ(gp.output_size(), 1);
  const auto& out_shape = gp.output(0).type().tensor_type().shape();
  ASSERT_EQ(out_shape.dim_size(), 2);
  EXPECT_EQ(out_shape.dim(1).dim_value(), 2);

  // Every weight is an initialiser of its safetensors name holding exactly its bytes.
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : gp.initializer()) inits[t.name()] = &t;
  for (std::size_t i = 0; i < g->weights.size(); ++i) {
    const auto& ws = g->weights[i];
    ASSERT_TRUE(inits.count(ws.name)) << ws.name;
    const auto* t = inits[ws.name];
    EXPECT_EQ(t->data_type(), onnx::TensorProto::FLOAT) << ws.name;
    EXPECT_EQ(t->raw_data(), expected_bytes(*g, i, lw->tensors[i])) << ws.name;
  }
  std::filesystem::remove_all(dir);
}

TEST(OnnxExport, ExternalDataBesideTheModel) {
  auto g = build_tier("person-detect", "f32");
  ASSERT_TRUE(g.ok());
  const auto w = pattern_weights(*g);
  const auto dir = std::filesystem::temp_directory_path() / "tb_test_onnx_external";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.onnx").string();
  OnnxExportOptions o;
  o.external_data = "m.weights";
  auto sum = export_onnx(*g, w, path, o);
  ASSERT_TRUE(sum.ok()) << sum.error().message;
  EXPECT_EQ(sum->external_data, "m.weights");
  EXPECT_GT(std::filesystem::file_size(dir / "m.weights"), 400'000u);
  EXPECT_LT(std::filesystem::file_size(path), 200'000u);
  EXPECT_NO_THROW(onnx::checker::check_model(path));
  std::filesystem::remove_all(dir);
}

// Every tier, dtype and variant kind exports to a model the checker accepts.
struct Case {
  const char *tier, *dtype, *variant;
};
class OnnxExportTiers : public ::testing::TestWithParam<Case> {};

TEST_P(OnnxExportTiers, ChecksAndKeepsTheWeights) {
  const Case c = GetParam();
  BuildOptions bo;
  bo.variant = c.variant;
  bo.reduced = true;
  auto g = build_tier(c.tier, c.dtype, bo);
  ASSERT_TRUE(g.ok()) << g.error().message;
  const auto w = pattern_weights(*g);
  OnnxExportSummary sum;
  auto bytes = onnx_model_bytes(*g, w, {}, &sum);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  const onnx::ModelProto m = parse(*bytes);
  EXPECT_EQ(m.opset_import(0).version(), 17);
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : m.graph().initializer()) inits[t.name()] = &t;
  for (std::size_t i = 0; i < g->weights.size(); ++i) {
    ASSERT_TRUE(inits.count(g->weights[i].name)) << g->weights[i].name;
    EXPECT_EQ(inits[g->weights[i].name]->raw_data(), expected_bytes(*g, i, w[i]))
        << g->weights[i].name;
  }
  // The states (KV caches) are inputs after the model input, with seeded contents.
  const auto states = onnx_state_inputs(*g, 42);
  ASSERT_EQ(m.graph().input_size(), 1 + static_cast<int>(states.size()));
  EXPECT_EQ(m.graph().input(0).name(), g->values[static_cast<std::size_t>(g->input)].name);
  for (std::size_t i = 0; i < states.size(); ++i)
    EXPECT_EQ(m.graph().input(static_cast<int>(i) + 1).name(), states[i].first);
}

INSTANTIATE_TEST_SUITE_P(
    All, OnnxExportTiers,
    ::testing::Values(Case{"person-detect", "f32", "b1"}, Case{"person-detect", "int8", "b1"},
                      Case{"mobilenetv2", "bf16", "b2"}, Case{"resnet50", "f32", "b2"},
                      Case{"resnet50", "bf16", "b1"}, Case{"resnet50", "int8", "b1"},
                      Case{"bert-base", "f32", "seq16"}, Case{"bert-base", "bf16", "seq16"},
                      Case{"llm-135m", "f32", "decode:kv16"}, Case{"llm-135m", "bf16", "prefill8"},
                      Case{"llm-135m", "int8", "decode:kv16"},
                      Case{"llm-1b", "bf16", "decode:kv8"}),
    [](const auto& info) {
      std::string n =
          std::string(info.param.tier) + "_" + info.param.dtype + "_" + info.param.variant;
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(OnnxExport, AGraphWithoutAMappingIsAnErrorNamingTheTierAndLayer) {
  auto g = build_tier("person-detect", "int8");
  ASSERT_TRUE(g.ok());
  // A fused int8 epilogue (+scales) is what the executor runs, never what a graph describes.
  for (auto& l : g->layers)
    if (l.problem && l.problem->as<ConvDesc>()) {
      l.problem->post.scales = true;
      break;
    }
  auto r = onnx_model_bytes(*g, pattern_weights(*g));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("person-detect"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("features.0"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("no ONNX mapping"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace tb::workloads

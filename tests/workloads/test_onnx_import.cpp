// ONNX import: each supported op against numpy's computation of ONNX's definitions (small models
// built by make_models.py with Debian's onnx package), every tier tierbench exports imported back
// to the same graph computing the same outputs, the model named by its content, and a corpus of
// hostile files rejected with an error naming what is wrong (exit 2 from the CLI).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "executor.h"
#include "kernels.h"
#include "models.h"
#include "onnx_export.h"
#include "onnx_import.h"
#include "reference/reference_backend.h"

namespace tb::workloads {
namespace {

namespace fs = std::filesystem;

// The corpus, written once per test program.
const fs::path& corpus() {
  static test::TempDir dir;
  static const bool made = [] {
    const std::string cmd =
        std::string("/usr/bin/python3 '") + TB_MAKE_MODELS + "' '" + dir.path().string() + "'";
    return std::system(cmd.c_str()) == 0;
  }();
  EXPECT_TRUE(made) << "make_models.py failed";
  return dir.path();
}

nlohmann::json manifest() {
  std::ifstream f(corpus() / "manifest.json");
  return nlohmann::json::parse(f);
}

template <class T>
std::vector<T> read_bin(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

// Runs `g` on the reference backend, or on oneDNN (fast; itself validated against the reference
// by the kernel tests) when comparing two graphs that must compute the same; on the reference
// where oneDNN cannot prepare it (bf16 on an AVX2 CPU).
Tensor run_on(const Graph& g, std::vector<Tensor> w, const Tensor& input, bool onednn = false,
              int* segments = nullptr) {
  std::unique_ptr<Backend> be = make_reference_backend();
  if (onednn)
    for (auto& b : make_backends())
      if (b->name() == "onednn" && b->availability().available) be = std::move(b);
  auto ex = std::make_unique<Executor>(g, w, 42);
  bool prepared = ex->prepare(*be, 0, 1).ok();
  if (!prepared && be->name() == "onednn") {
    be = make_reference_backend();
    ex = std::make_unique<Executor>(g, std::move(w), 42);
    prepared = ex->prepare(*be, 0, 1).ok();
  }
  EXPECT_TRUE(prepared);
  EXPECT_TRUE(ex->upload_weights().ok());
  auto r = ex->infer(input);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (segments) *segments = ex->segments();
  return ex->output();
}

// oneDNN at an ISA whose u8 x s8 kernels saturate int16 pair sums (no VNNI): it refuses int8
// weights beyond 7 bits (onednn_graph's check_weight_range).
bool saturating_onednn(Backend& b) {
  if (b.name() != "onednn") return false;
  const std::string v = b.version();
  for (const char* isa : {"isa avx2)", "isa avx512_core)", "isa other)"})
    if (v.find(isa) != std::string::npos) return true;
  return false;
}

// The case's input as the imported graph takes it (an NCHW image fed NHWC).
Tensor graph_input(const ImportedModel& m, const nlohmann::json& c, const fs::path& in) {
  const Value& v = m.graph.values.at(static_cast<std::size_t>(m.graph.input));
  Tensor t(v.dtype, v.shape);
  if (c["ids"].get<bool>()) {
    const auto ids = read_bin<std::int32_t>(in);
    EXPECT_EQ(static_cast<std::int64_t>(ids.size()), t.numel());
    std::memcpy(t.raw(), ids.data(), t.bytes());
    return t;
  }
  const auto x = read_bin<float>(in);
  EXPECT_EQ(static_cast<std::int64_t>(x.size()), t.numel());
  if (!m.summary.input_nhwc) {
    std::memcpy(t.raw(), x.data(), t.bytes());
    return t;
  }
  const auto& s = v.shape;  // [n][h][w][c]
  for (std::int64_t n = 0; n < s[0]; ++n)
    for (std::int64_t h = 0; h < s[1]; ++h)
      for (std::int64_t w = 0; w < s[2]; ++w)
        for (std::int64_t c2 = 0; c2 < s[3]; ++c2)
          t.set(((n * s[1] + h) * s[2] + w) * s[3] + c2,
                x[static_cast<std::size_t>(((n * s[3] + c2) * s[1] + h) * s[2] + w)]);
  return t;
}

OnnxImportOptions options_for(const nlohmann::json& c) {
  OnnxImportOptions o;
  std::vector<std::string> binds;
  if (c.contains("bind") && c["bind"].is_string()) binds.push_back(c["bind"]);
  if (c.contains("bind") && c["bind"].is_array()) binds = c["bind"].get<std::vector<std::string>>();
  for (const auto& text : binds) {
    auto b = parse_input_binding(text);
    EXPECT_TRUE(b.ok()) << text;
    if (b) o.input_shapes.insert(*b);
  }
  return o;
}

int count_kernels(const Graph& g, std::string_view op) {
  int n = 0;
  for (const auto& l : g.layers)
    if (l.problem && l.problem->op_name() == op) ++n;
  return n;
}

// The worst relative error of out against numpy's values (1e-3 absolute floor); the sizes must
// match.
double worst_rel(const Tensor& out, const std::vector<float>& want) {
  EXPECT_EQ(out.numel(), static_cast<std::int64_t>(want.size()));
  double e = 0;
  for (std::int64_t i = 0; i < std::min<std::int64_t>(out.numel(), want.size()); ++i) {
    const double w = want[static_cast<std::size_t>(i)];
    e = std::max(e, std::abs(out.at(i) - w) / (1e-3 + std::abs(w)));
  }
  return e;
}

// Runs an imported model on every available backend against numpy's values (relative error
// below 2e-3); returns how many backends ran it.
int expect_numpy_on_every_backend(const ImportedModel& m, const Tensor& in,
                                  const std::vector<float>& want) {
  int ran = 0;
  for (auto& be : make_backends()) {
    if (!be->availability().available) continue;
    SCOPED_TRACE(be->name());
    Executor ex(m.graph, m.weights, 42);
    const bool ready = ex.prepare(*be, 0, 1).ok() && ex.upload_weights().ok();
    EXPECT_TRUE(ready);
    if (!ready) continue;
    auto r = ex.infer(in);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) continue;
    EXPECT_LT(worst_rel(ex.output(), want), 2e-3);
    ++ran;
  }
  return ran;
}

TEST(OnnxImport, EachOpMatchesNumpy) {
  const auto mf = manifest();
  ASSERT_GE(mf["cases"].size(), 10u);
  for (const auto& c : mf["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    auto m = import_onnx((corpus() / (name + ".onnx")).string(), options_for(c));
    ASSERT_TRUE(m.ok()) << m.error().message;
    const std::string src = c.contains("src") ? c["src"].get<std::string>() : name;
    const Tensor in = graph_input(*m, c, corpus() / (src + ".in.bin"));
    const Tensor out = run_on(m->graph, m->weights, in);
    const auto want = read_bin<float>(corpus() / (src + ".out.bin"));
    ASSERT_EQ(out.numel(), static_cast<std::int64_t>(want.size()));
    EXPECT_LT(worst_rel(out, want), 1e-3) << "worst relative error";
  }
}

// The Hugging Face LLaMA layer (make_models.py), prefill and a decode step with past caches, on
// every backend: its rmsnorm, rope, KV-cache write and grouped-query attention against numpy.
TEST(OnnxImport, LlamaLayerRunsOnEveryBackend) {
  const auto mf = manifest();
  int found = 0;
  for (const auto& c : mf["cases"]) {
    const std::string name = c["name"];
    if (name != "llama_layer_hf" && name != "llama_decode_hf") continue;
    SCOPED_TRACE(name);
    ++found;
    auto m = import_onnx((corpus() / (name + ".onnx")).string(), options_for(c));
    ASSERT_TRUE(m.ok()) << m.error().message;
    const Tensor in = graph_input(*m, c, corpus() / (name + ".in.bin"));
    const auto want = read_bin<float>(corpus() / (name + ".out.bin"));
    EXPECT_GE(expect_numpy_on_every_backend(*m, in, want), 2);
  }
  EXPECT_EQ(found, 2);
}

TEST(OnnxImport, PatternsFuseIntoTheKernels) {
  const auto g = [](const char* name, const char* bind = nullptr) {
    OnnxImportOptions o;
    if (bind) o.input_shapes.insert(*parse_input_binding(bind));
    auto m = import_onnx((corpus() / (std::string(name) + ".onnx")).string(), o);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
    return m.ok() ? m->graph : Graph{};
  };
  // BatchNormalization folded and the residual Add in the conv's epilogue; the ReLU after it a
  // host activation (the executor folds it into the conv).
  const Graph bn = g("conv_grouped_bn_residual");
  EXPECT_EQ(bn.figures().kernel_layers, 1);
  EXPECT_TRUE(bn.layers.at(0).problem->post.residual);
  // GELU into the first gemm, bias and residual into the second.
  const Graph mlp = g("mlp_gelu_layernorm");
  EXPECT_EQ(count_kernels(mlp, "gemm"), 2);
  EXPECT_EQ(mlp.layers.at(0).problem->post.act, Activation::gelu);
  EXPECT_EQ(mlp.figures().kernel_layers, 3);  // gemm, gemm, layernorm
  EXPECT_EQ(count_kernels(g("layernorm_decomposed"), "lnorm"), 1);
  const Graph att = g("attention");
  EXPECT_EQ(count_kernels(att, "attn"), 1);
  EXPECT_EQ(count_kernels(att, "softmax"), 0);
  EXPECT_EQ(g("gemm_silu").layers.at(0).problem->post.act, Activation::silu);
  EXPECT_EQ(g("conv_depthwise_clip").layers.at(0).problem->post.act, Activation::relu6);
  // The token table by the input ids, the position table by the folded Range (0..t-1).
  EXPECT_EQ(count_kernels(g("embed_dynamic", "ids=5"), "embed"), 2);
  // A Hugging Face LLaMA layer: three RMSNorms, RoPE on q and k (heads-major, read in the
  // kernel's token-major layout), grouped-query attention reading the 2 kv heads (the Expand
  // never computed), SiLU into the gate projection; the RoPE tables are the tiers' own constants.
  const Graph llama = g("llama_layer_hf");
  EXPECT_EQ(count_kernels(llama, "rmsnorm"), 3);
  EXPECT_EQ(count_kernels(llama, "rope"), 2);
  ASSERT_EQ(count_kernels(llama, "attn"), 1);
  for (const auto& l : llama.layers) {
    EXPECT_NE(l.host, HostOp::concat) << l.name;
    if (l.problem && l.problem->op_name() == "attn") {
      EXPECT_EQ(l.problem->str(), "attn:h4kv2q5s5d8c1:f32");
    }
    if (l.problem && l.problem->op_name() == "rope") {
      for (const Operand& o : {l.in.at(1), l.in.at(2)})
        EXPECT_EQ(llama.values.at(static_cast<std::size_t>(o.index)).kind, ValueKind::constant);
    }
  }
  EXPECT_EQ(llama.figures().kernel_layers, 16);
  // The same layer as Hugging Face's decoder-with-past export writes a decode step: the past
  // caches [1][2][5][8] run as states of 6 rows, each Concat(past, new) the in-place write of
  // row 5 (the present outputs are those states), position_ids and attention_mask bound to
  // the step and folded (RoPE at position 5, a mask of zeros), attention over the 6 rows.
  OnnxImportOptions od;
  od.input_shapes = {{"input_ids", {1, 1}}, {"past_key_values.0.key", {1, 2, 5, 8}}};
  auto dm = import_onnx((corpus() / "llama_decode_hf.onnx").string(), od);
  ASSERT_TRUE(dm.ok()) << dm.error().message;
  const Graph& dec = dm->graph;
  EXPECT_EQ(dm->summary.states.size(), 2u);
  EXPECT_EQ(count_kernels(dec, "rope"), 2);
  ASSERT_EQ(count_kernels(dec, "attn"), 1);
  int writes = 0;
  for (const auto& l : dec.layers) {
    EXPECT_NE(l.host, HostOp::concat) << l.name;
    if (l.host == HostOp::kv_write) {
      ++writes;
      EXPECT_EQ(l.pos, 5);
      EXPECT_EQ(dec.values.at(static_cast<std::size_t>(l.out)).shape,
                (std::vector<std::int64_t>{2, 6, 8}));
    }
    if (l.problem && l.problem->op_name() == "attn") {
      EXPECT_EQ(l.problem->str(), "attn:h4kv2q1s6d8c1:f32");
    }
  }
  EXPECT_EQ(writes, 2);
  // The LM head, MatMul by Transpose(embed), reads the embedding table's weight.
  const Layer& head = dec.layers.back();
  ASSERT_TRUE(head.problem);
  ASSERT_EQ(head.in.at(1).kind, Operand::weight);
  EXPECT_EQ(head.in.at(1).index, dec.layers.front().in.at(1).index);
  // At bf16 the caches are bf16 states (as the bf16 tiers keep them) and the head shares a bf16
  // table with the lookup; at int8 one s8 table with row scales serves both, as in the tier.
  for (const DType dt : {DType::bf16, DType::s8}) {
    SCOPED_TRACE(std::string(dtype_name(dt)));
    OnnxImportOptions o2 = od;
    o2.dtype = dt;
    auto m2 = import_onnx((corpus() / "llama_decode_hf.onnx").string(), o2);
    ASSERT_TRUE(m2.ok()) << m2.error().message;
    const Graph& g2 = m2->graph;
    for (const auto& l : g2.layers) {
      if (l.host != HostOp::kv_write) continue;
      EXPECT_EQ(g2.values.at(static_cast<std::size_t>(l.out)).dtype,
                dt == DType::bf16 ? DType::bf16 : DType::f32);
    }
    const Layer& lookup = g2.layers.front();
    EXPECT_EQ(lookup.host, HostOp::embed);
    const int table = lookup.in.at(1).index;
    EXPECT_EQ(g2.weights.at(static_cast<std::size_t>(table)).dtype, dt);
    const auto head = std::find_if(g2.layers.rbegin(), g2.layers.rend(),
                                   [](const Layer& l) { return l.problem.has_value(); });
    ASSERT_NE(head, g2.layers.rend());
    EXPECT_TRUE(std::any_of(head->in.begin(), head->in.end(), [&](const Operand& o) {
      return o.kind == Operand::weight && o.index == table;
    })) << "the LM head reads the lookup's table";
  }
  // Two bindings disagree on a symbolic dimension; a prefill after a past is refused.
  od.input_shapes["past_key_values.0.value"] = {2, 2, 5, 8};
  auto clash = import_onnx((corpus() / "llama_decode_hf.onnx").string(), od);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.error().message.find("'batch_size' is"), std::string::npos)
      << clash.error().message;
  od.input_shapes.erase("past_key_values.0.value");
  od.input_shapes["input_ids"] = {1, 3};
  auto prefill = import_onnx((corpus() / "llama_decode_hf.onnx").string(), od);
  ASSERT_FALSE(prefill.ok());
  EXPECT_NE(prefill.error().message.find("3 tokens at once"), std::string::npos)
      << prefill.error().message;
}

// Weights with a distinct pattern per tensor, small enough that deep graphs stay bounded (s8:
// within the tiers' 7 bits, kWeightQMax).
std::vector<Tensor> pattern_weights(const Graph& g) {
  std::vector<Tensor> w;
  int k = 0;
  for (const auto& s : g.weights) {
    Tensor t(s.dtype, s.shape);
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.set(i, s.dtype == DType::s8 ? (i * 7 + k) % (2 * kWeightQMax + 1) - kWeightQMax
                                    : 0.004 * ((i * 7 + k * 13) % 97) - 0.18);
    w.push_back(std::move(t));
    ++k;
  }
  return w;
}

double max_rel(const Tensor& a, const Tensor& b) {
  double scale = 0, worst = 0;
  for (std::int64_t i = 0; i < b.numel(); ++i) scale = std::max(scale, std::abs(b.at(i)));
  for (std::int64_t i = 0; i < b.numel(); ++i)
    worst = std::max(worst, std::abs(a.at(i) - b.at(i)) / (scale + 1e-12));
  return worst;
}

// A tier as these tests build it: person-detect whole, the larger tiers reduced.
Result<Graph> test_tier(const std::string& tier, const std::string& dtype,
                        const std::string& variant = {}) {
  BuildOptions bo;
  bo.reduced = tier != "person-detect";
  bo.variant = variant;
  return build_tier(tier, dtype, bo);
}

// The same kernels (each problem, epilogues fused as the tier has them) and host ops, in the
// tier's order.
void expect_same_layers(const Graph& a, const Graph& b) {
  ASSERT_EQ(b.layers.size(), a.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const Layer &la = a.layers[i], &lb = b.layers[i];
    ASSERT_EQ(la.problem.has_value(), lb.problem.has_value()) << la.name << " / " << lb.name;
    if (la.problem)
      EXPECT_EQ(lb.problem->str(), la.problem->str()) << la.name << " / " << lb.name;
    else
      EXPECT_EQ(lb.host, la.host) << la.name << " / " << lb.name;
  }
}

// Each tier's f32 export imports back to the same graph computing the same outputs. The LLM
// tiers' files hold the patterns an LLaMA export has: RMSNorm decomposed, rotate-half RoPE with
// cos and sin tables, grouped-query K and V repeated by Expand, a causal mask, SiLU-gated MLPs,
// an LM head tied to the embedding table and, for a decode step, the KV caches as inputs written
// by Slice and Concat. They import to the tier's rmsnorm, rope and grouped-query attention
// kernels, its constants and states (the same seeded caches) and its in-place cache writes.
TEST(OnnxImport, EveryExportedTierRoundTrips) {
  const std::vector<std::pair<std::string, std::string>> tiers = {
      {"person-detect", ""}, {"mobilenetv2", ""},        {"resnet50", ""},
      {"bert-base", ""},     {"llm-135m", "prefill128"}, {"llm-135m", "decode:kv128"}};
  for (const auto& [tier, variant] : tiers) {
    SCOPED_TRACE(tier + " " + variant);
    auto g = test_tier(tier, "f32", variant);
    ASSERT_TRUE(g.ok()) << g.error().message;
    const auto w = pattern_weights(*g);
    auto bytes = onnx_model_bytes(*g, w);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto m = import_onnx_bytes(*bytes, ".");
    ASSERT_TRUE(m.ok()) << m.error().message;
    const auto fa = g->figures(), fb = m->graph.figures();
    EXPECT_EQ(fb.kernel_layers, fa.kernel_layers);
    EXPECT_EQ(fb.host_layers, fa.host_layers);
    EXPECT_EQ(fb.macs, fa.macs);
    EXPECT_EQ(fb.params, fa.params);
    EXPECT_EQ(fb.weight_bytes, fa.weight_bytes);
    EXPECT_EQ(fb.state_bytes, fa.state_bytes);
    expect_same_layers(*g, m->graph);
    const Tensor in = Executor::make_input(*g, 42);
    int sa = 0, sb = 0;  // the same segments: kernels and host ops in the tier's order
    const Tensor want = run_on(*g, w, in, true, &sa);
    const Tensor got = run_on(m->graph, m->weights, in, true, &sb);
    EXPECT_EQ(sb, sa);
    ASSERT_EQ(got.numel(), want.numel());
    EXPECT_LT(max_rel(got, want), 1e-5);
  }
}

// Concat, Slice and Split of computed tensors are host copies: on every backend (each splits its
// device graph around them) they compute numpy's outputs, and the exporter writes them back as
// Concat and Slice nodes that import to the same copies.
TEST(OnnxImport, HostConcatSliceAndSplitRunOnEveryBackendAndRoundTrip) {
  const auto mf = manifest();
  int checked = 0;
  const std::set<std::string> cases = {
      "concat_channels", "concat_class_token", "concat_coord_plane", "slice_channels_spatial",
      "slice_concat_2d", "split_channels",     "split_qkv"};
  for (const auto& c : mf["cases"]) {
    const std::string name = c["name"];
    if (!cases.count(name)) continue;
    SCOPED_TRACE(name);
    ++checked;
    auto m = import_onnx((corpus() / (name + ".onnx")).string(), options_for(c));
    ASSERT_TRUE(m.ok()) << m.error().message;
    int copies = 0;
    for (const auto& l : m->graph.layers)
      copies += l.host == HostOp::concat || l.host == HostOp::slice ? 1 : 0;
    EXPECT_GE(copies, 1);
    const Tensor in = graph_input(*m, c, corpus() / (name + ".in.bin"));
    const auto want = read_bin<float>(corpus() / (name + ".out.bin"));
    const auto worst = [&](const Tensor& out) { return worst_rel(out, want); };
    EXPECT_GE(expect_numpy_on_every_backend(*m, in, want), 2);
    // The exported file's input is the imported graph's own (an image as its NHWC value), so the
    // re-imported graph takes the same input tensor.
    auto bytes = onnx_model_bytes(m->graph, m->weights);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto back = import_onnx_bytes(*bytes, ".");
    ASSERT_TRUE(back.ok()) << back.error().message;
    int copies_back = 0;
    for (const auto& l : back->graph.layers)
      copies_back += l.host == HostOp::concat || l.host == HostOp::slice ? 1 : 0;
    EXPECT_EQ(copies_back, copies);
    EXPECT_LT(worst(run_on(back->graph, back->weights, in)), 1e-3);
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size()));
}

// The bf16 and int8 files the exporter writes (bf16 weights and Casts; int8 weights with their
// scales and tierbench's dynamic QuantizeLinear / DequantizeLinear around each kernel) import
// back, at the file's dtype, to the tier's kernels and segments and compute the tier's outputs
// on the reference backend (bf16: the same kernels on the same bf16 operands; int8: the same
// s8 weights and scales).
TEST(OnnxImport, Bf16AndInt8ExportsRoundTrip) {
  int cases = 0;
  for (const auto& t : tiers()) {
    if (t.name != "person-detect" && t.name != "mobilenetv2" && t.name != "resnet50" &&
        t.name != "bert-base" && t.name != "llm-135m")
      continue;
    for (const char* dt : {"bf16", "int8"}) {
      if (std::find(t.dtypes.begin(), t.dtypes.end(), dt) == t.dtypes.end()) continue;
      SCOPED_TRACE(t.name + ":" + dt);
      ++cases;
      auto g = test_tier(t.name, dt);
      ASSERT_TRUE(g.ok()) << g.error().message;
      const auto w = pattern_weights(*g);
      auto bytes = onnx_model_bytes(*g, w);
      ASSERT_TRUE(bytes.ok()) << bytes.error().message;
      OnnxImportOptions o;
      o.dtype = g->dtype;
      auto m = import_onnx_bytes(*bytes, ".", o);
      ASSERT_TRUE(m.ok()) << m.error().message;
      const auto fa = g->figures(), fb = m->graph.figures();
      EXPECT_EQ(fb.kernel_layers, fa.kernel_layers);
      EXPECT_EQ(fb.host_layers, fa.host_layers);
      EXPECT_EQ(fb.macs, fa.macs);
      EXPECT_EQ(fb.params, fa.params);
      EXPECT_EQ(fb.weight_bytes, fa.weight_bytes);
      expect_same_layers(*g, m->graph);
      const Tensor in = Executor::make_input(*g, 42);
      int sa = 0, sb = 0;
      // The reference backend for person-detect; oneDNN (fast, itself checked against the
      // reference) for the reduced larger tiers, whose reference runs take tens of seconds.
      const bool fast = t.name != "person-detect";
      const Tensor want = run_on(*g, w, in, fast, &sa);
      const Tensor got = run_on(m->graph, m->weights, in, fast, &sb);
      EXPECT_EQ(sb, sa);
      ASSERT_EQ(got.numel(), want.numel());
      EXPECT_LT(max_rel(got, want), 1e-5);
      // At f32 the file's casts and quantisations stay as they are: bf16 rounds as host casts
      // (the same outputs); int8 is refused, naming the dtype to import it with.
      auto m32 = import_onnx_bytes(*bytes, ".");
      if (g->dtype == DType::bf16) {
        ASSERT_TRUE(m32.ok()) << m32.error().message;
        EXPECT_EQ(m32->graph.figures().macs, fa.macs);
        EXPECT_LT(max_rel(run_on(m32->graph, m32->weights, in, fast), want), 1e-2);
      } else {
        ASSERT_FALSE(m32.ok());
        EXPECT_NE(m32.error().message.find("--dtype int8"), std::string::npos)
            << m32.error().message;
      }
    }
  }
  EXPECT_GE(cases, 5);
}

// export-model --static-scales: an int8 tier with the activation scales prepare() calibrated
// written as constants (static QDQ) imports back at int8 to the same kernels with those scales
// (no dynamic quantisation left, no fake quantisation added) and computes what the calibrated
// tier computes.
TEST(OnnxImport, Int8ExportWithStaticScalesImportsAsTheCalibratedTier) {
  for (const char* tier : {"person-detect", "mobilenetv2"}) {
    SCOPED_TRACE(tier);
    auto g = test_tier(tier, "int8");
    ASSERT_TRUE(g.ok()) << g.error().message;
    const auto w = pattern_weights(*g);
    const Tensor in = Executor::make_input(*g, 42);
    auto be = make_reference_backend();
    Executor ex(*g, w, 42);
    EXPECT_FALSE(ex.static_scales().ok()) << "before prepare, nothing is calibrated";
    ASSERT_TRUE(ex.prepare(*be, 0, 1).ok());
    auto sg = ex.static_scales();
    ASSERT_TRUE(sg.ok()) << sg.error().message;
    ASSERT_TRUE(ex.upload_weights().ok());
    ASSERT_TRUE(ex.infer(in).ok());
    const Tensor want = ex.output();
    int fixed = 0;
    for (const auto& l : sg->layers)
      if (l.host == HostOp::quantize) {
        EXPECT_GT(l.qscale, 0) << l.name;
        ++fixed;
      }
    EXPECT_GE(fixed, 10);
    auto bytes = onnx_model_bytes(*sg, w);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    OnnxImportOptions o;
    o.dtype = DType::s8;
    auto m = import_onnx_bytes(*bytes, ".", o);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->graph.figures().kernel_layers, g->figures().kernel_layers);
    EXPECT_EQ(m->graph.figures().macs, g->figures().macs);
    int back = 0, fake = 0;
    for (const auto& l : m->graph.layers) {
      back += l.host == HostOp::quantize && l.qscale > 0 ? 1 : 0;
      fake += l.host == HostOp::fake_quant ? 1 : 0;
      EXPECT_FALSE(l.host == HostOp::quantize && l.qscale <= 0) << l.name << ": dynamic";
    }
    EXPECT_EQ(back, fixed);
    EXPECT_EQ(fake, 0);
    EXPECT_LT(max_rel(run_on(m->graph, m->weights, in), want), 1e-5);
  }
  auto f32 = build_tier("person-detect", "f32", {});
  ASSERT_TRUE(f32.ok());
  auto be = make_reference_backend();
  Executor ex(*f32, pattern_weights(*f32), 42);
  ASSERT_TRUE(ex.prepare(*be, 0, 1).ok());
  EXPECT_FALSE(ex.static_scales().ok()) << "an f32 graph has no activation scales";
  const auto r =
      test::run_tierbench("export-model --workload person-detect:b1:f32 --static-scales -o '" +
                          (corpus() / "x.onnx").string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("int8 workloads only"), std::string::npos) << r.err;
}

// --dtype bf16: an f32 file imported as bf16 computes what the bf16 tier computes with the same
// (bf16-representable) weights; int8 stays near the f32 output.
TEST(OnnxImport, DtypesBuildTheTiersGraphs) {
  BuildOptions bo;
  bo.reduced = true;
  auto g16 = build_tier("mobilenetv2", "bf16", bo);
  auto g32 = build_tier("mobilenetv2", "f32", bo);
  ASSERT_TRUE(g16.ok() && g32.ok());
  const auto w16 = pattern_weights(*g16);
  std::vector<Tensor> w32;
  for (const auto& t : w16) {
    Tensor f(DType::f32, t.shape());
    for (std::int64_t i = 0; i < t.numel(); ++i) f.set(i, t.at(i));
    w32.push_back(std::move(f));
  }
  auto bytes = onnx_model_bytes(*g32, w32);
  ASSERT_TRUE(bytes.ok());
  const Tensor in = Executor::make_input(*g32, 42);
  OnnxImportOptions o;
  o.dtype = DType::bf16;
  auto m16 = import_onnx_bytes(*bytes, ".", o);
  ASSERT_TRUE(m16.ok()) << m16.error().message;
  EXPECT_EQ(m16->graph.figures().kernel_layers, g16->figures().kernel_layers);
  EXPECT_LT(max_rel(run_on(m16->graph, m16->weights, in, true), run_on(*g16, w16, in, true)), 1e-5);
  o.dtype = DType::s8;
  auto m8 = import_onnx_bytes(*bytes, ".", o);
  ASSERT_TRUE(m8.ok()) << m8.error().message;
  EXPECT_GT(count_kernels(m8->graph, "conv"), 0);
  EXPECT_EQ(m8->graph.layers.at(1).problem->dtype, DType::s8);  // after its quantize
  EXPECT_LT(max_rel(run_on(m8->graph, m8->weights, in, true), run_on(*g32, w32, in, true)), 0.1);
}

TEST(OnnxImport, NamedByContentNotPath) {
  const fs::path a = corpus() / "conv_relu.onnx", b = corpus() / "renamed copy.onnx";
  fs::copy_file(a, b, fs::copy_options::overwrite_existing);
  auto ma = import_onnx(a.string()), mb = import_onnx(b.string());
  ASSERT_TRUE(ma.ok() && mb.ok());
  EXPECT_EQ(ma->summary.name, mb->summary.name);
  EXPECT_EQ(ma->summary.name.rfind("onnx-", 0), 0u);
  EXPECT_EQ(ma->summary.hash.size(), 64u);
  EXPECT_EQ(ma->graph.tier, ma->summary.name);
  EXPECT_EQ(ma->graph.variant, "1x3x8x8");
  // External data: read, hashed and counted in the file bytes.
  auto me = import_onnx((corpus() / "conv_relu_external.onnx").string());
  ASSERT_TRUE(me.ok()) << me.error().message;
  ASSERT_EQ(me->summary.files.size(), 2u);
  EXPECT_NE(me->summary.name, ma->summary.name);
  EXPECT_EQ(me->summary.file_bytes, static_cast<std::int64_t>(fs::file_size(me->summary.files[0]) +
                                                              fs::file_size(me->summary.files[1])));
}

// Static QDQ (ONNX Runtime's quantised form: constant activation scales, uint8 and int8 zero
// points): at f32 each pair is a host fake quantisation; with --dtype int8 the int8 kernels
// quantise their inputs with the file's scales (no calibration inference) and only pairs that
// other ops read stay fake quantisations. Either way every backend computes numpy's output of
// ONNX's definitions, and the int8 graph exports and imports back to the same static scales.
TEST(OnnxImport, StaticQdqRunsAtF32AndInt8OnEveryBackendAndRoundTrips) {
  const auto mf = manifest();
  // Per case: the QDQ pairs, and those an int8 graph keeps as fake quantisations. The CNN's
  // first conv pads an input of zero point 128: the int8 kernels pad with u8 zeros, so it runs in
  // f32 on the fake-quantised input (its pair is the fourth fake quantisation).
  const std::map<std::string, std::pair<int, int>> cases = {{"qdq_static_cnn", {5, 4}},
                                                            {"qdq_static_mlp", {2, 0}}};
  int checked = 0;
  for (const auto& c : mf["cases"]) {
    const std::string name = c["name"];
    if (!cases.count(name)) continue;
    ++checked;
    const auto [pairs, fake_in_int8] = cases.at(name);
    const auto want = read_bin<float>(corpus() / (name + ".out.bin"));
    const auto worst = [&](const Tensor& out) { return worst_rel(out, want); };
    const auto count = [](const Graph& g, HostOp op, bool fixed) {
      return static_cast<int>(std::count_if(g.layers.begin(), g.layers.end(), [&](const Layer& l) {
        return l.host == op && (l.qscale > 0) == fixed;
      }));
    };
    for (const DType dt : {DType::f32, DType::s8}) {
      SCOPED_TRACE(name + (dt == DType::s8 ? " int8" : " f32"));
      OnnxImportOptions o = options_for(c);
      o.dtype = dt;
      auto m = import_onnx((corpus() / (name + ".onnx")).string(), o);
      ASSERT_TRUE(m.ok()) << m.error().message;
      const Graph& g = m->graph;
      const int kernels =
          static_cast<int>(std::count_if(g.layers.begin(), g.layers.end(), [](const Layer& l) {
            return l.problem && l.problem->dtype == DType::s8;
          }));
      if (dt == DType::s8) {
        EXPECT_EQ(kernels, 2);  // cnn: conv2 and fc (conv1 in f32); mlp: both MatMuls
      }
      EXPECT_EQ(count(g, HostOp::fake_quant, true), dt == DType::s8 ? fake_in_int8 : pairs);
      EXPECT_EQ(count(g, HostOp::quantize, true), dt == DType::s8 ? kernels : 0);
      EXPECT_EQ(count(g, HostOp::quantize, false), 0) << "no dynamic quantisation";
      EXPECT_EQ(m->summary.notes.empty(), dt == DType::s8 && fake_in_int8 == 0);
      const Tensor in = graph_input(*m, c, corpus() / (name + ".in.bin"));
      for (auto& be : make_backends()) {
        if (!be->availability().available) continue;
        SCOPED_TRACE(be->name());
        Executor ex(g, m->weights, 42);
        auto p = ex.prepare(*be, 0, 1);
        ASSERT_TRUE(p.ok()) << p.error().message;
        for (const auto& [key, v] : p->details)
          if (key == "calibrate_s") {
            EXPECT_EQ(v, 0) << "static scales need no calibration";
          }
        auto up = ex.upload_weights();
        if (!up.ok() && dt == DType::s8 && saturating_onednn(*be)) {
          // The file's 8-bit weights on a CPU without VNNI: refused, naming why.
          EXPECT_NE(up.error().message.find("into int16 with saturation"), std::string::npos)
              << up.error().message;
          continue;
        }
        ASSERT_TRUE(up.ok()) << up.error().message;
        auto r = ex.infer(in);
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_LT(worst(ex.output()), 2e-3);
      }
      auto bytes = onnx_model_bytes(g, m->weights);
      ASSERT_TRUE(bytes.ok()) << bytes.error().message;
      OnnxImportOptions ob;
      ob.dtype = dt;
      auto back = import_onnx_bytes(*bytes, ".", ob);
      ASSERT_TRUE(back.ok()) << back.error().message;
      EXPECT_EQ(count(back->graph, HostOp::fake_quant, true), count(g, HostOp::fake_quant, true));
      EXPECT_EQ(count(back->graph, HostOp::quantize, true), count(g, HostOp::quantize, true));
      EXPECT_LT(worst(run_on(back->graph, back->weights, in)), 1e-3);
    }
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size()));
}

TEST(OnnxImport, HostileFilesAreRejectedNamingTheProblem) {
  const auto mf = manifest();
  ASSERT_GE(mf["hostile"].size(), 16u);
  for (const auto& c : mf["hostile"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    auto m = import_onnx((corpus() / (name + ".onnx")).string(), options_for(c));
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message.find(c["expect"].get<std::string>()), std::string::npos)
        << m.error().message;
  }
}

TEST(OnnxImport, CliExitsTwoOnHostileFilesAndRunsAModel) {
  for (const char* name : {"truncated", "cycle", "huge_initializer", "unsupported_op"}) {
    auto r = test::run_tierbench("list --model '" + (corpus() / name).string() + ".onnx'");
    EXPECT_EQ(r.exit_code, 2) << name;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built (the model runs on it)";
  auto r = test::run_tierbench("run --model '" + (corpus() / "embed_dynamic.onnx").string() +
                               "' --backend onednn --no-isolate --threads 1 --min-reps 2 "
                               "--max-reps 3 --warmup 0 --json --db '" +
                               (corpus() / "r.db").string() + "'");
  EXPECT_EQ(r.exit_code, 2) << "a dynamic dimension left unbound";
  EXPECT_NE(r.err.find("--input ids="), std::string::npos) << r.err;
  r = test::run_tierbench("run --model '" + (corpus() / "embed_dynamic.onnx").string() +
                          "' --input ids=5 --backend onednn --no-isolate --threads 1 --min-reps 2 "
                          "--max-reps 3 --warmup 0 --json --db '" +
                          (corpus() / "r.db").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 1u);
  const auto& res = j["results"][0];
  EXPECT_EQ(res["status"], "passed");
  EXPECT_EQ(res["name"].get<std::string>().rfind("onnx-", 0), 0u);
  EXPECT_EQ(res["name"].get<std::string>().find("embed"), std::string::npos);  // no file name
  // --repetitions runs tiers and models as often as kernels, one result each (isolated here).
  r = test::run_tierbench("run --model '" + (corpus() / "embed_dynamic.onnx").string() +
                          "' --input ids=5 --workload person-detect:b1:f32 --backend onednn "
                          "--repetitions 3 --interleave --threads 1 --min-reps 2 --max-reps 3 "
                          "--warmup 0 --json --db '" +
                          (corpus() / "r.db").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> results;
  const auto repeated = nlohmann::json::parse(r.out);
  for (const auto& x : repeated["results"]) {
    EXPECT_EQ(x["status"], "passed") << x.dump();
    ++results[x["name"].get<std::string>().rfind("onnx-", 0) == 0 ? "model" : x["name"]];
  }
  EXPECT_EQ(results, (std::map<std::string, int>{{"model", 3}, {"person-detect:b1:f32", 3}}));
  r = test::run_tierbench("list --json --model '" + (corpus() / "attention.onnx").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto l = nlohmann::json::parse(r.out);
  EXPECT_GT(l["macs"].get<double>(), 0);
  EXPECT_EQ(l["model"]["ops"]["MatMul"], 6);
}

}  // namespace
}  // namespace tb::workloads

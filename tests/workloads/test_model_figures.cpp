// Every tier's MACs and parameter counts against published figures (within 2%), each with its
// source. Parameters count batch norm folded into conv biases (deployed form), so conv nets come
// out slightly below counts that list BN's gamma and beta separately.
#include <gtest/gtest.h>

#include "models.h"

namespace tb::workloads {
namespace {

Figures figures_of(std::string_view tier, std::string_view dtype, const std::string& variant = {}) {
  BuildOptions o;
  o.variant = variant;
  auto g = build_tier(tier, dtype, o);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return g.ok() ? g->figures() : Figures{};
}

void expect_near_rel(double got, double published, double rel, const char* what) {
  EXPECT_NEAR(got / published, 1.0, rel) << what << ": " << got << " vs published " << published;
}

TEST(ModelFigures, MobileNetV2_1_0_224) {
  // TF-slim mobilenet README (checkpoint table): 300 M MACs, 3.47 M params; paper Table 4:
  // 300M, 3.4M.
  const auto f = figures_of("mobilenetv2", "f32");
  expect_near_rel(f.macs, 300e6, 0.02, "MACs");
  expect_near_rel(static_cast<double>(f.params), 3.47e6, 0.02, "params");
}

TEST(ModelFigures, MobileNetV2_0_35_96) {
  // TF-slim README: mobilenet_v2_0.35_96: 11 M MACs, 1.66 M params (1001 classes). The table
  // truncates MACs to whole millions (1.0_96: 56.29 -> 56, 0.5_96: 18.89 -> 18), so the
  // published 11 means [11, 12).
  const auto f = mobilenet_v2("x", 0.35, 96, 1001, 1, DType::f32).figures();
  EXPECT_GE(f.macs, 11e6);
  EXPECT_LT(f.macs, 12e6);
  expect_near_rel(static_cast<double>(f.params), 1.66e6, 0.02, "params");
  // The person-detect tier: the same network with a 2-class head (derived, not published).
  const auto p = figures_of("person-detect", "int8");
  EXPECT_EQ(p.params, f.params - 1280 * 1001 - 1001 + 1280 * 2 + 2);
  EXPECT_NEAR(p.macs, f.macs - 1280.0 * 999, 1.0);
}

TEST(ModelFigures, ResNet50) {
  // torchvision resnet50 (v1.5): 4.09 GMACs ("GFLOPS" 4.09 in its model table), 25,557,032
  // params of which BN gamma/beta are 2 x 26,560; folded, BN leaves one bias per channel.
  const auto f = figures_of("resnet50", "f32");
  expect_near_rel(f.macs, 4.09e9, 0.02, "MACs");
  expect_near_rel(static_cast<double>(f.params), 25.557e6, 0.02, "params");
  EXPECT_EQ(f.params, 25557032 - 26560);
}

TEST(ModelFigures, BertBase) {
  // Devlin et al. 2018: 110 M params; HF bert-base-uncased: 109,482,240 including the pooler
  // (768 x 768 + 768 = 590,592), which this tier leaves out: 108,891,648 (encoder ~85 M plus
  // 23.8 M of embeddings). MACs at seq 128: 12 x (128 x 7.08 M linear + 2 x 128^2 x 768
  // attention) = 11.2 G, the commonly quoted ~11.2 GMACs for the encoder.
  const auto f = figures_of("bert-base", "f32", "seq128");
  EXPECT_EQ(f.params, 109482240 - 590592);
  expect_near_rel(static_cast<double>(f.params), 110e6, 0.02, "params");
  expect_near_rel(f.macs, 11.2e9, 0.02, "MACs");
}

TEST(ModelFigures, SmolLM135M) {
  // HuggingFaceTB/SmolLM-135M: 134,515,008 params (model card "135M"; safetensors total).
  const auto f = figures_of("llm-135m", "f32", "decode:kv128");
  EXPECT_EQ(f.params, 134515008);
  // Decode MACs: every weight once (lm_head = the tied table) plus attention over 128 keys.
  const double attn = 30 * 2.0 * 9 * 64 * 128;
  expect_near_rel(f.macs, 134515008.0 - 30 * 2 * 576 - 576 + attn, 0.001, "decode MACs");
  const auto b = figures_of("llm-135m", "bf16", "decode:kv128");
  EXPECT_EQ(b.params, f.params);
  EXPECT_EQ(b.weight_bytes, 2 * f.params + 2 * (61 * 576));  // the 61 RMSNorm weights stay f32
}

TEST(ModelFigures, Llama32_1B) {
  // meta-llama/Llama-3.2-1B: 1.24 B params (model card; 1,235,814,400 in the checkpoint).
  const auto f = figures_of("llm-1b", "bf16", "decode:kv128");
  EXPECT_EQ(f.params, 1235814400);
  expect_near_rel(static_cast<double>(f.params), 1.24e9, 0.02, "params");
  const auto q = figures_of("llm-1b", "int8", "decode:kv128");
  EXPECT_LT(q.weight_bytes, f.weight_bytes / 2 + 3'000'000);  // s8 plus per-row f32 scales
}

TEST(ModelFigures, PeakActivationsAreLiveValuesOnly) {
  // MobileNetV2 at 224: the largest live set is the first expand (112x112x96 f32) plus its input.
  const auto f = figures_of("mobilenetv2", "f32");
  EXPECT_GE(f.peak_activation_bytes, 112 * 112 * (96 + 16) * 4);
  EXPECT_LT(f.peak_activation_bytes, 112 * 112 * (96 + 96 + 32) * 4);
}

TEST(ModelFigures, EveryTierDtypeVariantVerifies) {
  for (const auto& t : tiers())
    for (const auto& d : t.dtypes)
      for (const auto& v : t.variants)
        for (bool reduced : {false, true}) {
          BuildOptions o;
          o.variant = v;
          o.reduced = reduced;
          auto g = build_tier(t.name, d, o);
          ASSERT_TRUE(g.ok()) << t.name << " " << d << " " << v << ": " << g.error().message;
          EXPECT_GT(g->figures().macs, 0);
        }
}

TEST(ModelNames, UnknownNamesListTheValidOnes) {
  auto t = build_tier("resnet51", "f32");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("person-detect, mobilenetv2, resnet50"), std::string::npos);
  auto d = build_tier("bert-base", "int8");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("valid: f32, bf16"), std::string::npos);
  BuildOptions o;
  o.variant = "decode:kvx";
  auto v = build_tier("llm-135m", "f32", o);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("decode:kv128"), std::string::npos);
  EXPECT_FALSE(parse_workload("mobilenetv2").ok());
  EXPECT_FALSE(parse_workload("mobilenetv2:b1:f64").ok());
  auto w = parse_workload("llm-135m:decode:kv1024:int8");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->tier, "llm-135m");
  EXPECT_EQ(w->variant, "decode:kv1024");
  EXPECT_EQ(w->str(), "llm-135m:decode:kv1024:int8");
}

}  // namespace
}  // namespace tb::workloads

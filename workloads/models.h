// Model tiers: real architectures, each defined once as a graph of kernel ops (graph.h), from a
// ~0.3 M-parameter int8 person detector to a 1.2 B-parameter LLM decoder.
//
//   person-detect  MobileNetV2 0.35 at 96x96, 2 classes          f32 int8        b1
//   mobilenetv2    MobileNetV2 1.0 at 224x224, 1000 classes      f32 bf16 int8   b1
//   resnet50       ResNet-50 v1.5 at 224x224                     f32 bf16 int8   b1
//   bert-base      BERT-base encoder (with embeddings, no pooler) f32 bf16       seq128 seq384
//   llm-135m       SmolLM-135M-shaped decoder                    f32 bf16 int8   prefill128
//   llm-1b         Llama-3.2-1B-shaped decoder (full suite)      bf16 int8       decode:kv128
//                                                                                decode:kv1024
// A workload is tier:variant:dtype, e.g. "mobilenetv2:b1:f32", "llm-135m:decode:kv1024:int8".
// dtype int8 means s8 weights and u8 activations quantised on the host per tensor (graph.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graph.h"

namespace tb::workloads {

struct BuildOptions {
  std::string variant;   // empty: the tier's default
  bool reduced = false;  // the tier's reduced configuration (validation on the slow reference)
};

struct TierInfo;
// Builds a tier's graph for one variant and dtype (the reduced configuration when asked, with
// its note); nullopt when the variant does not parse, so that the caller names the valid ones.
using TierBuilder = std::optional<Graph> (*)(const TierInfo& t, std::string_view variant, DType dt,
                                             const BuildOptions& o);

struct TierInfo {
  std::string name, description;
  std::vector<std::string> dtypes;    // "f32", "bf16", "int8"
  std::vector<std::string> variants;  // first is the default
  bool full_only = false;             // too large for the quick suite
  std::string variant_pattern;        // the variants beyond the list: "bN", "seqN"
  TierBuilder build = nullptr;        // every tier has one (tiers.cpp)
};

const std::vector<TierInfo>& tiers();
const TierInfo* find_tier(std::string_view name);
std::string tier_names();  // "person-detect, mobilenetv2, ..." for error messages

// "f32" -> f32, "bf16" -> bf16, "int8" -> s8; nullopt otherwise.
std::optional<DType> parse_tier_dtype(std::string_view s);
std::string tier_dtype_name(DType dt);

// The graph of tier x dtype x variant. Errors name the valid tiers, dtypes or variants.
Result<Graph> build_tier(std::string_view tier, std::string_view dtype, const BuildOptions& o = {});

// A workload name "tier:variant:dtype" split and checked.
struct WorkloadName {
  std::string tier, variant, dtype;
  std::string str() const { return tier + ":" + variant + ":" + dtype; }
};
Result<WorkloadName> parse_workload(std::string_view s);

// --- architectures (the tiers instantiate these; tests use them for published variants) -------

Graph mobilenet_v2(const std::string& tier, double width, std::int64_t resolution,
                   std::int64_t classes, std::int64_t batch, DType dt);
Graph resnet50(const std::string& tier, std::int64_t resolution, std::int64_t batch, DType dt,
               int max_blocks_per_stage = 1 << 20);

struct BertConfig {
  std::int64_t seq = 128, hidden = 768, heads = 12, ffn = 3072, vocab = 30522, max_positions = 512;
  int layers = 12;
};
Graph bert(const std::string& tier, const BertConfig& cfg, DType dt);

struct LlmConfig {
  std::int64_t hidden = 576, heads = 9, kv_heads = 3, head_dim = 64, ffn = 1536, vocab = 49152;
  int layers = 30;
  double rope_theta = 1e4;
};
struct LlmPhase {
  bool decode = true;
  std::int64_t tokens = 128;  // prefill: prompt length
  std::int64_t kv = 128;      // decode: keys attended (the cache, this token included)
};
Graph llm(const std::string& tier, const LlmConfig& cfg, const LlmPhase& phase, DType dt);

LlmConfig smollm_135m();  // HuggingFaceTB/SmolLM-135M config.json
LlmConfig llama32_1b();   // meta-llama/Llama-3.2-1B config.json

}  // namespace tb::workloads

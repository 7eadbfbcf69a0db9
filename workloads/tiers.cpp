// The tier table and name handling: which architecture, dtypes and variants each tier has.
#include <algorithm>

#include "models.h"

namespace tb::workloads {

LlmConfig smollm_135m() {
  LlmConfig c;  // hidden 576, 9 heads / 3 kv heads of 64, FFN 1536, vocab 49152, 30 layers
  c.rope_theta = 1e4;
  return c;
}

LlmConfig llama32_1b() {
  LlmConfig c;
  c.hidden = 2048, c.heads = 32, c.kv_heads = 8, c.head_dim = 64, c.ffn = 8192, c.vocab = 128256;
  c.layers = 16;
  c.rope_theta = 5e5;
  return c;
}

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// "b8" -> 8, "seq384" -> 384, "kv1024" -> 1024; -1 when s is not prefix + digits.
std::int64_t number_after(std::string_view s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix || s.size() == prefix.size()) return -1;
  std::int64_t n = 0;
  for (char c : s.substr(prefix.size())) {
    if (c < '0' || c > '9' || n > 1'000'000) return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// "bN": the batch of a CNN tier.
std::optional<std::int64_t> batch_of(std::string_view variant) {
  const std::int64_t batch = number_after(variant, "b");
  if (batch < 1 || batch > 256) return std::nullopt;
  return batch;
}

std::optional<Graph> build_person_detect(const TierInfo& t, std::string_view variant, DType dt,
                                         const BuildOptions&) {
  const auto batch = batch_of(variant);
  if (!batch) return std::nullopt;
  return mobilenet_v2(t.name, 0.35, 96, 2, *batch, dt);
}

std::optional<Graph> build_mobilenetv2(const TierInfo& t, std::string_view variant, DType dt,
                                       const BuildOptions&) {
  const auto batch = batch_of(variant);
  if (!batch) return std::nullopt;
  return mobilenet_v2(t.name, 1.0, 224, 1000, *batch, dt);
}

std::optional<Graph> build_resnet50(const TierInfo& t, std::string_view variant, DType dt,
                                    const BuildOptions& o) {
  const auto batch = batch_of(variant);
  if (!batch) return std::nullopt;
  Graph g = o.reduced ? resnet50(t.name, 112, *batch, dt, 1) : resnet50(t.name, 224, *batch, dt);
  if (o.reduced) g.reduced_note = "1 block per stage at 112x112";
  return g;
}

std::optional<Graph> build_bert_base(const TierInfo& t, std::string_view variant, DType dt,
                                     const BuildOptions& o) {
  BertConfig c;
  c.seq = number_after(variant, "seq");
  if (c.seq < 1 || c.seq > c.max_positions) return std::nullopt;
  if (o.reduced) c.layers = 2;
  Graph g = bert(t.name, c, dt);
  if (o.reduced) g.reduced_note = "2 of 12 layers";
  return g;
}

// "decode:kvN" or "prefillN"; reduced: 2 layers and at most max_prefill prompt tokens.
std::optional<Graph> build_llm(const TierInfo& t, std::string_view variant, DType dt,
                               const BuildOptions& o, LlmConfig c, std::int64_t max_prefill) {
  LlmPhase ph;
  if (variant.starts_with("decode:")) {
    ph.decode = true;
    ph.kv = number_after(variant.substr(7), "kv");
    if (ph.kv < 1 || ph.kv > 131072) return std::nullopt;
  } else {
    ph.decode = false;
    ph.tokens = number_after(variant, "prefill");
    if (ph.tokens < 1 || ph.tokens > 131072) return std::nullopt;
  }
  std::string note;
  if (o.reduced) {
    note = "2 of " + std::to_string(c.layers) + " layers";
    c.layers = 2;
    if (!ph.decode && ph.tokens > max_prefill)
      ph.tokens = max_prefill, note += ", prefill of " + std::to_string(max_prefill) + " tokens";
  }
  Graph g = llm(t.name, c, ph, dt);
  g.reduced_note = note;
  return g;
}

std::optional<Graph> build_llm_135m(const TierInfo& t, std::string_view variant, DType dt,
                                    const BuildOptions& o) {
  return build_llm(t, variant, dt, o, smollm_135m(), 32);
}

std::optional<Graph> build_llm_1b(const TierInfo& t, std::string_view variant, DType dt,
                                  const BuildOptions& o) {
  return build_llm(t, variant, dt, o, llama32_1b(), 16);
}
}  // namespace

const std::vector<TierInfo>& tiers() {
  static const std::vector<TierInfo> v = {
      {"person-detect",
       "MobileNetV2 0.35 at 96x96, 2 classes (visual wake words class)",
       {"f32", "int8"},
       {"b1"},
       false,
       "bN",
       build_person_detect},
      {"mobilenetv2",
       "MobileNetV2 1.0 at 224x224, 1000 classes",
       {"f32", "bf16", "int8"},
       {"b1", "b8"},
       false,
       "bN",
       build_mobilenetv2},
      {"resnet50",
       "ResNet-50 v1.5 at 224x224, 1000 classes",
       {"f32", "bf16", "int8"},
       {"b1", "b8"},
       false,
       "bN",
       build_resnet50},
      {"bert-base",
       "BERT-base encoder with embeddings (no pooler)",
       {"f32", "bf16"},
       {"seq128", "seq384"},
       false,
       "seqN",
       build_bert_base},
      {"llm-135m",
       "SmolLM-135M-shaped decoder: GQA 9/3 heads, SwiGLU, RoPE, tied embeddings",
       {"f32", "bf16", "int8"},
       {"decode:kv128", "decode:kv1024", "prefill128"},
       false,
       "bN",
       build_llm_135m},
      {"llm-1b",
       "Llama-3.2-1B-shaped decoder: GQA 32/8 heads, SwiGLU, RoPE, tied embeddings",
       {"bf16", "int8"},
       {"decode:kv128", "decode:kv1024", "prefill128"},
       true,
       "bN",
       build_llm_1b},
  };
  return v;
}

const TierInfo* find_tier(std::string_view name) {
  for (const auto& t : tiers())
    if (t.name == name) return &t;
  return nullptr;
}

std::string tier_names() {
  std::vector<std::string> v;
  for (const auto& t : tiers()) v.push_back(t.name);
  return join(v);
}

std::optional<DType> parse_tier_dtype(std::string_view s) {
  if (s == "f32") return DType::f32;
  if (s == "bf16") return DType::bf16;
  if (s == "int8") return DType::s8;
  return std::nullopt;
}

std::string tier_dtype_name(DType dt) {
  return dt == DType::s8 ? "int8" : std::string(dtype_name(dt));
}

Result<Graph> build_tier(std::string_view tier, std::string_view dtype, const BuildOptions& o) {
  const TierInfo* t = find_tier(tier);
  if (!t)
    return make_error("unknown tier '" + std::string(tier) + "' (valid: " + tier_names() + ")");
  if (std::find(t->dtypes.begin(), t->dtypes.end(), dtype) == t->dtypes.end())
    return make_error("tier " + t->name + " has no dtype '" + std::string(dtype) +
                      "' (valid: " + join(t->dtypes) + ")");
  const DType dt = *parse_tier_dtype(dtype);
  const std::string variant = o.variant.empty() ? t->variants.front() : o.variant;
  std::optional<Graph> g = t->build(*t, variant, dt, o);
  if (!g)
    return make_error("tier " + t->name + " has no variant '" + variant +
                      "' (valid: " + join(t->variants) + ", " + t->variant_pattern + ")");
  g->variant = variant;
  g->reduced = o.reduced && !g->reduced_note.empty();
  if (auto v = g->verify(); !v) return v.error();
  return std::move(*g);
}

Result<WorkloadName> parse_workload(std::string_view s) {
  const auto first = s.find(':'), last = s.rfind(':');
  if (first == std::string_view::npos || first == last)
    return make_error("workload '" + std::string(s) +
                      "' is not tier:variant:dtype (tiers: " + tier_names() + ")");
  WorkloadName w{std::string(s.substr(0, first)),
                 std::string(s.substr(first + 1, last - first - 1)),
                 std::string(s.substr(last + 1))};
  BuildOptions o;
  o.variant = w.variant;
  if (auto g = build_tier(w.tier, w.dtype, o); !g) return g.error();
  return w;
}

}  // namespace tb::workloads

// Transformer tiers: the BERT-base encoder and LLaMA-style decoders (SmolLM-135M, Llama-3.2-1B
// shapes). Weight names follow the Hugging Face checkpoints; linear weights are [out][in].
#include <cmath>

#include "builder.h"
#include "models.h"

namespace tb::workloads {

namespace {
Init const_init(double v) {
  Init i;
  i.kind = Init::constant;
  i.value = v;
  return i;
}
Init uniform(double bound) {
  Init i;
  i.bound = bound;
  return i;
}
}  // namespace

Graph bert(const std::string& tier, const BertConfig& cfg, DType dt) {
  Builder b(tier, "seq" + std::to_string(cfg.seq), dt);
  const std::int64_t T = cfg.seq, H = cfg.hidden, nh = cfg.heads, hd = H / nh;
  const int ids = b.input("input_ids", DType::s32, {T});
  // Embeddings stay f32 in every tier (the embed kernel takes f32 tables).
  const auto embed = [&](const std::string& name, std::int64_t rows, int id_value) {
    const int w = b.weight(name, DType::f32, {rows, H}, uniform(0.5));
    EmbedDesc d;
    d.v = rows, d.d = H, d.t = T;
    return b.kernel(name + ".lookup", Problem{d, DType::f32, {}},
                    {Operand::w(w), Operand::v(id_value)});
  };
  const int pos_ids = b.constant("position_ids", DType::s32, {T}, ConstKind::iota_ids);
  const int type_ids = b.constant("token_type_ids", DType::s32, {T}, ConstKind::zero_ids);
  int x = embed("embeddings.word_embeddings.weight", cfg.vocab, ids);
  x = b.binary("embeddings.add_pos", BinaryKind::add, x,
               embed("embeddings.position_embeddings.weight", cfg.max_positions, pos_ids));
  x = b.binary("embeddings.add_type", BinaryKind::add, x,
               embed("embeddings.token_type_embeddings.weight", 2, type_ids));
  x = b.row("embeddings.LayerNorm", RowKind::layernorm, x, T, H);
  for (int l = 0; l < cfg.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l);
    const auto head_major = [&](const std::string& n) {
      const int y = b.linear(p + ".attention.self." + n, x, T, H, H, true);
      return b.permute(p + ".attention.self." + n + ".heads", y, T, nh, hd);
    };
    const int q = head_major("query"), k = head_major("key"), v = head_major("value");
    AttentionDesc ad;
    ad.h = nh, ad.kv = nh, ad.q = T, ad.s = T, ad.d = hd;
    int o = b.attention(p + ".attention.self", q, k, v, ad);
    o = b.permute(p + ".attention.self.tokens", o, nh, T, hd);
    int h = b.linear(p + ".attention.output.dense", o, T, H, H, true, Activation::none, x, 0.5);
    x = b.row(p + ".attention.output.LayerNorm", RowKind::layernorm, h, T, H);
    h = b.linear(p + ".intermediate.dense", x, T, H, cfg.ffn, true, Activation::gelu);
    h = b.linear(p + ".output.dense", h, T, cfg.ffn, H, true, Activation::none, x, 0.5);
    x = b.row(p + ".output.LayerNorm", RowKind::layernorm, h, T, H);
  }
  return b.finish(x);
}

Graph llm(const std::string& tier, const LlmConfig& cfg, const LlmPhase& phase, DType dt) {
  const bool decode = phase.decode;
  const std::int64_t T = decode ? 1 : phase.tokens;         // tokens this step
  const std::int64_t S = decode ? phase.kv : phase.tokens;  // keys attended
  Builder b(tier, decode ? "decode:kv" + std::to_string(S) : "prefill" + std::to_string(T), dt);
  const std::int64_t H = cfg.hidden, nh = cfg.heads, nkv = cfg.kv_heads, hd = cfg.head_dim;
  const int ids = b.input("input_ids", DType::s32, {T});

  // Tied embeddings: the table is also the LM head's weight, in the tier's weight type.
  const std::string emb = "model.embed_tokens.weight";
  int x;
  if (dt == DType::f32) {
    const int w = b.weight(emb, DType::f32, {cfg.vocab, H}, uniform(std::sqrt(3.0 / H)));
    EmbedDesc d;
    d.v = cfg.vocab, d.d = H, d.t = T;
    x = b.kernel("model.embed_tokens", Problem{d, DType::f32, {}},
                 {Operand::w(w), Operand::v(ids)});
  } else {
    const int w = b.weight(emb, gemm_types(dt).b, {cfg.vocab, H}, uniform(std::sqrt(3.0 / H)));
    std::vector<Operand> in = {Operand::v(ids), Operand::w(w)};
    if (dt == DType::s8)
      in.push_back(Operand::w(b.weight(emb + "_scale", DType::f32, {cfg.vocab},
                                       const_init(std::sqrt(3.0 / H) / kWeightQMax), true)));
    x = b.host("model.embed_tokens", HostOp::embed, in, DType::f32, {T, H});
  }

  const std::int64_t pos0 = decode ? S - 1 : 0;
  const int cos =
      b.constant("rope.cos", DType::f32, {T, hd / 2}, ConstKind::rope_cos, pos0, cfg.rope_theta);
  const int sin =
      b.constant("rope.sin", DType::f32, {T, hd / 2}, ConstKind::rope_sin, pos0, cfg.rope_theta);
  const DType cache_dt = dt == DType::bf16 ? DType::bf16 : DType::f32;
  const auto rope = [&](const std::string& name, int v, std::int64_t heads) {
    RopeDesc d;
    d.t = T, d.h = heads, d.d = hd;
    return b.kernel(name, Problem{d, DType::f32, {}},
                    {Operand::v(v), Operand::v(cos), Operand::v(sin)});
  };
  // [T][heads][hd] -> [heads][T][hd]; with one token the two layouts are the same bytes.
  const auto heads_major = [&](const std::string& name, int v, std::int64_t heads) {
    return T == 1 ? v : b.permute(name, v, T, heads, hd);
  };

  for (int l = 0; l < cfg.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l);
    int h = b.row(p + ".input_layernorm", RowKind::rmsnorm, x, T, H);
    const int q = rope(p + ".self_attn.q_rope",
                       b.linear(p + ".self_attn.q_proj", h, T, H, nh * hd, false), nh);
    const int k = rope(p + ".self_attn.k_rope",
                       b.linear(p + ".self_attn.k_proj", h, T, H, nkv * hd, false), nkv);
    const int v = b.linear(p + ".self_attn.v_proj", h, T, H, nkv * hd, false);
    int kc, vc;
    if (decode) {  // append this token's keys and values to the caches, at position S - 1
      kc = b.state(p + ".k_cache", cache_dt, {nkv, S, hd});
      vc = b.state(p + ".v_cache", cache_dt, {nkv, S, hd});
      b.host(p + ".k_cache.write", HostOp::kv_write, {Operand::v(k), Operand::v(kc)}, cache_dt, {});
      b.graph().layers.back().pos = S - 1;
      b.host(p + ".v_cache.write", HostOp::kv_write, {Operand::v(v), Operand::v(vc)}, cache_dt, {});
      b.graph().layers.back().pos = S - 1;
    } else {
      kc = heads_major(p + ".self_attn.k_heads", k, nkv);
      vc = heads_major(p + ".self_attn.v_heads", v, nkv);
    }
    AttentionDesc ad;
    ad.h = nh, ad.kv = nkv, ad.q = T, ad.s = S, ad.d = hd, ad.causal = true;
    int o = b.attention(p + ".self_attn", heads_major(p + ".self_attn.q_heads", q, nh), kc, vc, ad);
    if (T > 1) o = b.permute(p + ".self_attn.tokens", o, nh, T, hd);
    x = b.linear(p + ".self_attn.o_proj", o, T, nh * hd, H, false, Activation::none, x, 0.5);
    h = b.row(p + ".post_attention_layernorm", RowKind::rmsnorm, x, T, H);
    const int gate = b.linear(p + ".mlp.gate_proj", h, T, H, cfg.ffn, false, Activation::silu);
    const int up = b.linear(p + ".mlp.up_proj", h, T, H, cfg.ffn, false);
    const int act = b.binary(p + ".mlp.act_mul", BinaryKind::mul, gate, up);
    x = b.linear(p + ".mlp.down_proj", act, T, cfg.ffn, H, false, Activation::none, x, 0.5);
  }
  x = b.row("model.norm", RowKind::rmsnorm, x, T, H);
  // Logits of the last token only (what generation needs; llama.cpp does the same).
  if (T > 1) x = b.host("model.norm.last", HostOp::last_row, {Operand::v(x)}, DType::f32, {1, H});
  return b.finish(b.linear("lm_head", x, 1, H, cfg.vocab, false, Activation::none, -1, 1.0, emb));
}

}  // namespace tb::workloads

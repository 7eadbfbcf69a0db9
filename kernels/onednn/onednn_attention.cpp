// Attention on the oneDNN backend, two implementations:
//   composed: matmul (Q K^T, scale fused) [-> causal masked_fill] -> softmax -> matmul (P V),
//             oneDNN primitives over the materialised [q x s] scores;
//   fused:    the hand-written online-softmax kernel (attention_fused.h), f32 or bf16 inputs
//             (bf16 dot products where the CPU has them, else widened to f32 on load); decode
//             (few query rows) splits the keys over the threads.
// Choice: TB_ONEDNN_ATTENTION=fused | composed forces one (unsupported if it cannot run the
// problem); unset or "auto" takes fused where it supports the shape, except bf16 prefill on a
// CPU without AVX512-BF16 that has oneDNN's bf16 matmuls (AVX-512); on an AVX2 CPU, which has
// none, fused runs it widened. Measured on the project machine (kernels/onednn/bench/
// bench_attention, 2 threads): f32 fused is ahead from S = 256 up (d64 1.4x at 2048 and 4096,
// d128 1.2x; 2.4-2.8x causal; decode 1.3-2.5x) and within 5% either way at S = 128. bf16:
// decode 1.8-2.1x (fused reads the bf16 cache at half the bytes); prefill with bf16 dot
// products (avx512bf16) 1.2x at S = 512, 1.6x (d64) and 1.4x (d128) at 2048; prefill widened
// to f32 instead (no AVX512-BF16) lost to composed (0.7x at d128), whose bf16 matmuls run at
// twice the f32 rate.
// details() reports which ran ("attention_fused" 1 / 0) and impl_info names the steps.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "../cpu/attention_fused.h"
#include "onednn_ops.h"

namespace tb::onednn {

namespace fused = tb::cpu::fused;  // the hand-written CPU kernel (kernels/cpu/)

namespace {

fused::Shape shape_of(const AttentionDesc& a, DType t) {
  return {a.b, a.h, a.kv, a.q, a.s, a.d, a.causal, t == DType::bf16};
}

void build_fused(Plan& plan, const AttentionDesc& a, DType t) {
  const auto sh = shape_of(a, t);
  if (!fused::supports(sh)) throw Failure("fused attention: head dim above 512");
  const int q = plan.input(0, plain_md({a.b, a.h, a.q, a.d}, t));
  const int k = plan.input(1, plain_md({a.b, a.kv, a.s, a.d}, t));
  const int v = plan.input(2, plain_md({a.b, a.kv, a.s, a.d}, t));
  const int o = plan.output(0, plain_md({a.b, a.h, a.q, a.d}, DType::f32));
  const std::size_t ws_bytes = fused::workspace_bytes(sh);
  const int ws =
      ws_bytes ? plan.scratch(plain_md({static_cast<std::int64_t>(ws_bytes / 4)}, DType::f32)) : -1;
  plan.custom("tb:attention_fused_" + fused::isa_for(sh), [=](std::vector<dnnl::memory>& m) {
    const auto f = [&](int i) {
      return static_cast<float*>(m[static_cast<std::size_t>(i)].get_data_handle());
    };
    const auto in = [&](int i) { return m[static_cast<std::size_t>(i)].get_data_handle(); };
    if (!fused::run(sh, in(q), in(k), in(v), f(o), ws >= 0 ? f(ws) : nullptr))
      throw Failure("fused attention: out of memory for per-thread scratch");
  });
}

// Heads sharing a kv head are adjacent and each head's [q][d] block is contiguous, so Q viewed
// as [b*kv][G*q][d] lines up with K, V as [b*kv][s][d]: two batched matmuls cover MHA and GQA.
void build_composed(Plan& plan, const Problem& p, const AttentionDesc& a) {
  const std::int64_t G = a.h / a.kv, B = a.b * a.kv, M = G * a.q, S = a.s, D = a.d;
  const DType t = p.inputs()[0].dtype;
  const auto dt = to_dnnl(t);
  const auto q_md = plain_md({B, M, D}, t);
  const auto kt_md = TB_DNNL(dnnl::memory::desc({B, D, S}, dt, dims{S * D, 1, D}));  // K^T view
  const auto v_md = plain_md({B, S, D}, t);
  const auto s_md = plain_md({B, M, S}, DType::f32);
  const auto o_md = plain_md({B, M, D}, DType::f32);

  // The causal mask is not a binary post-op of the first matmul: oneDNN 2.6 has only its
  // reference matmul for a [1 x M x S] broadcast operand (ref:any, ~100x slower). A masked_fill
  // step writes -inf over the hidden scores instead, as frameworks do.
  dnnl::primitive_attr attr1;
  TB_DNNL(attr1.set_output_scales(0, {1.0f / std::sqrt(static_cast<float>(D))}));
  const auto mm1 = TB_DNNL(
      dnnl::matmul::primitive_desc(dnnl::matmul::desc(q_md, kt_md, s_md), attr1, cpu_engine()));

  // Softmax: f32 in place; for bf16 the probabilities go to bf16 for the second matmul.
  const auto p_md = t == DType::f32 ? s_md : plain_md({B, M, S}, t);
  const auto sm = TB_DNNL(dnnl::softmax_v2_forward::primitive_desc(
      dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_inference,
                                     dnnl::algorithm::softmax_accurate, s_md, p_md, 2),
      cpu_engine()));
  const auto mm2 =
      TB_DNNL(dnnl::matmul::primitive_desc(dnnl::matmul::desc(p_md, v_md, o_md), cpu_engine()));

  const int q = plan.input(0, q_md), k = plan.input(1, kt_md), v = plan.input(2, v_md);
  const int o = plan.output(0, o_md);
  const int s = plan.scratch(s_md);
  const int pr = t == DType::f32 ? s : plan.scratch(p_md);
  std::vector<std::pair<int, int>> a1 = {
      {DNNL_ARG_SRC, q}, {DNNL_ARG_WEIGHTS, k}, {DNNL_ARG_DST, s}};
  plan.primitive(mm1, std::move(a1));
  if (a.causal) {
    const std::int64_t qlen = a.q, off = a.s - a.q;
    plan.custom("tb:causal_mask", [=](std::vector<dnnl::memory>& m) {
      float* sc = static_cast<float*>(m[static_cast<std::size_t>(s)].get_data_handle());
#pragma omp parallel for collapse(2) schedule(static)
      for (std::int64_t bb = 0; bb < B; ++bb)
        for (std::int64_t r = 0; r < M; ++r) {
          float* row = sc + (bb * M + r) * S;
          for (std::int64_t j = r % qlen + off + 1; j < S; ++j)
            row[j] = -std::numeric_limits<float>::infinity();
        }
    });
  }
  plan.primitive(sm, {{DNNL_ARG_SRC, s}, {DNNL_ARG_DST, pr}});
  plan.primitive(mm2, {{DNNL_ARG_SRC, pr}, {DNNL_ARG_WEIGHTS, v}, {DNNL_ARG_DST, o}});
}

}  // namespace

void build_attention(Plan& plan, const Problem& p, const AttentionDesc& a) {
  const char* env = std::getenv("TB_ONEDNN_ATTENTION");
  const std::string_view mode = env && *env ? env : "auto";
  if (mode != "auto" && mode != "fused" && mode != "composed")
    throw Failure("TB_ONEDNN_ATTENTION must be auto, fused or composed, not '" + std::string(mode) +
                  "'");
  const bool fused_ok =
      (p.dtype == DType::f32 || p.dtype == DType::bf16) && fused::supports(shape_of(a, p.dtype));
  if (mode == "fused" && !fused_ok)
    throw Failure("fused attention runs f32 or bf16 with head dim <= 512 only");
  const auto sh = shape_of(a, p.dtype);
  const bool f32_bf16_prefill = p.dtype == DType::bf16 && fused::use_transpose(sh) &&
                                fused::isa_for(sh) != "avx512bf16" && bf16_primitives();
  const bool fused = mode == "fused" || (mode == "auto" && fused_ok && !f32_bf16_prefill);
  if (fused)
    build_fused(plan, a, p.dtype);
  else
    build_composed(plan, p, a);
  plan.detail("attention_fused", fused ? 1 : 0);
}

}  // namespace tb::onednn

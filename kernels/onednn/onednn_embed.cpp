// Embedding lookup on the oneDNN backend: hand-written row copies (Plan::custom, "tb:embed"),
// f32 rows as they are, bf16 and f16 rows widened to f32, s8 rows times their scale; oneDNN 2.6
// has no primitive for it.
#include <cstring>

#include "../dtype.h"
#include "onednn_ops.h"

namespace tb::onednn {

void build_embed(Plan& plan, const Problem& p, const EmbedDesc& d) {
  const DType t = p.inputs()[0].dtype;
  if (t != DType::f32 && t != DType::bf16 && t != DType::f16 && t != DType::s8)
    throw Failure("onednn: embed takes f32, bf16, f16 or s8 (with row scales) tables");
  const int table = plan.input(0, plain_md({d.v, d.d}, t));
  const int ids = plan.input(1, plain_md({d.t}, DType::s32));
  const int scales = t == DType::s8 ? plan.input(2, plain_md({d.v}, DType::f32)) : -1;
  const int y = plan.output(0, plain_md({d.t, d.d}, DType::f32));
  const std::int64_t V = d.v, T = d.t, D = d.d;
  plan.custom("tb:embed", [=](std::vector<dnnl::memory>& m) {
    const auto* tab = ptr<const std::byte>(m, table);
    const auto* id = ptr<const std::int32_t>(m, ids);
    auto* out = ptr<float>(m, y);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < T; ++i) {
      const std::int64_t row = EmbedDesc::row(id[i], V);
      float* dst = out + i * D;
      if (t == DType::f32) {
        std::memcpy(dst, tab + static_cast<std::size_t>(row * D) * sizeof(float),
                    static_cast<std::size_t>(D) * sizeof(float));
        continue;
      }
      if (t == DType::s8) {
        const auto* src = reinterpret_cast<const std::int8_t*>(tab) + row * D;
        const float s = ptr<const float>(m, scales)[row];
        for (std::int64_t j = 0; j < D; ++j) dst[j] = static_cast<float>(src[j]) * s;
        continue;
      }
      const auto* src = reinterpret_cast<const std::uint16_t*>(tab) + row * D;
      for (std::int64_t j = 0; j < D; ++j)
        dst[j] = t == DType::bf16 ? bf16_to_f32(src[j]) : f16_to_f32(src[j]);
    }
  });
}

}  // namespace tb::onednn

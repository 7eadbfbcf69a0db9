// KV-cache write on the oneDNN backend: a hand-written row store (Plan::custom, "tb:kvwrite");
// oneDNN 2.6 has no primitive for it. Bound with the cache as its own output (the oneDNN graph's
// states) it writes the token's rows alone, in place; otherwise it copies the cache first.
#include <cstring>

#include "onednn_ops.h"

namespace tb::onednn {

void build_kvwrite(Plan& plan, const Problem& p, const KvWriteDesc& d) {
  const DType t = p.outputs()[0].dtype;
  const int x = plan.input(0, plain_md({d.h, d.d}, DType::f32));
  const int cache = plan.input(1, plain_md({d.h, d.s, d.d}, t));
  const int y = plan.output(0, plain_md({d.h, d.s, d.d}, t));
  const std::size_t bytes = static_cast<std::size_t>(d.h * d.s * d.d) * dtype_size(t);
  plan.custom("tb:kvwrite", [=](std::vector<dnnl::memory>& m) {
    const float* src = ptr<const float>(m, x);
    const auto* c = ptr<const std::byte>(m, cache);
    auto* out = ptr<std::byte>(m, y);
    if (static_cast<const void*>(out) != static_cast<const void*>(c)) std::memcpy(out, c, bytes);
    for (std::int64_t h = 0; h < d.h; ++h) {
      const float* row = src + h * d.d;
      const std::int64_t o = (h * d.s + d.p) * d.d;
      if (t == DType::f32) {
        std::memcpy(reinterpret_cast<float*>(out) + o, row, static_cast<std::size_t>(d.d) * 4);
        continue;
      }
      auto* dst = reinterpret_cast<std::uint16_t*>(out) + o;
      for (std::int64_t i = 0; i < d.d; ++i)
        dst[i] = t == DType::bf16 ? f32_to_bf16(row[i]) : f32_to_f16(row[i]);
    }
  });
}

}  // namespace tb::onednn

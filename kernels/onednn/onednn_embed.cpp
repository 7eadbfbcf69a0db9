// Embedding lookup on the oneDNN backend: a hand-written row copy (Plan::custom, "tb:embed");
// oneDNN 2.6 has no primitive for it.
#include <cstring>

#include "onednn_ops.h"

namespace tb::onednn {

void build_embed(Plan& plan, const Problem& p, const EmbedDesc& d) {
  const DType t = p.inputs()[0].dtype;
  const int table = plan.input(0, plain_md({d.v, d.d}, t));
  const int ids = plan.input(1, plain_md({d.t}, DType::s32));
  const int y = plan.output(0, plain_md({d.t, d.d}, t));
  const std::int64_t V = d.v, T = d.t;
  const std::size_t row_bytes = static_cast<std::size_t>(d.d) * dtype_size(t);
  plan.custom("tb:embed", [=](std::vector<dnnl::memory>& m) {
    const auto* tab = ptr<const std::byte>(m, table);
    const auto* id = ptr<const std::int32_t>(m, ids);
    auto* out = ptr<std::byte>(m, y);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < T; ++i)
      std::memcpy(out + static_cast<std::size_t>(i) * row_bytes,
                  tab + static_cast<std::size_t>(EmbedDesc::row(id[i], V)) * row_bytes, row_bytes);
  });
}

}  // namespace tb::onednn

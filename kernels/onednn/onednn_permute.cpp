// Permute of the two outer axes on the oneDNN backend: a hand-written row copy (Plan::custom,
// "tb:permute").
#include <cstring>

#include "onednn_ops.h"

namespace tb::onednn {

void build_permute(Plan& plan, const Problem& p, const PermuteDesc& d) {
  const DType t = p.inputs()[0].dtype;
  const int x = plan.input(0, plain_md({d.a, d.b, d.c}, t));
  const int y = plan.output(0, plain_md({d.b, d.a, d.c}, t));
  const std::int64_t A = d.a, B = d.b;
  const std::size_t row = static_cast<std::size_t>(d.c) * dtype_size(t);
  plan.custom("tb:permute", [=](std::vector<dnnl::memory>& m) {
    const auto* src = ptr<const std::byte>(m, x);
    auto* dst = ptr<std::byte>(m, y);
    for (std::int64_t i = 0; i < A; ++i)
      for (std::int64_t j = 0; j < B; ++j)
        std::memcpy(dst + static_cast<std::size_t>(j * A + i) * row,
                    src + static_cast<std::size_t>(i * B + j) * row, row);
  });
}

}  // namespace tb::onednn

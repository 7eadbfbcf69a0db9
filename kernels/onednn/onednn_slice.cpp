// Row slice on the oneDNN backend: a hand-written row copy (Plan::custom, "tb:slice").
#include <cstring>

#include "onednn_ops.h"

namespace tb::onednn {

void build_slice(Plan& plan, const Problem& p, const SliceDesc& d) {
  const DType t = p.inputs()[0].dtype;
  const int x = plan.input(0, plain_md({d.o, d.r, d.n}, t));
  const int y = plan.output(0, plain_md({d.o, d.c, d.n}, t));
  const SliceDesc s = d;
  const std::size_t row = static_cast<std::size_t>(d.n) * dtype_size(t);
  plan.custom("tb:slice", [=](std::vector<dnnl::memory>& m) {
    const auto* src = ptr<const std::byte>(m, x);
    auto* dst = ptr<std::byte>(m, y);
    for (std::int64_t i = 0; i < s.o; ++i)
      for (std::int64_t j = 0; j < s.c; ++j)
        std::memcpy(dst + static_cast<std::size_t>(i * s.c + j) * row,
                    src + static_cast<std::size_t>(i * s.r + s.s + j * s.t) * row, row);
  });
}

}  // namespace tb::onednn

// Reference rotary position embedding (rotate-half form).
#include "reference_ops.h"

namespace tb::ref {

Result<void> rope(const RopeDesc& r, const Problem&, std::span<const Tensor> in,
                  std::span<Tensor> out) {
  const Tensor &X = in[0], &cs = in[1], &sn = in[2];
  const std::int64_t half = r.d / 2;
  for (std::int64_t t = 0; t < r.t; ++t)
    for (std::int64_t h = 0; h < r.h; ++h)
      for (std::int64_t i = 0; i < half; ++i) {
        const std::int64_t o = (t * r.h + h) * r.d;
        const double x0 = X.at(o + i), x1 = X.at(o + i + half);
        const double c = cs.at(t * half + i), s = sn.at(t * half + i);
        out[0].set(o + i, x0 * c - x1 * s);
        out[0].set(o + i + half, x1 * c + x0 * s);
      }
  return {};
}

}  // namespace tb::ref

// Reference pooling: max / avg / global, NHWC.
#include <algorithm>
#include <cmath>

#include "reference_ops.h"

namespace tb::ref {

Result<void> pool(const PoolDesc& pd, const Problem&, std::span<const Tensor> in,
                  std::span<Tensor> out) {
  const Tensor& src = in[0];
  Tensor& dst = out[0];
  const std::int64_t OH = pd.oh(), OW = pd.ow(), C = pd.c;
  const bool global = pd.kind == PoolKind::global;
  const std::int64_t R = global ? pd.h : pd.r, S = global ? pd.w : pd.s;
  const std::int64_t st = global ? 1 : pd.stride, pad = global ? 0 : pd.pad;

#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < pd.n; ++n) {
    for (std::int64_t y = 0; y < OH; ++y) {
      for (std::int64_t x = 0; x < OW; ++x) {
        for (std::int64_t c = 0; c < C; ++c) {
          double acc = pd.kind == PoolKind::max ? -INFINITY : 0.0;
          std::int64_t count = 0;
          for (std::int64_t u = 0; u < R; ++u) {
            const std::int64_t iy = y * st - pad + u;
            if (iy < 0 || iy >= pd.h) continue;
            for (std::int64_t v = 0; v < S; ++v) {
              const std::int64_t ix = x * st - pad + v;
              if (ix < 0 || ix >= pd.w) continue;
              const double s = src.at(((n * pd.h + iy) * pd.w + ix) * C + c);
              acc = pd.kind == PoolKind::max ? std::max(acc, s) : acc + s;
              ++count;
            }
          }
          if (pd.kind != PoolKind::max) acc /= static_cast<double>(count);
          dst.set(((n * OH + y) * OW + x) * C + c, acc);
        }
      }
    }
  }
  return {};
}

}  // namespace tb::ref

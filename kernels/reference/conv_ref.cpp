// Reference convolution, NHWC src / dst, weights [k][r][s][c/g]:
//   dst[n,y,x,o] = act(sum_{i,u,v} src[n, y*st - p + u*dl, x*st - p + v*dl, g(o)*cg + i]
//                                  * w[o,u,v,i] + bias[o]) + residual[n,y,x,o]
// With +scales the sum is first multiplied by a_scale * b_scale[o] (in double: the integer sum
// is exact there).
#include <vector>

#include "reference_ops.h"

namespace tb::ref {

Result<void> conv(const ConvDesc& c, const Problem& p, std::span<const Tensor> in,
                  std::span<Tensor> out) {
  const Tensor& src = in[0];
  const Tensor& wt = in[1];
  std::size_t next = 2;
  const Tensor* a_scale = p.post.scales ? &in[next++] : nullptr;
  const Tensor* b_scale = p.post.scales ? &in[next++] : nullptr;
  const Tensor* bias = p.post.bias ? &in[next++] : nullptr;
  const Tensor* res = p.post.residual ? &in[next++] : nullptr;
  Tensor& dst = out[0];
  const std::int64_t OH = c.oh(), OW = c.ow(), cg = c.c / c.groups, kg = c.k / c.groups;

#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < c.n; ++n) {
    for (std::int64_t y = 0; y < OH; ++y) {
      for (std::int64_t x = 0; x < OW; ++x) {
        for (std::int64_t o = 0; o < c.k; ++o) {
          const std::int64_t g = o / kg;
          double acc = 0;
          for (std::int64_t u = 0; u < c.r; ++u) {
            const std::int64_t iy = y * c.stride - c.pad + u * c.dilation;
            if (iy < 0 || iy >= c.h) continue;
            for (std::int64_t v = 0; v < c.s; ++v) {
              const std::int64_t ix = x * c.stride - c.pad + v * c.dilation;
              if (ix < 0 || ix >= c.w) continue;
              const std::int64_t s0 = ((n * c.h + iy) * c.w + ix) * c.c + g * cg;
              const std::int64_t w0 = ((o * c.r + u) * c.s + v) * cg;
              for (std::int64_t i = 0; i < cg; ++i) acc += src.at(s0 + i) * wt.at(w0 + i);
            }
          }
          const std::int64_t d = ((n * OH + y) * OW + x) * c.k + o;
          if (a_scale) acc *= a_scale->at(0) * b_scale->at(o);
          if (bias) acc += bias->at(o);
          acc = apply_activation(p.post.act, static_cast<float>(acc));
          if (res) acc += res->at(d);
          dst.set(d, acc);
        }
      }
    }
  }
  return {};
}

}  // namespace tb::ref

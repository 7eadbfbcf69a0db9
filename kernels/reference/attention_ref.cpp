// Reference attention: per (batch, head, query) the scores against every visible key in double,
// an exact softmax, and the weighted sum of values. Query head hq reads kv head hq / (h / kv).
#include <algorithm>
#include <cmath>
#include <vector>

#include "reference_ops.h"

namespace tb::ref {

Result<void> attention(const AttentionDesc& a, const Problem&, std::span<const Tensor> in,
                       std::span<Tensor> out) {
  const Tensor &Q = in[0], &K = in[1], &V = in[2];
  Tensor& O = out[0];
  const double scale = 1.0 / std::sqrt(static_cast<double>(a.d));
  const std::int64_t group = a.h / a.kv;

#pragma omp parallel for collapse(3) schedule(static)
  for (std::int64_t b = 0; b < a.b; ++b) {
    for (std::int64_t h = 0; h < a.h; ++h) {
      for (std::int64_t i = 0; i < a.q; ++i) {
        const std::int64_t kvh = h / group;
        const std::int64_t q0 = ((b * a.h + h) * a.q + i) * a.d;
        const std::int64_t kv0 = (b * a.kv + kvh) * a.s * a.d;
        const std::int64_t last = a.causal ? std::min(a.s, i + (a.s - a.q) + 1) : a.s;
        std::vector<double> p(static_cast<std::size_t>(last));
        double mx = -INFINITY;
        for (std::int64_t j = 0; j < last; ++j) {
          double dot = 0;
          for (std::int64_t t = 0; t < a.d; ++t) dot += Q.at(q0 + t) * K.at(kv0 + j * a.d + t);
          p[static_cast<std::size_t>(j)] = dot * scale;
          mx = std::max(mx, dot * scale);
        }
        double sum = 0;
        for (auto& v : p) sum += (v = std::exp(v - mx));
        for (std::int64_t t = 0; t < a.d; ++t) {
          double acc = 0;
          for (std::int64_t j = 0; j < last; ++j)
            acc += p[static_cast<std::size_t>(j)] * V.at(kv0 + j * a.d + t);
          O.set(q0 + t, acc / sum);
        }
      }
    }
  }
  return {};
}

}  // namespace tb::ref

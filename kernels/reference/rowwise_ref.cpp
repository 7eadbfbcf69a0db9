// Reference row ops: softmax, layer norm, RMS norm.
#include <algorithm>
#include <cmath>

#include "reference_ops.h"

namespace tb::ref {

Result<void> rowwise(const RowDesc& r, const Problem&, std::span<const Tensor> in,
                     std::span<Tensor> out) {
  const Tensor& X = in[0];
  Tensor& Y = out[0];
  const std::int64_t N = r.n;
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < r.m; ++i) {
    const std::int64_t o = i * N;
    switch (r.kind) {
      case RowKind::softmax: {
        double mx = -INFINITY, sum = 0;
        for (std::int64_t j = 0; j < N; ++j) mx = std::max(mx, X.at(o + j));
        for (std::int64_t j = 0; j < N; ++j) sum += std::exp(X.at(o + j) - mx);
        for (std::int64_t j = 0; j < N; ++j) Y.set(o + j, std::exp(X.at(o + j) - mx) / sum);
        break;
      }
      case RowKind::layernorm: {
        double mean = 0, var = 0;
        for (std::int64_t j = 0; j < N; ++j) mean += X.at(o + j);
        mean /= static_cast<double>(N);
        for (std::int64_t j = 0; j < N; ++j) var += (X.at(o + j) - mean) * (X.at(o + j) - mean);
        const double inv = 1.0 / std::sqrt(var / static_cast<double>(N) + RowDesc::kEps);
        for (std::int64_t j = 0; j < N; ++j)
          Y.set(o + j, (X.at(o + j) - mean) * inv * in[1].at(j) + in[2].at(j));
        break;
      }
      case RowKind::rmsnorm: {
        double ss = 0;
        for (std::int64_t j = 0; j < N; ++j) ss += X.at(o + j) * X.at(o + j);
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(N) + RowDesc::kEps);
        for (std::int64_t j = 0; j < N; ++j) Y.set(o + j, X.at(o + j) * inv * in[1].at(j));
        break;
      }
    }
  }
  return {};
}

}  // namespace tb::ref

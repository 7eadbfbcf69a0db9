// Reference glue ops: pooling, softmax / layer norm / RMS norm, add / mul, RoPE, embedding.
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

Result<void> binary(const BinaryDesc& b, const Problem&, std::span<const Tensor> in,
                    std::span<Tensor> out) {
  for (std::int64_t i = 0; i < b.n; ++i)
    out[0].set(i,
               b.kind == BinaryKind::add ? in[0].at(i) + in[1].at(i) : in[0].at(i) * in[1].at(i));
  return {};
}

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

Result<void> embed(const EmbedDesc& e, const Problem&, std::span<const Tensor> in,
                   std::span<Tensor> out) {
  for (std::int64_t i = 0; i < e.t; ++i) {
    const std::int64_t row = EmbedDesc::row(static_cast<std::int64_t>(in[1].at(i)), e.v);
    for (std::int64_t j = 0; j < e.d; ++j) out[0].set(i * e.d + j, in[0].at(row * e.d + j));
  }
  return {};
}

}  // namespace tb::ref

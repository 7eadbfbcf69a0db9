// Reference GEMM: C[b,i,j] = act(sum_k A[b,i,k] * B[b,k,j] + bias[j]) + residual[b,i,j].
#include <vector>

#include "reference_ops.h"

namespace tb::ref {

Result<void> gemm(const GemmDesc& g, const Problem& p, std::span<const Tensor> in,
                  std::span<Tensor> out) {
  const Tensor& A = in[0];
  const Tensor& B = in[1];
  std::size_t next = 2;
  const Tensor* bias = p.post.bias ? &in[next++] : nullptr;
  const Tensor* res = p.post.residual ? &in[next++] : nullptr;
  Tensor& C = out[0];
  const std::int64_t M = g.m, N = g.n, K = g.k;

#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t b = 0; b < g.batch; ++b) {
    for (std::int64_t i = 0; i < M; ++i) {
      std::vector<double> acc(static_cast<std::size_t>(N), 0.0);
      for (std::int64_t k = 0; k < K; ++k) {
        const double a = g.trans_a ? A.at((b * K + k) * M + i) : A.at((b * M + i) * K + k);
        for (std::int64_t j = 0; j < N; ++j) {
          const double bv = g.trans_b ? B.at((b * N + j) * K + k) : B.at((b * K + k) * N + j);
          acc[static_cast<std::size_t>(j)] += a * bv;
        }
      }
      for (std::int64_t j = 0; j < N; ++j) {
        double v = acc[static_cast<std::size_t>(j)];
        if (bias) v += bias->at(j);
        v = apply_activation(p.post.act, static_cast<float>(v));
        if (res) v += res->at((b * M + i) * N + j);
        C.set((b * M + i) * N + j, v);
      }
    }
  }
  return {};
}

}  // namespace tb::ref

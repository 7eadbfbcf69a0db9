// Reference GEMM: C[b,i,j] = act(sum_k A[b,i,k] * B[b,k,j] + bias[j]) + residual[b,i,j]; with
// +scales the sum is first multiplied by a_scale * b_scale[j].
#include <vector>

#include "reference_ops.h"

namespace tb::ref {

Result<void> gemm(const GemmDesc& g, const Problem& p, std::span<const Tensor> in,
                  std::span<Tensor> out) {
  const Tensor& A = in[0];
  const Tensor& B = in[1];
  std::size_t next = 2;
  const Tensor* a_scale = p.post.scales ? &in[next++] : nullptr;
  const Tensor* b_scale = p.post.scales ? &in[next++] : nullptr;
  const Tensor* bias = p.post.bias ? &in[next++] : nullptr;
  const Tensor* res = p.post.residual ? &in[next++] : nullptr;
  Tensor& C = out[0];
  const std::int64_t M = g.m, N = g.n, K = g.k;

  // Operands widened to double once, B laid out k-major, so that the inner loop is a plain
  // multiply-add over contiguous doubles, whatever the storage type and transposition.
  const auto widen = [](const Tensor& t) {
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = t.at(i);
    return v;
  };
  const std::vector<double> a = widen(A);
  std::vector<double> bk(static_cast<std::size_t>(g.batch * K * N));
  for (std::int64_t b = 0; b < g.batch; ++b)
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t j = 0; j < N; ++j)
        bk[static_cast<std::size_t>((b * K + k) * N + j)] =
            g.trans_b ? B.at((b * N + j) * K + k) : B.at((b * K + k) * N + j);

#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t b = 0; b < g.batch; ++b) {
    for (std::int64_t i = 0; i < M; ++i) {
      std::vector<double> acc(static_cast<std::size_t>(N), 0.0);
      for (std::int64_t k = 0; k < K; ++k) {
        const double av =
            a[static_cast<std::size_t>(g.trans_a ? (b * K + k) * M + i : (b * M + i) * K + k)];
        const double* brow = &bk[static_cast<std::size_t>((b * K + k) * N)];
        for (std::int64_t j = 0; j < N; ++j) acc[static_cast<std::size_t>(j)] += av * brow[j];
      }
      for (std::int64_t j = 0; j < N; ++j) {
        // Integer sums are exact in double (|sum| < 2^53); the scales then apply in double.
        double v = acc[static_cast<std::size_t>(j)];
        if (a_scale) v *= a_scale->at(0) * b_scale->at(j);
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

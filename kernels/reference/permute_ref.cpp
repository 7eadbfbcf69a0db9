// Reference permute of the two outer axes: Y[j][i][k] = X[i][j][k].
#include <cstring>

#include "reference_ops.h"

namespace tb::ref {

Result<void> permute(const PermuteDesc& d, const Problem&, std::span<const Tensor> in,
                     std::span<Tensor> out) {
  const std::size_t es = dtype_size(in[0].dtype()), row = static_cast<std::size_t>(d.c) * es;
  for (std::int64_t i = 0; i < d.a; ++i)
    for (std::int64_t j = 0; j < d.b; ++j)
      std::memcpy(out[0].raw() + static_cast<std::size_t>(j * d.a + i) * row,
                  in[0].raw() + static_cast<std::size_t>(i * d.b + j) * row, row);
  return {};
}

}  // namespace tb::ref

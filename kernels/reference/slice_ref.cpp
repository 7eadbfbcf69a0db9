// Reference row slice: Y[i][j] = X[i][s + j t], whole rows copied.
#include <cstring>

#include "reference_ops.h"

namespace tb::ref {

Result<void> slice(const SliceDesc& d, const Problem&, std::span<const Tensor> in,
                   std::span<Tensor> out) {
  const std::size_t row = static_cast<std::size_t>(d.n) * dtype_size(in[0].dtype());
  for (std::int64_t i = 0; i < d.o; ++i)
    for (std::int64_t j = 0; j < d.c; ++j)
      std::memcpy(out[0].raw() + static_cast<std::size_t>(i * d.c + j) * row,
                  in[0].raw() + static_cast<std::size_t>(i * d.r + d.s + j * d.t) * row, row);
  return {};
}

}  // namespace tb::ref

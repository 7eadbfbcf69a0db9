// Reference embedding lookup.
#include "reference_ops.h"

namespace tb::ref {

Result<void> embed(const EmbedDesc& e, const Problem&, std::span<const Tensor> in,
                   std::span<Tensor> out) {
  for (std::int64_t i = 0; i < e.t; ++i) {
    const std::int64_t row = EmbedDesc::row(static_cast<std::int64_t>(in[1].at(i)), e.v);
    for (std::int64_t j = 0; j < e.d; ++j) out[0].set(i * e.d + j, in[0].at(row * e.d + j));
  }
  return {};
}

}  // namespace tb::ref

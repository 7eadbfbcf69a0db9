// Reference embedding lookup (an s8 table: each row times its scale).
#include "reference_ops.h"

namespace tb::ref {

Result<void> embed(const EmbedDesc& e, const Problem&, std::span<const Tensor> in,
                   std::span<Tensor> out) {
  for (std::int64_t i = 0; i < e.t; ++i) {
    const std::int64_t row = EmbedDesc::row(static_cast<std::int64_t>(in[1].at(i)), e.v);
    const double scale = in.size() > 2 ? in[2].at(row) : 1.0;  // an s8 table's row scale
    for (std::int64_t j = 0; j < e.d; ++j) out[0].set(i * e.d + j, in[0].at(row * e.d + j) * scale);
  }
  return {};
}

}  // namespace tb::ref

// Reference elementwise binary ops: add, mul.
#include "reference_ops.h"

namespace tb::ref {

Result<void> binary(const BinaryDesc& b, const Problem&, std::span<const Tensor> in,
                    std::span<Tensor> out) {
  for (std::int64_t i = 0; i < b.n; ++i)
    out[0].set(i,
               b.kind == BinaryKind::add ? in[0].at(i) + in[1].at(i) : in[0].at(i) * in[1].at(i));
  return {};
}

}  // namespace tb::ref

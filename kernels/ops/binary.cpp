// BinaryDesc (elementwise add / mul): dims, validation, tensor specs (layouts in problem.h).
#include "dims_util.h"

namespace tb {

std::string_view BinaryDesc::op_name() const {
  return kind == BinaryKind::add ? "add" : "mul";
}

std::string BinaryDesc::dims() const {
  return "n" + std::to_string(n);
}

Result<BinaryDesc> BinaryDesc::from_dims(const Dims& d, BinaryKind kind) {
  BinaryDesc x;
  x.kind = kind;
  auto r = ops::read_dims(x.op_name(), d, {{"n", &x.n, ops::kRequired}});
  if (!r) return r.error();
  return x;
}

std::vector<TensorSpec> BinaryDesc::inputs(DType dt, const Epilogue&) const {
  return {{"A", ops::storage_type(dt), {n}}, {"B", ops::storage_type(dt), {n}}};
}

std::vector<TensorSpec> BinaryDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", ops::storage_type(dt), {n}}};
}

}  // namespace tb

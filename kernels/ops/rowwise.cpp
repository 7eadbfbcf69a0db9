// RowDesc (row ops: softmax, layer norm, RMS norm): dims, validation, tensor specs (layouts in
// problem.h).
#include "dims_util.h"

namespace tb {

std::string_view RowDesc::op_name() const {
  switch (kind) {
    case RowKind::softmax:
      return "softmax";
    case RowKind::layernorm:
      return "lnorm";
    case RowKind::rmsnorm:
      return "rmsnorm";
  }
  return "?";
}

std::string RowDesc::dims() const {
  using ops::mut;
  return ops::print_dims({{"m", mut(m), ops::kRequired}, {"n", mut(n), ops::kRequired}});
}

Result<RowDesc> RowDesc::from_dims(const Dims& d, RowKind kind) {
  RowDesc x;
  x.kind = kind;
  auto r =
      ops::read_dims(x.op_name(), d, {{"m", &x.m, ops::kRequired}, {"n", &x.n, ops::kRequired}});
  if (!r) return r.error();
  return x;
}

std::vector<TensorSpec> RowDesc::inputs(DType dt, const Epilogue&) const {
  std::vector<TensorSpec> v = {{"X", ops::storage_type(dt), {m, n}}};
  if (kind != RowKind::softmax) v.push_back({"gamma", DType::f32, {n}});
  if (kind == RowKind::layernorm) v.push_back({"beta", DType::f32, {n}});
  return v;
}

std::vector<TensorSpec> RowDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", ops::storage_type(dt), {m, n}}};
}

}  // namespace tb

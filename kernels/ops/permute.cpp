// PermuteDesc (the two outer axes swapped): dims, validation, tensor specs (layouts in problem.h).
#include "dims_util.h"

namespace tb {

std::string PermuteDesc::dims() const {
  using ops::mut;
  return ops::print_dims({{"a", mut(a), ops::kRequired},
                          {"b", mut(b), ops::kRequired},
                          {"c", mut(c), ops::kRequired}});
}

Result<PermuteDesc> PermuteDesc::from_dims(const Dims& dd) {
  PermuteDesc x;
  auto r = ops::read_dims(
      "permute", dd,
      {{"a", &x.a, ops::kRequired}, {"b", &x.b, ops::kRequired}, {"c", &x.c, ops::kRequired}});
  if (!r) return r.error();
  return x;
}

std::vector<TensorSpec> PermuteDesc::inputs(DType dt, const Epilogue&) const {
  return {{"X", ops::storage_type(dt), {a, b, c}}};
}

std::vector<TensorSpec> PermuteDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", ops::storage_type(dt), {b, a, c}}};
}

}  // namespace tb

// RopeDesc (rotary position embedding): dims, validation, tensor specs (layouts in problem.h).
#include "dims_util.h"

namespace tb {

std::string RopeDesc::dims() const {
  using ops::mut;
  return ops::print_dims({{"t", mut(t), ops::kRequired},
                          {"h", mut(h), ops::kRequired},
                          {"d", mut(d), ops::kRequired}});
}

Result<RopeDesc> RopeDesc::from_dims(const Dims& dd) {
  RopeDesc x;
  auto r = ops::read_dims(
      "rope", dd,
      {{"t", &x.t, ops::kRequired}, {"h", &x.h, ops::kRequired}, {"d", &x.d, ops::kRequired, 2}});
  if (!r) return r.error();
  if (x.d % 2) return make_error("rope: d must be even");
  return x;
}

std::vector<TensorSpec> RopeDesc::inputs(DType dt, const Epilogue&) const {
  return {{"X", ops::storage_type(dt), {t, h, d}},
          {"cos", DType::f32, {t, d / 2}},
          {"sin", DType::f32, {t, d / 2}}};
}

std::vector<TensorSpec> RopeDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", ops::storage_type(dt), {t, h, d}}};
}

}  // namespace tb

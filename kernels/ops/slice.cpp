// SliceDesc (rows of the middle axis taken with a step): dims, validation, tensor specs (layouts
// in problem.h).
#include "dims_util.h"

namespace tb {

std::string SliceDesc::dims() const {
  using ops::mut;
  return ops::print_dims({{"o", mut(o), 1},
                          {"r", mut(r), ops::kRequired},
                          {"n", mut(n), ops::kRequired},
                          {"s", mut(s), ops::kRequired, 0},
                          {"c", mut(c), ops::kRequired},
                          {"t", mut(t), 1}});
}

Result<SliceDesc> SliceDesc::from_dims(const Dims& dd) {
  SliceDesc x;
  auto res = ops::read_dims("slice", dd,
                            {{"o", &x.o, 1},
                             {"r", &x.r, ops::kRequired},
                             {"n", &x.n, ops::kRequired},
                             {"s", &x.s, ops::kRequired, 0},
                             {"c", &x.c, ops::kRequired},
                             {"t", &x.t, 1}});
  if (!res) return res.error();
  // s + (c - 1) t < r, without overflow for any parsed values.
  if (x.s >= x.r || (x.c - 1) > (x.r - 1 - x.s) / x.t)
    return make_error("slice: the last row taken, s + (c - 1) t, must be < r");
  return x;
}

std::vector<TensorSpec> SliceDesc::inputs(DType dt, const Epilogue&) const {
  return {{"X", ops::storage_type(dt), {o, r, n}}};
}

std::vector<TensorSpec> SliceDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", ops::storage_type(dt), {o, c, n}}};
}

}  // namespace tb

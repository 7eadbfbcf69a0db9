// EmbedDesc (embedding lookup): dims, validation, tensor specs (layouts in problem.h).
#include "dims_util.h"

namespace tb {

std::string EmbedDesc::dims() const {
  using ops::mut;
  return ops::print_dims({{"v", mut(v), ops::kRequired},
                          {"d", mut(d), ops::kRequired},
                          {"t", mut(t), ops::kRequired}});
}

Result<EmbedDesc> EmbedDesc::from_dims(const Dims& dd) {
  EmbedDesc x;
  auto r = ops::read_dims(
      "embed", dd,
      {{"v", &x.v, ops::kRequired}, {"d", &x.d, ops::kRequired}, {"t", &x.t, ops::kRequired}});
  if (!r) return r.error();
  return x;
}

std::vector<TensorSpec> EmbedDesc::inputs(DType dt, const Epilogue&) const {
  if (dt == DType::s8)
    return {{"table", DType::s8, {v, d}}, {"ids", DType::s32, {t}}, {"scales", DType::f32, {v}}};
  return {{"table", ops::storage_type(dt), {v, d}}, {"ids", DType::s32, {t}}};
}

std::vector<TensorSpec> EmbedDesc::outputs(DType, const Epilogue&) const {
  return {{"Y", DType::f32, {t, d}}};
}

}  // namespace tb

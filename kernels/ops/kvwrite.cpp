// KvWriteDesc (KV-cache write): dims, validation, tensor specs (layouts in problem.h).
#include "dims_util.h"

namespace tb {

std::string KvWriteDesc::dims() const {
  using ops::mut;
  return ops::print_dims({{"h", mut(h), ops::kRequired},
                          {"s", mut(s), ops::kRequired},
                          {"d", mut(d), ops::kRequired},
                          {"p", mut(p), ops::kRequired, 0}});
}

Result<KvWriteDesc> KvWriteDesc::from_dims(const Dims& dd) {
  KvWriteDesc x;
  auto r = ops::read_dims("kvwrite", dd,
                          {{"h", &x.h, ops::kRequired},
                           {"s", &x.s, ops::kRequired},
                           {"d", &x.d, ops::kRequired},
                           {"p", &x.p, ops::kRequired, 0}});
  if (!r) return r.error();
  if (x.p >= x.s) return make_error("kvwrite: the row p must be < s");
  return x;
}

std::vector<TensorSpec> KvWriteDesc::inputs(DType dt, const Epilogue&) const {
  return {{"X", DType::f32, {h, d}}, {"cache", ops::storage_type(dt), {h, s, d}}};
}

std::vector<TensorSpec> KvWriteDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", ops::storage_type(dt), {h, s, d}}};
}

}  // namespace tb

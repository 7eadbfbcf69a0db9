// PoolDesc (max / avg / global pooling): dims, validation, tensor specs (layouts in problem.h).
#include "dims_util.h"

namespace tb {

std::string_view PoolDesc::op_name() const {
  switch (kind) {
    case PoolKind::max:
      return "maxpool";
    case PoolKind::avg:
      return "avgpool";
    case PoolKind::global:
      return "gpool";
  }
  return "?";
}

std::string PoolDesc::dims() const {
  using ops::mut;
  if (kind == PoolKind::global)
    return ops::print_dims({{"n", mut(n), ops::kRequired},
                            {"c", mut(c), ops::kRequired},
                            {"h", mut(h), ops::kRequired},
                            {"w", mut(w), ops::kRequired}});
  return ops::print_dims({{"n", mut(n), ops::kRequired},
                          {"c", mut(c), ops::kRequired},
                          {"h", mut(h), ops::kRequired},
                          {"w", mut(w), ops::kRequired},
                          {"r", mut(r), ops::kRequired},
                          {"s", mut(s), ops::kRequired},
                          {"st", mut(stride), 1},
                          {"p", mut(pad), 0},
                          {"pe", mut(pad_end), 0}});
}

Result<PoolDesc> PoolDesc::from_dims(const Dims& d, PoolKind kind) {
  PoolDesc x;
  x.kind = kind;
  auto r = kind == PoolKind::global ? ops::read_dims(x.op_name(), d,
                                                     {{"n", &x.n, 1},
                                                      {"c", &x.c, ops::kRequired},
                                                      {"h", &x.h, ops::kRequired},
                                                      {"w", &x.w, ops::kRequired}})
                                    : ops::read_dims(x.op_name(), d,
                                                     {{"n", &x.n, 1},
                                                      {"c", &x.c, ops::kRequired},
                                                      {"h", &x.h, ops::kRequired},
                                                      {"w", &x.w, ops::kRequired},
                                                      {"r", &x.r, ops::kRequired},
                                                      {"s", &x.s, ops::kRequired},
                                                      {"st", &x.stride, 1},
                                                      {"p", &x.pad, 0, 0},
                                                      {"pe", &x.pad_end, 0, 0}});
  if (!r) return r.error();
  const std::int64_t end = x.pad + x.pad_end;
  if (end >= x.r || end >= x.s)
    return make_error(std::string(x.op_name()) + ": padding must be smaller than the window");
  if (x.oh() < 1 || x.ow() < 1)
    return make_error(std::string(x.op_name()) + ": the window does not fit the padded image");
  return x;
}

double PoolDesc::flops() const {
  if (kind == PoolKind::global) return static_cast<double>(n * c * h * w);
  return static_cast<double>(n * oh() * ow() * c) * static_cast<double>(r * s);
}

std::vector<TensorSpec> PoolDesc::inputs(DType dt, const Epilogue&) const {
  return {{"src", ops::storage_type(dt), {n, h, w, c}}};
}

std::vector<TensorSpec> PoolDesc::outputs(DType dt, const Epilogue&) const {
  if (kind == PoolKind::global) return {{"dst", ops::storage_type(dt), {n, c}}};
  return {{"dst", ops::storage_type(dt), {n, oh(), ow(), c}}};
}

}  // namespace tb

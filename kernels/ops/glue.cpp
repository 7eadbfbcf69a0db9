// Descs of the glue ops models need between GEMMs and convolutions: pooling, row-wise
// normalisations, elementwise binaries, RoPE, embedding lookup (layouts documented in problem.h).
#include "dims_util.h"

namespace tb {

namespace {
// Glue ops compute in their dtype; integer dtypes make no sense for them and are stored as f32.
DType glue_type(DType dt) {
  return dt == DType::bf16 || dt == DType::f16 ? dt : DType::f32;
}
}  // namespace

// --- pool ---------------------------------------------------------------------------------------

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
                          {"p", mut(pad), 0}});
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
                                                      {"p", &x.pad, 0, 0}});
  if (!r) return r.error();
  if (x.pad >= x.r || x.pad >= x.s)
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
  return {{"src", glue_type(dt), {n, h, w, c}}};
}

std::vector<TensorSpec> PoolDesc::outputs(DType dt, const Epilogue&) const {
  if (kind == PoolKind::global) return {{"dst", glue_type(dt), {n, c}}};
  return {{"dst", glue_type(dt), {n, oh(), ow(), c}}};
}

// --- row-wise: softmax, layer norm, RMS norm ----------------------------------------------------

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
  std::vector<TensorSpec> v = {{"X", glue_type(dt), {m, n}}};
  if (kind != RowKind::softmax) v.push_back({"gamma", DType::f32, {n}});
  if (kind == RowKind::layernorm) v.push_back({"beta", DType::f32, {n}});
  return v;
}

std::vector<TensorSpec> RowDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", glue_type(dt), {m, n}}};
}

// --- elementwise binary -------------------------------------------------------------------------

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
  return {{"A", glue_type(dt), {n}}, {"B", glue_type(dt), {n}}};
}

std::vector<TensorSpec> BinaryDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", glue_type(dt), {n}}};
}

// --- rope ---------------------------------------------------------------------------------------

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
  return {{"X", glue_type(dt), {t, h, d}},
          {"cos", DType::f32, {t, d / 2}},
          {"sin", DType::f32, {t, d / 2}}};
}

std::vector<TensorSpec> RopeDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", glue_type(dt), {t, h, d}}};
}

// --- embedding ----------------------------------------------------------------------------------

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
  return {{"table", glue_type(dt), {v, d}}, {"ids", DType::s32, {t}}};
}

std::vector<TensorSpec> EmbedDesc::outputs(DType dt, const Epilogue&) const {
  return {{"Y", glue_type(dt), {t, d}}};
}

}  // namespace tb

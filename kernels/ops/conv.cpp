// ConvDesc: dims, validation, tensor specs (layouts documented in problem.h).
#include "dims_util.h"

namespace tb {

std::string ConvDesc::dims() const {
  using ops::mut;
  return ops::print_dims({{"n", mut(n), ops::kRequired},
                          {"c", mut(c), ops::kRequired},
                          {"h", mut(h), ops::kRequired},
                          {"w", mut(w), ops::kRequired},
                          {"k", mut(k), ops::kRequired},
                          {"r", mut(r), ops::kRequired},
                          {"s", mut(s), ops::kRequired},
                          {"st", mut(stride), 1},
                          {"p", mut(pad), 0},
                          {"pe", mut(pad_end), 0},
                          {"dl", mut(dilation), 1},
                          {"g", mut(groups), 1}});
}

Result<ConvDesc> ConvDesc::from_dims(const Dims& d) {
  ConvDesc x;
  auto r = ops::read_dims("conv", d,
                          {{"n", &x.n, 1},
                           {"c", &x.c, ops::kRequired},
                           {"h", &x.h, ops::kRequired},
                           {"w", &x.w, ops::kRequired},
                           {"k", &x.k, ops::kRequired},
                           {"r", &x.r, ops::kRequired},
                           {"s", &x.s, ops::kRequired},
                           {"st", &x.stride, 1},
                           {"p", &x.pad, 0, 0},
                           {"pe", &x.pad_end, 0, 0},
                           {"dl", &x.dilation, 1},
                           {"g", &x.groups, 1}});
  if (!r) return r.error();
  if (x.c % x.groups || x.k % x.groups) return make_error("conv: c and k must divide by g");
  if (x.oh() < 1 || x.ow() < 1) return make_error("conv: the kernel does not fit the padded image");
  const std::int64_t end = x.pad + x.pad_end;
  if (end >= x.dilation * (x.r - 1) + 1 || end >= x.dilation * (x.s - 1) + 1)
    return make_error("conv: padding must be smaller than the dilated kernel");
  return x;
}

double ConvDesc::flops() const {
  return 2.0 * static_cast<double>(n * oh() * ow() * k) * static_cast<double>(r * s * (c / groups));
}

std::vector<TensorSpec> ConvDesc::inputs(DType dt, const Epilogue& post) const {
  const auto t = gemm_types(dt, post);
  std::vector<TensorSpec> v = {{"src", t.a, {n, h, w, c}}, {"weights", t.b, {k, r, s, c / groups}}};
  if (post.scales) {
    v.push_back({"a_scale", DType::f32, {1}});
    v.push_back({"b_scale", DType::f32, {k}});
  }
  if (post.bias) v.push_back({"bias", DType::f32, {k}});
  if (post.residual) v.push_back({"residual", t.c, {n, oh(), ow(), k}});
  return v;
}

std::vector<TensorSpec> ConvDesc::outputs(DType dt, const Epilogue& post) const {
  return {{"dst", gemm_types(dt, post).c, {n, oh(), ow(), k}}};
}

}  // namespace tb

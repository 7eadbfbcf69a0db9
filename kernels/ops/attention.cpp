// AttentionDesc: dims, validation, tensor specs (layouts documented in problem.h).
#include <algorithm>

#include "dims_util.h"

namespace tb {

std::int64_t AttentionDesc::pairs() const {
  if (!causal) return q * s;
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < q; ++i) n += std::clamp<std::int64_t>(i + (s - q) + 1, 0, s);
  return n;
}

std::string AttentionDesc::dims() const {
  using ops::mut;
  const std::int64_t kv_print = kv == h ? 0 : kv, c = causal ? 1 : 0;
  return ops::print_dims({{"b", mut(b), 1},
                          {"h", mut(h), ops::kRequired},
                          {"kv", mut(kv_print), 0},
                          {"q", mut(q), ops::kRequired},
                          {"s", mut(s), ops::kRequired},
                          {"d", mut(d), ops::kRequired},
                          {"c", mut(c), 0}});
}

Result<AttentionDesc> AttentionDesc::from_dims(const Dims& dd) {
  AttentionDesc x;
  std::int64_t c = 0;
  auto r = ops::read_dims("attn", dd,
                          {{"b", &x.b, 1},
                           {"h", &x.h, ops::kRequired},
                           {"kv", &x.kv, 0, 0},
                           {"q", &x.q, ops::kRequired},
                           {"s", &x.s, 0, 0},
                           {"d", &x.d, ops::kRequired},
                           {"c", &c, 0, 0}});
  if (!r) return r.error();
  if (x.kv == 0) x.kv = x.h;
  if (x.s == 0) x.s = x.q;
  if (c > 1) return make_error("attn: c must be 0 or 1");
  x.causal = c == 1;
  if (x.h % x.kv) return make_error("attn: h must divide by kv");
  if (x.causal && x.q > x.s)
    return make_error("attn: causal needs q <= s (no query may see no key)");
  return x;
}

namespace {
DType qkv_type(DType dt) {
  return dt == DType::bf16 || dt == DType::f16 ? dt : DType::f32;
}
}  // namespace

std::vector<TensorSpec> AttentionDesc::inputs(DType dt, const Epilogue&) const {
  const DType t = qkv_type(dt);
  return {{"Q", t, {b, h, q, d}}, {"K", t, {b, kv, s, d}}, {"V", t, {b, kv, s, d}}};
}

std::vector<TensorSpec> AttentionDesc::outputs(DType, const Epilogue&) const {
  return {{"O", DType::f32, {b, h, q, d}}};
}

}  // namespace tb

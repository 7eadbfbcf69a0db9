// GemmDesc (and the gemm / conv operand types): dims, validation, tensor specs (layouts in
// problem.h).
#include <string>

#include "../problem.h"

namespace tb {

std::string GemmDesc::dims() const {
  std::string s;
  if (batch != 1) s += "b" + std::to_string(batch);
  s += "m" + std::to_string(m) + "n" + std::to_string(n) + "k" + std::to_string(k);
  if (trans_a) s += "ta1";
  if (trans_b) s += "tb1";
  return s;
}

Result<GemmDesc> GemmDesc::from_dims(const Dims& dims) {
  GemmDesc g;
  bool has_m = false, has_n = false, has_k = false;
  for (const auto& [name, v] : dims) {
    if (name == "b")
      g.batch = v;
    else if (name == "m")
      g.m = v, has_m = true;
    else if (name == "n")
      g.n = v, has_n = true;
    else if (name == "k")
      g.k = v, has_k = true;
    else if (name == "ta" || name == "tb") {
      if (v > 1) return make_error("gemm: " + name + " must be 0 or 1");
      (name == "ta" ? g.trans_a : g.trans_b) = v == 1;
    } else {
      return make_error("gemm: unknown dimension '" + name + "' (expected b, m, n, k, ta, tb)");
    }
  }
  if (!has_m || !has_n || !has_k) return make_error("gemm: m, n and k are required");
  if (g.batch < 1 || g.m < 1 || g.n < 1 || g.k < 1)
    return make_error("gemm: dimensions must be positive");
  return g;
}

GemmTypes gemm_types(DType dt) {
  switch (dt) {
    case DType::bf16:
      return {DType::bf16, DType::bf16, DType::f32};
    case DType::f16:
      return {DType::f16, DType::f16, DType::f16};
    case DType::u8:
    case DType::s8:
      return {DType::u8, DType::s8, DType::s32};
    default:
      return {DType::f32, DType::f32, DType::f32};
  }
}

GemmTypes gemm_types(DType dt, const Epilogue& post) {
  GemmTypes t = gemm_types(dt);
  if (post.scales && t.c == DType::s32) t.c = DType::f32;
  return t;
}

std::vector<TensorSpec> GemmDesc::inputs(DType dt, const Epilogue& post) const {
  const auto t = gemm_types(dt, post);
  std::vector<TensorSpec> v;
  v.push_back(
      {"A", t.a,
       trans_a ? std::vector<std::int64_t>{batch, k, m} : std::vector<std::int64_t>{batch, m, k}});
  v.push_back(
      {"B", t.b,
       trans_b ? std::vector<std::int64_t>{batch, n, k} : std::vector<std::int64_t>{batch, k, n}});
  if (post.scales) {
    v.push_back({"a_scale", DType::f32, {1}});
    v.push_back({"b_scale", DType::f32, {n}});
  }
  if (post.bias) v.push_back({"bias", DType::f32, {n}});
  if (post.residual) v.push_back({"residual", t.c, {batch, m, n}});
  return v;
}

std::vector<TensorSpec> GemmDesc::outputs(DType dt, const Epilogue& post) const {
  return {{"C", gemm_types(dt, post).c, {batch, m, n}}};
}

}  // namespace tb

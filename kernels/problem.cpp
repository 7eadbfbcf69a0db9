#include "problem.h"

#include "problem_limits.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <optional>

namespace tb {

std::int64_t spec_numel(const TensorSpec& s) {
  std::int64_t n = 1;
  for (auto e : s.shape) n *= e;
  return n;
}

std::size_t spec_bytes(const TensorSpec& s) {
  return static_cast<std::size_t>(spec_numel(s)) * dtype_size(s.dtype);
}

std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::none:
      return "none";
    case Activation::relu:
      return "relu";
    case Activation::relu6:
      return "relu6";
    case Activation::gelu:
      return "gelu";
    case Activation::silu:
      return "silu";
  }
  return "?";
}

std::uint32_t activation_code(Activation a) {
  switch (a) {
    case Activation::none:
      return 0;
    case Activation::relu:
      return 1;
    case Activation::relu6:
      return 2;
    case Activation::gelu:
      return 3;
    case Activation::silu:
      return 4;
  }
  return 0;
}

float apply_activation(Activation a, float x) {
  switch (a) {
    case Activation::none:
      return x;
    case Activation::relu:
      return x > 0 ? x : 0.0f;
    case Activation::relu6:
      return x < 0 ? 0.0f : (x > 6 ? 6.0f : x);
    case Activation::gelu:
      return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)));
    case Activation::silu:
      return static_cast<float>(x / (1.0 + std::exp(-static_cast<double>(x))));
  }
  return x;
}

Result<Dims> parse_dims(std::string_view s) {
  Dims out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && std::islower(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i)
      return make_error("expected a dimension name at '" + std::string(s.substr(i)) + "'");
    std::string name(s.substr(i, j - i));
    std::size_t k = j;
    while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
    if (k == j) return make_error("dimension '" + name + "' has no value");
    const std::string digits(s.substr(j, k - j));
    if (digits.size() > 10 || std::stoll(digits) > kMaxDim)
      return make_error("dimension '" + name + "' is " + digits + ", above the limit of " +
                        std::to_string(kMaxDim));
    const std::int64_t v = std::stoll(digits);
    for (auto& [n, _] : out)
      if (n == name) return make_error("dimension '" + name + "' given twice");
    out.emplace_back(std::move(name), v);
    i = k;
  }
  return out;
}

// --- problem ------------------------------------------------------------------------------------

namespace {

std::string fmt_tensor_too_large(const std::string& name, double bytes) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "tensor %s would hold %.3g TiB, above the limit of 1 TiB",
                name.c_str(), bytes / static_cast<double>(kMaxTensorBytes));
  return buf;
}

// Op names to descs, over the op list: a Desc answers to its kOp, or (one Desc for several ops)
// to the op_name() of each of its kKinds.
template <class Desc>
std::optional<Result<OpDesc>> parse_as(std::string_view op, const Dims& d) {
  const auto wrap = [](auto r) -> Result<OpDesc> {
    if (!r) return r.error();
    return OpDesc{std::move(r.value())};
  };
  if constexpr (requires { Desc::kKinds; }) {
    for (const auto k : Desc::kKinds)
      if (op == Desc{k}.op_name()) return wrap(Desc::from_dims(d, k));
  } else if (op == Desc::kOp) {
    return wrap(Desc::from_dims(d));
  }
  return std::nullopt;
}

template <class... Descs>
Result<OpDesc> parse_op(std::string_view op, const Dims& d, std::variant<Descs...>*) {
  std::optional<Result<OpDesc>> r;
  ((r = parse_as<Descs>(op, d)) || ...);
  if (!r) return make_error("unknown op '" + std::string(op) + "'");
  return std::move(*r);
}

Result<Epilogue> parse_post(std::string_view s) {
  Epilogue e;
  while (!s.empty()) {
    // s starts with '+'
    s.remove_prefix(1);
    const auto end = s.find('+');
    const std::string_view tok = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view{} : s.substr(end);
    if (tok == "scales") {
      e.scales = true;
    } else if (tok == "bias") {
      e.bias = true;
    } else if (tok == "res") {
      e.residual = true;
    } else {
      bool found = false;
      for (Activation a :
           {Activation::relu, Activation::relu6, Activation::gelu, Activation::silu}) {
        if (tok == activation_name(a)) {
          if (e.act != Activation::none) return make_error("more than one activation");
          e.act = a;
          found = true;
        }
      }
      if (!found) return make_error("unknown post-op '" + std::string(tok) + "'");
    }
  }
  return e;
}

}  // namespace

Result<Problem> Problem::parse(std::string_view s) {
  const auto c1 = s.find(':');
  if (c1 == std::string_view::npos)
    return make_error("expected OP:DIMS:DTYPE, got '" + std::string(s) + "'");
  const auto c2 = s.find(':', c1 + 1);
  if (c2 == std::string_view::npos)
    return make_error("expected OP:DIMS:DTYPE, got '" + std::string(s) + "'");
  const std::string_view op = s.substr(0, c1);
  const std::string_view dims = s.substr(c1 + 1, c2 - c1 - 1);
  std::string_view rest = s.substr(c2 + 1);
  const auto plus = rest.find('+');
  const std::string_view dt = rest.substr(0, plus);
  const std::string_view post =
      plus == std::string_view::npos ? std::string_view{} : rest.substr(plus);

  auto d = parse_dims(dims);
  if (!d) return make_error("'" + std::string(s) + "': " + d.error().message);
  auto o = parse_op(op, d.value(), static_cast<OpDesc*>(nullptr));
  if (!o) return make_error("'" + std::string(s) + "': " + o.error().message);
  auto t = parse_dtype(dt);
  if (!t)
    return make_error("'" + std::string(s) + "': unknown data type '" + std::string(dt) + "'");
  auto p = parse_post(post);
  if (!p) return make_error("'" + std::string(s) + "': " + p.error().message);
  Problem prob{std::move(o.value()), *t, p.value()};
  if (auto c = check_post(prob); !c)
    return make_error("'" + std::string(s) + "': " + c.error().message);
  if (auto c = check_size(prob); !c)
    return make_error("'" + std::string(s) + "': " + c.error().message);
  return prob;
}

Result<void> check_size(const Problem& p) {
  const auto check = [](const TensorSpec& t) -> Result<void> {
    std::uint64_t bytes = dtype_size(t.dtype);
    bool over = false;
    for (const auto d : t.shape)
      over = over || d < 0 || __builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes);
    if (!over && bytes <= kMaxTensorBytes) return {};
    double need = static_cast<double>(dtype_size(t.dtype));
    for (const auto d : t.shape) need *= static_cast<double>(d);
    return make_error(fmt_tensor_too_large(t.name, need));
  };
  for (const auto& t : p.inputs())
    if (auto c = check(t); !c) return c;
  for (const auto& t : p.outputs())
    if (auto c = check(t); !c) return c;
  return {};
}

Result<void> check_post(const Problem& p) {
  const unsigned allowed =
      std::visit([](const auto& x) { return std::decay_t<decltype(x)>::kPosts; }, p.op);
  const Epilogue& e = p.post;
  if ((e.bias && !(allowed & kPostBias)) || (e.act != Activation::none && !(allowed & kPostAct)) ||
      (e.residual && !(allowed & kPostRes)) || (e.scales && !(allowed & kPostScales)))
    return make_error(std::string(p.op_name()) + " does not take that post-op");
  // Scales dequantise an integer accumulator; a float type has none to dequantise.
  if (e.scales && p.dtype != DType::u8 && p.dtype != DType::s8)
    return make_error("+scales needs an integer data type (u8 or s8), not " +
                      std::string(dtype_name(p.dtype)));
  return {};
}

std::string Problem::str() const {
  std::string s(op_name());
  s += ":" + std::visit([](const auto& d) { return d.dims(); }, op) + ":";
  s += dtype_name(dtype);
  if (post.scales) s += "+scales";
  if (post.bias) s += "+bias";
  if (post.act != Activation::none) s += "+" + std::string(activation_name(post.act));
  if (post.residual) s += "+res";
  return s;
}

std::string_view Problem::op_name() const {
  return std::visit(
      [](const auto& d) -> std::string_view {
        if constexpr (requires { d.op_name(); })
          return d.op_name();
        else
          return std::decay_t<decltype(d)>::kOp;
      },
      op);
}

double Problem::flops() const {
  return std::visit([](const auto& d) { return d.flops(); }, op);
}

std::vector<TensorSpec> Problem::inputs() const {
  return std::visit([&](const auto& d) { return d.inputs(dtype, post); }, op);
}

std::vector<TensorSpec> Problem::outputs() const {
  return std::visit([&](const auto& d) { return d.outputs(dtype, post); }, op);
}

double Problem::min_bytes() const {
  double b = 0;
  const auto add = [&b](const std::vector<TensorSpec>& specs) {
    for (const auto& t : specs) {
      double n = static_cast<double>(dtype_size(t.dtype));
      for (auto d : t.shape) n *= static_cast<double>(d);
      b += n;
    }
  };
  add(inputs());
  add(outputs());
  return b;
}

Problem make_gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType dt) {
  GemmDesc g;
  g.m = m;
  g.n = n;
  g.k = k;
  return Problem{g, dt, {}};
}

}  // namespace tb

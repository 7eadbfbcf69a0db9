// Problems: what a kernel computes, as a typed description with a canonical string that parses
// and prints round-trip. The string is at once the CLI filter, the store key and the repro line:
//
//   gemm:m1024n1024k1024:f32          gemm:b4m17n31k13ta1:f32+bias+relu
//
// Grammar: OP ':' DIMS ':' DTYPE ('+' POST)*. DIMS is a run of name-number pairs (lower-case
// letters then digits); defaults are omitted when printing. POST is bias, an activation (relu,
// relu6, gelu, silu) or res (residual add), printed in that order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dtype.h"
#include "result.h"

namespace tb {

enum class Activation { none, relu, relu6, gelu, silu };
std::string_view activation_name(Activation a);
float apply_activation(Activation a, float x);  // reference semantics (GELU: erf form)

struct Epilogue {
  bool bias = false;
  Activation act = Activation::none;
  bool residual = false;
  bool operator==(const Epilogue&) const = default;
};

// One input or output of a problem: name, element type, dense row-major shape.
struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
};

// Name-number pairs of a DIMS token, in order of appearance.
using Dims = std::vector<std::pair<std::string, std::int64_t>>;
Result<Dims> parse_dims(std::string_view s);

// C[b] = act(A[b] . B[b] + bias) (+ residual). A is m x k (k x m when trans_a), B is k x n
// (n x k when trans_b), bias has n elements, C and residual are m x n; all row-major.
struct GemmDesc {
  static constexpr std::string_view kOp = "gemm";
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;

  std::string dims() const;
  static Result<GemmDesc> from_dims(const Dims& d);
  double flops() const { return 2.0 * batch * m * n * k; }
  std::vector<TensorSpec> inputs(DType dt, const Epilogue& post) const;
  std::vector<TensorSpec> outputs(DType dt, const Epilogue& post) const;
  bool operator==(const GemmDesc&) const = default;
};

// Adding an op: write its Desc (the members above), then list it here.
using OpDesc = std::variant<GemmDesc>;

struct Problem {
  OpDesc op;
  DType dtype = DType::f32;
  Epilogue post;

  static Result<Problem> parse(std::string_view s);
  std::string str() const;
  std::string_view op_name() const;
  double flops() const;      // multiply-add counts as 2
  double min_bytes() const;  // compulsory traffic: every input read and output written once
  std::vector<TensorSpec> inputs() const;
  std::vector<TensorSpec> outputs() const;
  template <class T>
  const T* as() const {
    return std::get_if<T>(&op);
  }
  bool operator==(const Problem&) const = default;
};

Problem make_gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType dt = DType::f32);

}  // namespace tb

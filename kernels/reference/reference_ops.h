// One function per op, each in its own file; reference_backend.cpp dispatches on the problem.
#pragma once

#include <span>

#include "../problem.h"
#include "../result.h"
#include "../tensor.h"

namespace tb::ref {

Result<void> gemm(const GemmDesc& g, const Problem& p, std::span<const Tensor> in,
                  std::span<Tensor> out);

}  // namespace tb::ref

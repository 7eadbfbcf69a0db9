// One function per op family, ref::<stem>(desc, problem, inputs, outputs), each defined in its own
// file <stem>_ref.cpp and declared here from the op list (problem.h); reference_backend.cpp
// dispatches on the problem through the overloads of ref::compute.
#pragma once

#include <span>

#include "../problem.h"
#include "../result.h"
#include "../tensor.h"

namespace tb::ref {

#define TB_REF_DECLARE(Desc, stem)                                                         \
  Result<void> stem(const Desc& d, const Problem& p, std::span<const Tensor> in,           \
                    std::span<Tensor> out);                                                \
  inline Result<void> compute(const Desc& d, const Problem& p, std::span<const Tensor> in, \
                              std::span<Tensor> out) {                                     \
    return stem(d, p, in, out);                                                            \
  }
TB_OP_LIST(TB_REF_DECLARE)
#undef TB_REF_DECLARE

}  // namespace tb::ref

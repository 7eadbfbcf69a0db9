// Public header of the kernels library: the backend interface, problems, tensors, validation,
// and the one place where backends are registered.
#pragma once

#include <memory>
#include <vector>

#include "backend.h"
#include "device_graph.h"
#include "problem.h"
#include "tensor.h"
#include "validate.h"

namespace tb {

// Every backend tierbench knows, in a fixed order: reference first (it defines correctness).
// Construction never fails; ask each one's availability().
std::vector<std::unique_ptr<Backend>> make_backends();

}  // namespace tb

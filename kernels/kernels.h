// Public header of the kernels library: the backend interface, problems, tensors, validation,
// and the backends this build registered (registry.cpp).
#pragma once

#include <memory>
#include <span>
#include <string_view>
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

// The traits of every backend this build has, in the same order, without constructing one.
std::span<const BackendTraits* const> built_backends();
// The traits of the backend of that name, or nullptr when this build has none (a store may hold
// results of a backend built elsewhere, or configured OFF here: TB_BACKEND_<NAME>).
const BackendTraits* find_backend_traits(std::string_view name);

}  // namespace tb

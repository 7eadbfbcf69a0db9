// The reference backend: naive, obviously-correct C++ that defines what every other backend
// must compute. Accumulates in double (int32 for integer types). Rows are split over OpenMP
// threads only so that large validation problems finish in reasonable time.
#pragma once

#include <memory>
#include <span>

#include "../backend.h"

namespace tb {

std::unique_ptr<Backend> make_reference_backend();
const BackendTraits& reference_backend_traits();

// The data types the reference defines semantics for (and so every backend may offer).
Support reference_supports(const Problem& p);

// Direct entry for tests and workloads: computes p's outputs from inputs (as make_inputs lays
// them out) into outputs (as make_outputs lays them out).
Result<void> reference_compute(const Problem& p, std::span<const Tensor> inputs,
                               std::span<Tensor> outputs);

}  // namespace tb

// Shared helpers for the per-op suites: every available backend x device, and a run of one
// problem on one backend checked against the reference.
#pragma once

#include <string>
#include <vector>

#include "kernels.h"

namespace tb::test {

// Names of all registered backends (available or not): suites are instantiated over these and
// skip at run time when one is unavailable, so a missing driver shows as SKIPPED, not absent.
std::vector<std::string> backend_names();
Backend* backend(const std::string& name);  // owned by the fixture's process-wide registry

struct Outcome {
  Status status = Status::error;
  std::string message;
  Check check;
};

// prepare -> upload -> execute -> download on `name`, then compare with the reference backend.
Outcome run_and_check(const std::string& name, const Problem& p, std::uint64_t seed = 42);

}  // namespace tb::test

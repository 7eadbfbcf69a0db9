// The capability profile: what this device can do, condensed from the local store into coarse
// buckets that are safe to share with a scheduler. It holds no identifiers (no model strings,
// UUIDs, serials, driver versions) and no raw measurements: every figure is a power-of-two
// bucket ("128-256 GFLOP/s"), every model tier a verdict with a latency bucket.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "result.h"
#include "store.h"

namespace tb::profiles {

// The power-of-two bucket holding `value`, as "[lo, hi) unit", e.g. "128-256 GFLOP/s";
// "0" for zero and "unknown" for a non-finite or negative value.
std::string pow2_bucket(double value, const std::string& unit);

// Builds the profile from the latest probe and the latest run with model-tier results:
//   {"schema": "tierbench.profile/1",
//    "compute": {"f32_gflops": bucket, "bf16_gflops": ..., "int8_gops": ...},
//    "memory": {"bandwidth_gbps": bucket}, "storage": {"cold_read_gbps": bucket},
//    "accelerators": {"opencl": n_devices, "vulkan": n_devices, "gpu": bool},
//    "tiers": {"<tier:variant:dtype>": {"runs": bool, "best_backend_kind": "cpu"|"gpu",
//                                        "p50": bucket ms, "load": bucket ms}}}
// An error when the store holds no probe yet.
Result<nlohmann::json> capability_profile(Store& store);

}  // namespace tb::profiles

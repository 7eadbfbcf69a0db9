// Accelerator API probes: every OpenCL device and every Vulkan physical device, with properties
// and figures measured through that API (clpeak-style). Each returns
//   {"api": "opencl"|"vulkan", "available": bool, "reason": "...", "devices": [ {...}, ... ]}
// and never throws: a missing loader, ICD or device is an "unavailable" entry with the reason.
// The per-device object holds: name, type, vendor, driver_version, api_version, compute_units,
// global_memory_bytes, max_workgroup_size, subgroup_size, fp16, int8_dot, and "measured":
//   {"peak_f32_gflops": {"median","min","max", "by_width": {...}}, "global_bw_gbps": {...},
//    "h2d_gbps": {...}, "d2h_gbps": {...}, "dispatch_latency_us": {...}}
// with each figure as {"median", "min", "max", "trials"}.
#pragma once

#include <nlohmann/json.hpp>

namespace tb {

struct AccelProbeOptions {
  bool quick = false;   // fewer, shorter trials (for tests and CI)
  bool measure = true;  // false: properties only
};

nlohmann::json probe_opencl(const AccelProbeOptions& opts);  // probes/opencl_probe.cpp
nlohmann::json probe_vulkan(const AccelProbeOptions& opts);  // probes/vulkan_probe.cpp

}  // namespace tb

// Public header of the probes library.
#pragma once

#include "accel_probe.h"       // probe_opencl, probe_vulkan
#include "cpu_features.h"      // tb::cpu_features(): run-time ISA detection
#include "last_level_cache.h"  // tb::probe::plausible_last_level_bytes
#include "probe_report.h"      // tb::run_probe, tb::ProbeOptions

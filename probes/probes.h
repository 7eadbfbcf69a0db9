// Public header of the probes library.
#pragma once

#include "accel_probe.h"   // probe_opencl, probe_vulkan
#include "cpu_features.h"  // tb::cpu_features(): run-time ISA detection
#include "probe_report.h"  // tb::run_probe, tb::ProbeOptions

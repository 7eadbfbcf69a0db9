// OpenCL program build with a binary cache: the first build compiles from source and saves
// clGetProgramInfo(CL_PROGRAM_BINARIES) under <cache_root()>/opencl/ (cache_dir.h), keyed by device
// name, driver version, source hash and build options; later builds reload it with
// clCreateProgramWithBinary. A stale or rejected binary falls back to a source build (and is
// overwritten).
#pragma once

#include <string>
#include <string_view>

#include "cl_common.h"

namespace tb::ocl {

struct BuiltProgram {
  Program program;
  double build_s = 0;      // wall time of create + build (binary or source)
  bool cache_hit = false;  // true when built from a cached binary
  std::string key;         // cache key (hex)
};

// use_cache=false (or TB_OPENCL_BINARY_CACHE=0 in the environment) always builds from source.
Result<BuiltProgram> build_program(cl_context ctx, cl_device_id dev, std::string_view source,
                                   const std::string& options, bool use_cache = true);

// The embedded OpenCL C source `name` (a file under kernels/opencl/cl/ without ".cl"); read from
// the source tree instead when built with TB_KERNELS_FROM_DISK. Empty when unknown.
std::string cl_source(std::string_view name);

}  // namespace tb::ocl

// OpenCL helpers shared by the OpenCL probe (opencl_probe.cpp) and the OpenCL backend
// (kernels/opencl/cl_common.h): error names and device queries. OpenCL 1.2 APIs only.
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <string>
#include <string_view>

namespace tb::ocl {

// "CL_OUT_OF_RESOURCES"; "CL_UNKNOWN_ERROR" for a code the table lacks.
std::string_view cl_error_name(cl_int err);

// Device and platform string / scalar queries; empty or 0 when the query fails.
std::string device_string(cl_device_id d, cl_device_info what);
std::string platform_string(cl_platform_id p, cl_platform_info what);
template <class T>
T device_scalar(cl_device_id d, cl_device_info what) {
  T v{};
  if (clGetDeviceInfo(d, what, sizeof(T), &v, nullptr) != CL_SUCCESS) return T{};
  return v;
}
bool has_extension(cl_device_id d, std::string_view ext);
// cpu, integrated-gpu, discrete-gpu, accelerator, other (DeviceInfo::type, the probe's "type").
std::string device_type_name(cl_device_type t, bool host_unified_memory);

}  // namespace tb::ocl

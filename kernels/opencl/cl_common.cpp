#include "cl_common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace tb::ocl {

Error cl_error(const char* file, int line, const char* call, cl_int err) {
  std::string f = file;
  if (auto s = f.find_last_of('/'); s != std::string::npos) f = f.substr(s + 1);
  return Error{f + ":" + std::to_string(line) + ": " + call +
               " failed: " + std::string(cl_error_name(err)) + " (" + std::to_string(err) + ")"};
}

Result<std::vector<DeviceRef>> enumerate_devices() {
  cl_uint np = 0;
  const cl_int e = clGetPlatformIDs(0, nullptr, &np);
  if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no vendor */ || np == 0)
    return make_error("no OpenCL platform (no ICD installed or OCL_ICD_VENDORS empty)");
  TB_CL_CHECK(e);
  std::vector<cl_platform_id> ps(np);
  TB_CL_CHECK(clGetPlatformIDs(np, ps.data(), nullptr));
  std::vector<DeviceRef> out;
  for (cl_platform_id p : ps) {
    cl_uint nd = 0;
    const cl_int de = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd);
    if (de == CL_DEVICE_NOT_FOUND || nd == 0) continue;
    if (de != CL_SUCCESS) continue;  // a broken platform must not hide the others
    std::vector<cl_device_id> ds(nd);
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, ds.data(), nullptr) != CL_SUCCESS) continue;
    for (cl_device_id d : ds) out.push_back({p, d});
  }
  if (out.empty()) return make_error("OpenCL platforms found but no device");
  return out;
}

Result<double> event_seconds(cl_event first, cl_event last) {
  cl_ulong t0 = 0, t1 = 0;
  TB_CL_CHECK(clGetEventProfilingInfo(first, CL_PROFILING_COMMAND_START, sizeof t0, &t0, nullptr));
  TB_CL_CHECK(clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END, sizeof t1, &t1, nullptr));
  return static_cast<double>(t1 - t0) * 1e-9;
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace tb::ocl

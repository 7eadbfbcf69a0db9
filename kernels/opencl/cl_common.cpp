#include "cl_common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace tb::ocl {

std::string_view cl_error_name(cl_int err) {
  switch (err) {
#define TB_CL_ERR(e) \
  case e:            \
    return #e;
    TB_CL_ERR(CL_SUCCESS)
    TB_CL_ERR(CL_DEVICE_NOT_FOUND)
    TB_CL_ERR(CL_DEVICE_NOT_AVAILABLE)
    TB_CL_ERR(CL_COMPILER_NOT_AVAILABLE)
    TB_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    TB_CL_ERR(CL_OUT_OF_RESOURCES)
    TB_CL_ERR(CL_OUT_OF_HOST_MEMORY)
    TB_CL_ERR(CL_PROFILING_INFO_NOT_AVAILABLE)
    TB_CL_ERR(CL_MEM_COPY_OVERLAP)
    TB_CL_ERR(CL_IMAGE_FORMAT_MISMATCH)
    TB_CL_ERR(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    TB_CL_ERR(CL_BUILD_PROGRAM_FAILURE)
    TB_CL_ERR(CL_MAP_FAILURE)
    TB_CL_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    TB_CL_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    TB_CL_ERR(CL_COMPILE_PROGRAM_FAILURE)
    TB_CL_ERR(CL_LINKER_NOT_AVAILABLE)
    TB_CL_ERR(CL_LINK_PROGRAM_FAILURE)
    TB_CL_ERR(CL_DEVICE_PARTITION_FAILED)
    TB_CL_ERR(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    TB_CL_ERR(CL_INVALID_VALUE)
    TB_CL_ERR(CL_INVALID_DEVICE_TYPE)
    TB_CL_ERR(CL_INVALID_PLATFORM)
    TB_CL_ERR(CL_INVALID_DEVICE)
    TB_CL_ERR(CL_INVALID_CONTEXT)
    TB_CL_ERR(CL_INVALID_QUEUE_PROPERTIES)
    TB_CL_ERR(CL_INVALID_COMMAND_QUEUE)
    TB_CL_ERR(CL_INVALID_HOST_PTR)
    TB_CL_ERR(CL_INVALID_MEM_OBJECT)
    TB_CL_ERR(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    TB_CL_ERR(CL_INVALID_IMAGE_SIZE)
    TB_CL_ERR(CL_INVALID_SAMPLER)
    TB_CL_ERR(CL_INVALID_BINARY)
    TB_CL_ERR(CL_INVALID_BUILD_OPTIONS)
    TB_CL_ERR(CL_INVALID_PROGRAM)
    TB_CL_ERR(CL_INVALID_PROGRAM_EXECUTABLE)
    TB_CL_ERR(CL_INVALID_KERNEL_NAME)
    TB_CL_ERR(CL_INVALID_KERNEL_DEFINITION)
    TB_CL_ERR(CL_INVALID_KERNEL)
    TB_CL_ERR(CL_INVALID_ARG_INDEX)
    TB_CL_ERR(CL_INVALID_ARG_VALUE)
    TB_CL_ERR(CL_INVALID_ARG_SIZE)
    TB_CL_ERR(CL_INVALID_KERNEL_ARGS)
    TB_CL_ERR(CL_INVALID_WORK_DIMENSION)
    TB_CL_ERR(CL_INVALID_WORK_GROUP_SIZE)
    TB_CL_ERR(CL_INVALID_WORK_ITEM_SIZE)
    TB_CL_ERR(CL_INVALID_GLOBAL_OFFSET)
    TB_CL_ERR(CL_INVALID_EVENT_WAIT_LIST)
    TB_CL_ERR(CL_INVALID_EVENT)
    TB_CL_ERR(CL_INVALID_OPERATION)
    TB_CL_ERR(CL_INVALID_GL_OBJECT)
    TB_CL_ERR(CL_INVALID_BUFFER_SIZE)
    TB_CL_ERR(CL_INVALID_MIP_LEVEL)
    TB_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE)
    TB_CL_ERR(CL_INVALID_PROPERTY)
    TB_CL_ERR(CL_INVALID_IMAGE_DESCRIPTOR)
    TB_CL_ERR(CL_INVALID_COMPILER_OPTIONS)
    TB_CL_ERR(CL_INVALID_LINKER_OPTIONS)
    TB_CL_ERR(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef TB_CL_ERR
    case -1001:
      return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
      return "CL_UNKNOWN_ERROR";
  }
}

Error cl_error(const char* file, int line, const char* call, cl_int err) {
  std::string f = file;
  if (auto s = f.find_last_of('/'); s != std::string::npos) f = f.substr(s + 1);
  return Error{f + ":" + std::to_string(line) + ": " + call +
               " failed: " + std::string(cl_error_name(err)) + " (" + std::to_string(err) + ")"};
}

std::string device_string(cl_device_id d, cl_device_info what) {
  std::size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (clGetDeviceInfo(d, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string platform_string(cl_platform_id p, cl_platform_info what) {
  std::size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (clGetPlatformInfo(p, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

bool has_extension(cl_device_id d, std::string_view ext) {
  const std::string all = " " + device_string(d, CL_DEVICE_EXTENSIONS) + " ";
  return all.find(" " + std::string(ext) + " ") != std::string::npos;
}

std::string device_type_name(cl_device_type t, bool host_unified_memory) {
  if (t & CL_DEVICE_TYPE_GPU) return host_unified_memory ? "integrated-gpu" : "discrete-gpu";
  if (t & CL_DEVICE_TYPE_CPU) return "cpu";
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  return "other";
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

std::string cache_dir() {
  namespace fs = std::filesystem;
  fs::path base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    base = fs::path(h) / ".cache";
  } else {
    return {};
  }
  const fs::path dir = base / "tierbench";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return {};
  return dir.string();
}

}  // namespace tb::ocl

// Shared plumbing of the OpenCL backend: the check macro, RAII handles, device queries, hashing
// and the cache directory. OpenCL 1.2 APIs only, so that real GPU drivers work as well as PoCL.
#pragma once

#include "opencl_util.h"  // probes/: error names and device queries, shared with the probe

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../result.h"

namespace tb::ocl {

// "opencl_gemm.cpp:42: clEnqueueNDRangeKernel(...) failed: CL_OUT_OF_RESOURCES (-5)"
Error cl_error(const char* file, int line, const char* call, cl_int err);

// Wraps a cl* call that returns cl_int; on failure returns tb::Error from the enclosing function.
#define TB_CL_CHECK(call)                                                \
  do {                                                                   \
    const cl_int tb_cl_err_ = (call);                                    \
    if (tb_cl_err_ != CL_SUCCESS)                                        \
      return ::tb::ocl::cl_error(__FILE__, __LINE__, #call, tb_cl_err_); \
  } while (0)

// For calls that report the error through a trailing cl_int* argument:
//   cl_mem m = clCreateBuffer(..., &err); TB_CL_CHECK_ERR(err, "clCreateBuffer");
#define TB_CL_CHECK_ERR(err, what)                                                        \
  do {                                                                                    \
    if ((err) != CL_SUCCESS) return ::tb::ocl::cl_error(__FILE__, __LINE__, what, (err)); \
  } while (0)

// Owning handle for a cl object, released with the matching clRelease*.
template <class T, cl_int (*Release)(T)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(T h) : h_(h) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~Handle() { reset(); }
  void reset(T h = nullptr) {
    if (h_) Release(h_);
    h_ = h;
  }
  T get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  T h_ = nullptr;
};
using Context = Handle<cl_context, clReleaseContext>;
using Queue = Handle<cl_command_queue, clReleaseCommandQueue>;
using Program = Handle<cl_program, clReleaseProgram>;
using Kernel = Handle<cl_kernel, clReleaseKernel>;
using Mem = Handle<cl_mem, clReleaseMemObject>;
using Event = Handle<cl_event, clReleaseEvent>;

// A device as the backend sees it: every device of every platform, in enumeration order.
struct DeviceRef {
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
};
// Fails with the reason (no ICD, no platform, no device) instead of crashing.
Result<std::vector<DeviceRef>> enumerate_devices();

// Start and end of a profiled command, in seconds between them.
Result<double> event_seconds(cl_event first, cl_event last);

// FNV-1a 64, printed as 16 hex digits: keys for the program and tuning caches.
std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ull);
std::string hex64(std::uint64_t v);

}  // namespace tb::ocl

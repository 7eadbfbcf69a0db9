// probe_opencl: every OpenCL device with its properties and clpeak-style measured figures.
// Peak f32 uses clpeak's dependent mad chains for float, float2 ... float16 (so the figures are
// comparable with clpeak's); bandwidth reads float4s coalesced; transfers are blocking
// clEnqueueRead/WriteBuffer; dispatch latency is an empty kernel's enqueue + clFinish round trip
// on the host clock. Every cl* call is checked; a failure on one device becomes that device's
// "error" and the others go on. Error names and device queries: opencl_util.h (shared with the
// OpenCL backend). Self-contained: tb_probes depends on nothing else in tierbench.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "accel_probe.h"
#include "opencl_util.h"

namespace tb {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Errors inside one device's measurement unwind to probe_opencl, which records them; nothing
// escapes probe_opencl.
struct ClFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const char* file, int line, const char* call, cl_int e) {
  std::string f = file;
  if (auto s = f.find_last_of('/'); s != std::string::npos) f = f.substr(s + 1);
  throw ClFailure(f + ":" + std::to_string(line) + ": " + call + " failed: " +
                  std::string(ocl::cl_error_name(e)) + " (" + std::to_string(e) + ")");
}
#define PROBE_CL(call)                                                         \
  do {                                                                         \
    const cl_int probe_err_ = (call);                                          \
    if (probe_err_ != CL_SUCCESS) fail(__FILE__, __LINE__, #call, probe_err_); \
  } while (0)
#define PROBE_CL_ERR(err, what)                                     \
  do {                                                              \
    if ((err) != CL_SUCCESS) fail(__FILE__, __LINE__, what, (err)); \
  } while (0)

template <class T, cl_int (*Release)(T)>
struct Owned {
  T h = nullptr;
  Owned() = default;
  explicit Owned(T x) : h(x) {}
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (h) Release(h);
  }
};
using Ctx = Owned<cl_context, clReleaseContext>;
using Que = Owned<cl_command_queue, clReleaseCommandQueue>;
using Prog = Owned<cl_program, clReleaseProgram>;
using Kern = Owned<cl_kernel, clReleaseKernel>;
using Buf = Owned<cl_mem, clReleaseMemObject>;
using Evt = Owned<cl_event, clReleaseEvent>;

const char* kSource = R"CLC(
#define MAD_4(x, y) x = mad(y, x, y); y = mad(x, y, x); x = mad(y, x, y); y = mad(x, y, x);
#define MAD_16(x, y) MAD_4(x, y) MAD_4(x, y) MAD_4(x, y) MAD_4(x, y)
// 2048 mads per work-item whatever the width, as clpeak's compute_sp_v*.
__kernel void peak_v1(__global float* out, float A) {
  float x = A, y = (float)get_local_id(0);
  for (int i = 0; i < 128; i++) { MAD_16(x, y); }
  out[get_global_id(0)] = y;
}
__kernel void peak_v2(__global float* out, float A) {
  float2 x = (float2)(A, A + 1), y = (float2)get_local_id(0);
  for (int i = 0; i < 64; i++) { MAD_16(x, y); }
  out[get_global_id(0)] = y.s0 + y.s1;
}
__kernel void peak_v4(__global float* out, float A) {
  float4 x = (float4)(A, A + 1, A + 2, A + 3), y = (float4)get_local_id(0);
  for (int i = 0; i < 32; i++) { MAD_16(x, y); }
  out[get_global_id(0)] = y.s0 + y.s1 + y.s2 + y.s3;
}
__kernel void peak_v8(__global float* out, float A) {
  float8 x = (float8)(A, A + 1, A + 2, A + 3, A + 4, A + 5, A + 6, A + 7);
  float8 y = (float8)get_local_id(0);
  for (int i = 0; i < 16; i++) { MAD_16(x, y); }
  out[get_global_id(0)] = y.s0 + y.s1 + y.s2 + y.s3 + y.s4 + y.s5 + y.s6 + y.s7;
}
__kernel void peak_v16(__global float* out, float A) {
  float16 x = (float16)(A, A + 1, A + 2, A + 3, A + 4, A + 5, A + 6, A + 7, A + 8, A + 9,
                        A + 10, A + 11, A + 12, A + 13, A + 14, A + 15);
  float16 y = (float16)get_local_id(0);
  for (int i = 0; i < 8; i++) { MAD_16(x, y); }
  float8 s = y.lo + y.hi; float4 t = s.lo + s.hi; float2 u = t.lo + t.hi;
  out[get_global_id(0)] = u.s0 + u.s1;
}
// Each work-group reads one contiguous block of 16 * local_size float4s, work-item i reading
// every local_size-th one from i (clpeak's local-offset pattern: coalesced on GPUs, streaming on
// CPUs).
__kernel void read_bw(__global const float4* in, __global float* out) {
  const size_t l = get_local_size(0);
  const size_t base = get_group_id(0) * l * 16 + get_local_id(0);
  float4 s = (float4)(0.0f);
  for (int i = 0; i < 16; ++i) s += in[base + i * l];
  out[get_global_id(0)] = s.x + s.y + s.z + s.w;
}
__kernel void empty_kernel(void) {}
)CLC";

struct Stats {
  std::vector<double> v;
  json to_json() const {
    std::vector<double> s = v;
    std::sort(s.begin(), s.end());
    if (s.empty()) return json{{"median", 0}, {"min", 0}, {"max", 0}, {"trials", 0}};
    const double med =
        s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
    return json{{"median", med},
                {"min", s.front()},
                {"max", s.back()},
                {"trials", static_cast<int>(s.size())}};
  }
  double median() const { return to_json()["median"].get<double>(); }
};

double event_s(cl_event e) {
  cl_ulong a = 0, b = 0;
  PROBE_CL(clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof a, &a, nullptr));
  PROBE_CL(clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof b, &b, nullptr));
  return static_cast<double>(b - a) * 1e-9;
}

double run_kernel(cl_command_queue q, cl_kernel k, std::size_t global, std::size_t local) {
  cl_event e = nullptr;
  PROBE_CL(
      clEnqueueNDRangeKernel(q, k, 1, nullptr, &global, local ? &local : nullptr, 0, nullptr, &e));
  Evt ev(e);
  PROBE_CL(clWaitForEvents(1, &e));
  return event_s(e);
}

json device_properties(cl_platform_id p, cl_device_id d) {
  const auto type = ocl::device_scalar<cl_device_type>(d, CL_DEVICE_TYPE);
  const std::string t =
      ocl::device_type_name(type, ocl::device_scalar<cl_bool>(d, CL_DEVICE_HOST_UNIFIED_MEMORY));
  std::int64_t subgroup = 0;
  if (ocl::has_extension(d, "cl_nv_device_attribute_query"))
    subgroup = ocl::device_scalar<cl_uint>(d, 0x4003);
  else if (ocl::has_extension(d, "cl_amd_device_attribute_query"))
    subgroup = ocl::device_scalar<cl_uint>(d, 0x4043);
  std::size_t pn = 0;
  std::string platform;
  if (clGetPlatformInfo(p, CL_PLATFORM_NAME, 0, nullptr, &pn) == CL_SUCCESS && pn > 0) {
    platform.resize(pn);
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, pn, platform.data(), nullptr) != CL_SUCCESS)
      platform.clear();
    while (!platform.empty() && platform.back() == '\0') platform.pop_back();
  }
  return json{
      {"name", ocl::device_string(d, CL_DEVICE_NAME)},
      {"type", t},
      {"vendor", ocl::device_string(d, CL_DEVICE_VENDOR)},
      {"platform", platform},
      {"driver_version", ocl::device_string(d, CL_DRIVER_VERSION)},
      {"api_version", ocl::device_string(d, CL_DEVICE_VERSION)},
      {"compute_units", ocl::device_scalar<cl_uint>(d, CL_DEVICE_MAX_COMPUTE_UNITS)},
      {"clock_mhz", ocl::device_scalar<cl_uint>(d, CL_DEVICE_MAX_CLOCK_FREQUENCY)},
      {"global_memory_bytes", ocl::device_scalar<cl_ulong>(d, CL_DEVICE_GLOBAL_MEM_SIZE)},
      {"max_workgroup_size", ocl::device_scalar<std::size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE)},
      {"subgroup_size", subgroup},
      {"fp16", ocl::has_extension(d, "cl_khr_fp16")},
      {"int8_dot", ocl::has_extension(d, "cl_khr_integer_dot_product") ||
                       ocl::has_extension(d, "cl_arm_integer_dot_product_int8")}};
}

json measure(cl_platform_id p, cl_device_id d, const AccelProbeOptions& o) {
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                         reinterpret_cast<cl_context_properties>(p), 0};
  cl_int err = CL_SUCCESS;
  Ctx ctx(clCreateContext(props, 1, &d, nullptr, nullptr, &err));
  PROBE_CL_ERR(err, "clCreateContext");
  Que q(clCreateCommandQueue(ctx.h, d, CL_QUEUE_PROFILING_ENABLE, &err));
  PROBE_CL_ERR(err, "clCreateCommandQueue");
  const char* src = kSource;
  Prog prog(clCreateProgramWithSource(ctx.h, 1, &src, nullptr, &err));
  PROBE_CL_ERR(err, "clCreateProgramWithSource");
  const auto t_build = Clock::now();
  PROBE_CL(clBuildProgram(prog.h, 1, &d, "-cl-mad-enable", nullptr, nullptr));
  const double build_s = std::chrono::duration<double>(Clock::now() - t_build).count();

  const int trials = o.quick ? 3 : 7;
  const double target_s = o.quick ? 0.004 : 0.02;  // per timed kernel run
  const std::size_t max_wg = ocl::device_scalar<std::size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE);
  const std::size_t local = std::min<std::size_t>(max_wg, 256);
  const std::size_t cus =
      std::max<cl_uint>(1, ocl::device_scalar<cl_uint>(d, CL_DEVICE_MAX_COMPUTE_UNITS));
  const std::uint64_t max_alloc = ocl::device_scalar<cl_ulong>(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  json m;
  m["program_build_s"] = build_s;

  // Peak f32: grow the grid until one run takes target_s, then time `trials` runs.
  {
    const std::size_t max_items = 1u << 26;
    Buf out(clCreateBuffer(ctx.h, CL_MEM_WRITE_ONLY, max_items * sizeof(float), nullptr, &err));
    PROBE_CL_ERR(err, "clCreateBuffer(peak)");
    json by_width;
    Stats best;
    for (int w : {1, 2, 4, 8, 16}) {
      const std::string name = "peak_v" + std::to_string(w);
      Kern k(clCreateKernel(prog.h, name.c_str(), &err));
      PROBE_CL_ERR(err, "clCreateKernel(peak)");
      const float a = 1.3f;
      PROBE_CL(clSetKernelArg(k.h, 0, sizeof(cl_mem), &out.h));
      PROBE_CL(clSetKernelArg(k.h, 1, sizeof a, &a));
      std::size_t global = cus * local * 4;
      double t = run_kernel(q.h, k.h, global, local);  // also the warm-up
      while (t < target_s && global * 2 <= max_items) {
        global *= 2;
        t = run_kernel(q.h, k.h, global, local);
      }
      Stats s;
      for (int i = 0; i < trials; ++i)
        s.v.push_back(static_cast<double>(global) * 4096.0 / run_kernel(q.h, k.h, global, local) *
                      1e-9);
      by_width[std::to_string(w)] = s.to_json();
      if (best.v.empty() || s.median() > best.median()) best = s;
    }
    json peak = best.to_json();
    peak["by_width"] = by_width;
    m["peak_f32_gflops"] = peak;
  }

  // Global memory bandwidth (read-only) and host <-> device transfers.
  {
    std::uint64_t bytes = o.quick ? (64ull << 20) : (256ull << 20);
    bytes = std::min<std::uint64_t>(bytes, max_alloc / 2);
    const std::uint64_t per_group = static_cast<std::uint64_t>(local) * 16 * 16;  // bytes
    bytes = std::max<std::uint64_t>(1, bytes / per_group) * per_group;
    const std::size_t items = static_cast<std::size_t>(bytes / 256);
    Buf in(clCreateBuffer(ctx.h, CL_MEM_READ_ONLY, bytes, nullptr, &err));
    PROBE_CL_ERR(err, "clCreateBuffer(bw in)");
    Buf out(clCreateBuffer(ctx.h, CL_MEM_WRITE_ONLY, items * sizeof(float), nullptr, &err));
    PROBE_CL_ERR(err, "clCreateBuffer(bw out)");
    std::vector<float> host(bytes / sizeof(float), 1.0f);
    Stats h2d, d2h, bw;
    for (int i = 0; i < trials + 1; ++i) {
      cl_event e = nullptr;
      PROBE_CL(clEnqueueWriteBuffer(q.h, in.h, CL_TRUE, 0, bytes, host.data(), 0, nullptr, &e));
      Evt ev(e);
      if (i > 0) h2d.v.push_back(static_cast<double>(bytes) / event_s(e) * 1e-9);
    }
    for (int i = 0; i < trials + 1; ++i) {
      cl_event e = nullptr;
      PROBE_CL(clEnqueueReadBuffer(q.h, in.h, CL_TRUE, 0, bytes, host.data(), 0, nullptr, &e));
      Evt ev(e);
      if (i > 0) d2h.v.push_back(static_cast<double>(bytes) / event_s(e) * 1e-9);
    }
    Kern k(clCreateKernel(prog.h, "read_bw", &err));
    PROBE_CL_ERR(err, "clCreateKernel(read_bw)");
    PROBE_CL(clSetKernelArg(k.h, 0, sizeof(cl_mem), &in.h));
    PROBE_CL(clSetKernelArg(k.h, 1, sizeof(cl_mem), &out.h));
    run_kernel(q.h, k.h, items, local);  // warm-up
    for (int i = 0; i < trials; ++i)
      bw.v.push_back(static_cast<double>(bytes) / run_kernel(q.h, k.h, items, local) * 1e-9);
    m["global_bw_gbps"] = bw.to_json();
    m["global_bw_gbps"]["bytes"] = bytes;
    m["h2d_gbps"] = h2d.to_json();
    m["d2h_gbps"] = d2h.to_json();
  }

  // Dispatch latency: enqueue an empty kernel and wait for it, on the host clock.
  {
    Kern k(clCreateKernel(prog.h, "empty_kernel", &err));
    PROBE_CL_ERR(err, "clCreateKernel(empty_kernel)");
    const std::size_t one = 1;
    PROBE_CL(clEnqueueNDRangeKernel(q.h, k.h, 1, nullptr, &one, &one, 0, nullptr, nullptr));
    PROBE_CL(clFinish(q.h));
    Stats lat;
    const int n = o.quick ? 50 : 200;
    for (int i = 0; i < n; ++i) {
      const auto t0 = Clock::now();
      PROBE_CL(clEnqueueNDRangeKernel(q.h, k.h, 1, nullptr, &one, &one, 0, nullptr, nullptr));
      PROBE_CL(clFinish(q.h));
      lat.v.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    m["dispatch_latency_us"] = lat.to_json();
  }
  return m;
}

}  // namespace

nlohmann::json probe_opencl(const AccelProbeOptions& opts) {
  json r{{"api", "opencl"}, {"available", false}, {"reason", ""}, {"devices", json::array()}};
  try {
    cl_uint np = 0;
    const cl_int e = clGetPlatformIDs(0, nullptr, &np);
    if (e == -1001 || (e == CL_SUCCESS && np == 0)) {
      r["reason"] = "no OpenCL platform (no ICD installed or OCL_ICD_VENDORS empty)";
      return r;
    }
    PROBE_CL(e);
    std::vector<cl_platform_id> ps(np);
    PROBE_CL(clGetPlatformIDs(np, ps.data(), nullptr));
    for (cl_platform_id p : ps) {
      cl_uint nd = 0;
      if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
      std::vector<cl_device_id> ds(nd);
      if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, ds.data(), nullptr) != CL_SUCCESS) continue;
      for (cl_device_id d : ds) {
        json dev = device_properties(p, d);
        if (opts.measure) {
          try {
            dev["measured"] = measure(p, d, opts);
          } catch (const ClFailure& f) {
            dev["error"] = f.what();
          }
        }
        r["devices"].push_back(dev);
      }
    }
    if (r["devices"].empty()) {
      r["reason"] = "OpenCL platforms found but no device";
      return r;
    }
    r["available"] = true;
  } catch (const ClFailure& f) {
    r["available"] = false;
    r["reason"] = f.what();
  } catch (const std::exception& x) {
    r["available"] = false;
    r["reason"] = std::string("opencl probe: ") + x.what();
  }
  return r;
}

}  // namespace tb

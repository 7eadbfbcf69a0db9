// The OpenCL backend: device discovery and properties, and dispatch of problems to the per-op
// files (opencl_gemm.cpp, opencl_conv.cpp, opencl_attention.cpp, opencl_pool.cpp,
// opencl_rowwise.cpp, opencl_binary.cpp, opencl_rope.cpp, opencl_embed.cpp). Every device of every
// platform is one tierbench device.
#include "opencl_backend.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <variant>

#include "../device_graph.h"
#include "opencl_internal.h"
#include "opencl_op.h"
#include "opencl_tune.h"

#include <CL/cl_ext.h>  // after cl_common.h (CL_TARGET_OPENCL_VERSION)

namespace tb {

namespace ocl {

namespace {
// Vendor queries for the subgroup (warp / wavefront) size, each valid with its extension.
constexpr cl_device_info kWarpSizeNV = 0x4003;          // cl_nv_device_attribute_query
constexpr cl_device_info kWavefrontWidthAMD = 0x4043;   // cl_amd_device_attribute_query
constexpr cl_device_info kSubGroupSizesIntel = 0x4108;  // cl_intel_required_subgroup_size
}  // namespace

DeviceInfo describe_device(const DeviceRef& r, int index) {
  DeviceInfo i;
  const cl_device_id d = r.device;
  i.index = index;
  i.name = device_string(d, CL_DEVICE_NAME);
  const auto type = device_scalar<cl_device_type>(d, CL_DEVICE_TYPE);
  i.type = device_type_name(type, device_scalar<cl_bool>(d, CL_DEVICE_HOST_UNIFIED_MEMORY));
  i.vendor = device_string(d, CL_DEVICE_VENDOR);
  i.driver =
      platform_string(r.platform, CL_PLATFORM_NAME) + " " + device_string(d, CL_DRIVER_VERSION);
  i.api_version = device_string(d, CL_DEVICE_VERSION);
  i.compute_units = device_scalar<cl_uint>(d, CL_DEVICE_MAX_COMPUTE_UNITS);
  i.global_memory_bytes = device_scalar<cl_ulong>(d, CL_DEVICE_GLOBAL_MEM_SIZE);
  i.max_workgroup_size =
      static_cast<std::int64_t>(device_scalar<size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE));
  if (has_extension(d, "cl_nv_device_attribute_query")) {
    i.subgroup_size = device_scalar<cl_uint>(d, kWarpSizeNV);
  } else if (has_extension(d, "cl_amd_device_attribute_query")) {
    i.subgroup_size = device_scalar<cl_uint>(d, kWavefrontWidthAMD);
  } else if (has_extension(d, "cl_intel_required_subgroup_size")) {
    std::size_t n = 0;
    if (clGetDeviceInfo(d, kSubGroupSizesIntel, 0, nullptr, &n) == CL_SUCCESS && n > 0) {
      std::vector<size_t> sizes(n / sizeof(size_t));
      if (clGetDeviceInfo(d, kSubGroupSizesIntel, n, sizes.data(), nullptr) == CL_SUCCESS)
        for (size_t s : sizes) i.subgroup_size = std::max<std::int64_t>(i.subgroup_size, s);
    }
  }
  i.fp16 = has_extension(d, "cl_khr_fp16");
  i.int8_dot = has_extension(d, "cl_khr_integer_dot_product") ||
               has_extension(d, "cl_arm_integer_dot_product_int8");
  return i;
}

// u8 x s8 dot products of 4 elements (dot(uchar4, char4)) from cl_khr_integer_dot_product.
Support int8_dot_support(cl_device_id dev) {
  if (!has_extension(dev, "cl_khr_integer_dot_product"))
    return Support::no("opencl: device lacks cl_khr_integer_dot_product");
  cl_device_integer_dot_product_capabilities_khr caps = 0;
  if (clGetDeviceInfo(dev, CL_DEVICE_INTEGER_DOT_PRODUCT_CAPABILITIES_KHR, sizeof caps, &caps,
                      nullptr) != CL_SUCCESS ||
      !(caps & CL_DEVICE_INTEGER_DOT_PRODUCT_INPUT_4x8BIT_KHR))
    return Support::no(
        "opencl: device's cl_khr_integer_dot_product lacks 4x8-bit (uchar4 / char4) inputs");
  if (device_string(dev, CL_DEVICE_VERSION).rfind("OpenCL 3.", 0) != 0)
    return Support::no("opencl: the int8 gemm needs OpenCL C 3.0 (device is not OpenCL 3.x)");
  return Support::yes();
}

Result<std::shared_ptr<DeviceCtx>> open_device(int index) {
  auto devs = enumerate_devices();
  if (!devs) return devs.error();
  if (index < 0 || index >= static_cast<int>(devs->size()))
    return make_error("opencl: no device " + std::to_string(index));
  const DeviceRef r = (*devs)[static_cast<std::size_t>(index)];
  auto d = std::make_shared<DeviceCtx>();
  d->platform = r.platform;
  d->device = r.device;
  d->info = describe_device(r, index);
  d->is_cpu = (device_scalar<cl_device_type>(r.device, CL_DEVICE_TYPE) & CL_DEVICE_TYPE_CPU) != 0;
  d->max_alloc_bytes = device_scalar<cl_ulong>(r.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                         reinterpret_cast<cl_context_properties>(r.platform), 0};
  cl_int err = CL_SUCCESS;
  d->context = Context(clCreateContext(props, 1, &r.device, nullptr, nullptr, &err));
  TB_CL_CHECK_ERR(err, "clCreateContext");
  d->queue =
      Queue(clCreateCommandQueue(d->context.get(), r.device, CL_QUEUE_PROFILING_ENABLE, &err));
  TB_CL_CHECK_ERR(err, "clCreateCommandQueue");
  return d;
}

}  // namespace ocl

namespace {

Support supports_gemm(const Problem& p, const ocl::DeviceCtx& d) {
  const GemmDesc* g = p.as<GemmDesc>();
  // f16 and bf16 as storage, f32 arithmetic (no cl_khr_fp16 needed); u8 x s8 exact on every
  // device (integer dot products where the device has them).
  if (auto c = check_post(p); !c) return Support::no("opencl: " + c.error().message);
  if (p.dtype == DType::s32) return Support::no("opencl: gemm s32 is not a compute type");
  if (g->m <= 0 || g->n <= 0 || g->k <= 0 || g->batch <= 0)
    return Support::no("opencl: empty gemm");
  const std::int64_t lim = std::int64_t{1} << 31;
  if (g->m * g->k >= lim || g->k * g->n >= lim || g->m * g->n >= lim || g->k >= lim / 64)
    return Support::no("opencl: matrix too large for 32-bit indices");
  const double biggest = 4.0 * static_cast<double>(g->batch) *  // f32 panels / workspace
                         static_cast<double>(std::max({g->m * g->k, g->k * g->n, g->m * g->n}));
  if (biggest * 1.1 > static_cast<double>(d.max_alloc_bytes))
    return Support::no("opencl: operand exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE");
  const ocl::GemmConfig cfg = ocl::select_gemm_config(d);
  if (!cfg.packed && d.info.max_workgroup_size < 256)
    return Support::no("opencl: tiled gemm needs work-groups of 256");
  return Support::yes();
}

}  // namespace

namespace ocl {

// One entry per op family it implements; any other op is unsupported (no_kernel, backend.h).
Support supports_problem(const Problem& p, const DeviceCtx& d) {
  return std::visit(Overloaded{[&](const GemmDesc&) { return supports_gemm(p, d); },
                               [&](const ConvDesc&) { return supports_conv(p, d); },
                               [&](const AttentionDesc&) { return supports_attention(p, d); },
                               [&](const PoolDesc&) { return supports_pool(p, d); },
                               [&](const RowDesc&) { return supports_rowwise(p, d); },
                               [&](const BinaryDesc&) { return supports_binary(p, d); },
                               [&](const RopeDesc&) { return supports_rope(p, d); },
                               [&](const EmbedDesc&) { return supports_embed(p, d); },
                               [&](const KvWriteDesc&) { return supports_kvwrite(p, d); },
                               [&](const PermuteDesc&) { return supports_permute(p, d); },
                               [&](const SliceDesc&) { return supports_slice(p, d); },
                               no_kernel<Support>("opencl", p)},
                    p.op);
}

Result<std::unique_ptr<DeviceKernel>> prepare_device_kernel(std::shared_ptr<DeviceCtx> d,
                                                            const Problem& p, Buffers buffers) {
  if (auto s = supports_problem(p, *d); !s.supported) return make_error(s.reason);
  return std::visit(
      Overloaded{
          [&](const GemmDesc&) { return make_gemm(d, p, select_gemm_config(*d), {}, buffers); },
          [&](const ConvDesc&) { return prepare_conv(std::move(d), p, buffers); },
          [&](const AttentionDesc&) { return prepare_attention(std::move(d), p, buffers); },
          [&](const PoolDesc&) { return prepare_pool(std::move(d), p, buffers); },
          [&](const RowDesc&) { return prepare_rowwise(std::move(d), p, buffers); },
          [&](const BinaryDesc&) { return prepare_binary(std::move(d), p, buffers); },
          [&](const RopeDesc&) { return prepare_rope(std::move(d), p, buffers); },
          [&](const EmbedDesc&) { return prepare_embed(std::move(d), p, buffers); },
          [&](const KvWriteDesc&) { return prepare_kvwrite(std::move(d), p, buffers); },
          [&](const PermuteDesc&) { return prepare_permute(std::move(d), p, buffers); },
          [&](const SliceDesc&) { return prepare_slice(std::move(d), p, buffers); },
          no_kernel<Result<std::unique_ptr<DeviceKernel>>>("opencl", p)},
      p.op);
}

}  // namespace ocl

namespace {

class OpenclBackend final : public Backend {
 public:
  const BackendTraits& traits() const override { return opencl_backend_traits(); }

  Availability availability() override {
    auto devs = ocl::enumerate_devices();
    if (!devs) return {false, devs.error().message};
    return {true, {}};
  }

  std::vector<DeviceInfo> devices() override {
    std::vector<DeviceInfo> v;
    auto devs = ocl::enumerate_devices();
    if (!devs) return v;
    for (std::size_t i = 0; i < devs->size(); ++i)
      v.push_back(ocl::describe_device((*devs)[i], static_cast<int>(i)));
    return v;
  }

  std::string version() override {
    cl_uint np = 0;
    if (clGetPlatformIDs(0, nullptr, &np) != CL_SUCCESS || np == 0) return "OpenCL (no platform)";
    std::vector<cl_platform_id> ps(np);
    if (clGetPlatformIDs(np, ps.data(), nullptr) != CL_SUCCESS) return "OpenCL (no platform)";
    std::string s;
    for (cl_platform_id p : ps) {
      if (!s.empty()) s += "; ";
      s += ocl::platform_string(p, CL_PLATFORM_NAME) + ": " +
           ocl::platform_string(p, CL_PLATFORM_VERSION);
      cl_device_id d = nullptr;
      cl_uint nd = 0;
      if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &d, &nd) == CL_SUCCESS && nd > 0)
        s += ", driver " + ocl::device_string(d, CL_DRIVER_VERSION);
    }
    return s;
  }

  Support supports(const Problem& p, int device) override {
    auto d = device_ctx(device);
    if (!d) return Support::no(d.error().message);
    return ocl::supports_problem(p, *d.value());
  }

  Result<std::unique_ptr<PreparedKernel>> prepare(const Problem& p,
                                                  const PrepareOptions& opts) override {
    auto d = device_ctx(opts.device);
    if (!d) return d.error();
    auto k = ocl::prepare_device_kernel(d.value(), p, ocl::Buffers::own);
    if (!k) return k.error();
    return std::unique_ptr<PreparedKernel>(std::move(k.value()));
  }

  // Device-resident: one in-order queue, intermediates in device buffers (opencl_graph.cpp).
  Result<std::unique_ptr<PreparedGraph>> prepare_graph(const DeviceGraph& g,
                                                       const PrepareOptions& opts) override {
    auto d = device_ctx(opts.device);
    if (!d) return d.error();
    return ocl::prepare_device_graph(d.value(), g);
  }

  // The packed GEMM's tuner (opencl_gemm_tune.cpp): one winner per device serves every shape.
  std::optional<TuneKey> tune_key(const Problem& p, int device) override {
    auto d = device_ctx(device);
    if (!d || !supports(p, device).supported) return std::nullopt;
    return ocl::tune_key_for(p, *d.value());
  }
  Result<TuneOutcome> tune(const Problem& p, const TuneRequest& r) override {
    if (!tune_key(p, r.device)) return make_error("opencl: " + p.str() + " is not tunable here");
    return tune_opencl(r);
  }

 private:
  // Contexts are created on first use and shared by every kernel prepared on that device.
  Result<std::shared_ptr<ocl::DeviceCtx>> device_ctx(int index) {
    std::lock_guard lock(mu_);
    if (auto it = ctx_.find(index); it != ctx_.end()) return it->second;
    auto d = ocl::open_device(index);
    if (!d) return d.error();
    ctx_[index] = d.value();
    return d.value();
  }

  std::mutex mu_;
  std::map<int, std::shared_ptr<ocl::DeviceCtx>> ctx_;
};

}  // namespace

const BackendTraits& opencl_backend_traits() {
  static const BackendTraits t{.name = "opencl",
                               .devices = DeviceKind::api_devices,
                               .probe_key = "opencl",
                               .reference = false};
  return t;
}

std::unique_ptr<Backend> make_opencl_backend() {
  return std::make_unique<OpenclBackend>();
}

}  // namespace tb

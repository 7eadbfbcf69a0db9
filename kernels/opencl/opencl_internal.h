// Internals shared by the OpenCL backend's files (not part of the public interface).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../backend.h"
#include "cl_common.h"

namespace tb::ocl {

// One device with its context and a profiling-enabled in-order queue.
struct DeviceCtx {
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
  Context context;
  Queue queue;
  DeviceInfo info;
  bool is_cpu = false;
  std::uint64_t max_alloc_bytes = 0;
};

// Properties of a device (no context needed).
DeviceInfo describe_device(const DeviceRef& r, int index);
// Creates the context and queue of device `index` (enumeration order).
Result<std::shared_ptr<DeviceCtx>> open_device(int index);

// How a GEMM runs: the packed register-blocked kernel (CPU devices) or the local-memory tiled
// kernel (GPUs and anything else). Printed as e.g. "packed:mr8nv2kc256rb4o0" or "tiled".
struct GemmConfig {
  bool packed = true;
  int mr = 8;     // rows of C per work-item
  int nv = 2;     // float16 vectors of C per row per work-item (NR = 16 * nv)
  int kc = 1024;  // K block per launch (0: all of K); 1024: the B panel (kc x nr) stays in L2
  int rb = 4;     // row blocks per work-item (amortises the per-work-group cost)
  int order = 0;  // 0: row blocks on dimension 0; 1: column blocks
  std::string str() const;
  static std::optional<GemmConfig> parse(const std::string& s);
};

// The configuration used when nothing is tuned or forced: by device type.
GemmConfig default_gemm_config(const DeviceCtx& d);
// Key of the tuned configuration for this device and the current kernel sources.
std::string gemm_tune_key(const DeviceCtx& d);
// Stored winner for the device, else the default. TB_OPENCL_GEMM=tiled|packed|<config> forces.
GemmConfig select_gemm_config(const DeviceCtx& d);

// `io`: the tensor specs upload() checks, when they differ from the GEMM's own (a 1x1 conv run
// as a GEMM keeps its NHWC shapes); empty: the GEMM's.
Result<std::unique_ptr<PreparedKernel>> prepare_gemm(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                     const GemmConfig& cfg,
                                                     std::vector<TensorSpec> io = {});

}  // namespace tb::ocl

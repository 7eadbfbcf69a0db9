// Internals shared by the OpenCL backend's files (not part of the public interface).
#pragma once

#include <memory>
#include <optional>
#include <span>
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

// How a kernel gets the buffers of its operands and output: its own (a PreparedKernel: upload,
// execute, download), or a device graph's (opencl_graph.cpp: bound by bind(); the kernel
// allocates only its scratch and packed copies, and never waits for the device).
enum class Buffers { own, graph };

// Every OpenCL kernel (GEMM, conv, attention, pool, row ops, binary, rope, embed). As a
// PreparedKernel it owns its buffers and each call waits; as a node of a device graph it is bound
// to the graph's buffers and only enqueues, appending one profiling event per launch to the
// caller's list:
//   bind(ins, out)              operand buffers in problem.inputs() order, the output buffer
//   enqueue_refresh(i, events)  what operand i needs after it changed on the device (a repack
//                               into the kernel's layout: weights once, an activation per run)
//   enqueue_launches(events)    the kernel's launches
class DeviceKernel : public PreparedKernel {
 public:
  DeviceKernel(std::shared_ptr<DeviceCtx> d, Buffers buffers)
      : d_(std::move(d)), buffers_(buffers) {}

  // Buffers::graph only; a null operand is one the kernel no longer reads (reads_operand).
  virtual Result<void> bind(std::span<const cl_mem> ins, cl_mem out) = 0;
  Result<void> enqueue_refresh(std::size_t index, std::vector<Event>& events);
  Result<void> enqueue_launches(std::vector<Event>& events);
  // Whether the launches read operand `index` itself; false when they read a copy that
  // refresh() made (packed panels), so that a constant's buffer can go after the refresh.
  virtual bool reads_operand(std::size_t index) const {
    (void)index;
    return true;
  }
  // Whether refresh(index) enqueues anything (a repack).
  virtual bool repacks_operand(std::size_t index) const {
    (void)index;
    return false;
  }

 protected:
  // What operand `index` needs after it changed on the device, enqueued through launch().
  virtual Result<void> refresh(std::size_t index) {
    (void)index;
    return {};
  }
  // The kernel's launches, each through launch().
  virtual Result<void> enqueue() = 0;
  // Enqueues `k` over `dims` dimensions (nothing for an empty range, an error in OpenCL). Own
  // buffers: the first and the last launch since begin_timed() are kept for the timed span;
  // in a graph every launch's event goes to the caller's list.
  Result<void> launch(cl_kernel k, cl_uint dims, const std::size_t* gws,
                      const std::size_t* lws = nullptr);
  // Own buffers: forget the timed span; end_timed() waits for the queue and returns the seconds
  // from the first launch's start to the last one's end (0 when nothing was launched).
  void begin_timed();
  Result<double> end_timed();
  bool graph_mode() const { return buffers_ == Buffers::graph; }

  std::shared_ptr<DeviceCtx> d_;

 private:
  Buffers buffers_;
  Event first_, last_;
  std::vector<Event>* sink_ = nullptr;
};

// Build options naming operand element types for cl/gemm_common.cl (" -DTA_K=.. -DTB_K=..
// -DTC_K=..": A / src / Q K V, B / weights, C / dst and residual).
std::string type_options(DType a, DType b, DType c);
// The kernels' `epi` argument for an epilogue (cl/gemm_common.cl).
cl_int epilogue_code(const Epilogue& e);
// Whether the device has u8 x s8 dot products of 4 elements (cl_khr_integer_dot_product with
// 4x8-bit inputs, OpenCL C 3.0), with the reason when not.
Support int8_dot_support(cl_device_id dev);

// Properties of a device (no context needed).
DeviceInfo describe_device(const DeviceRef& r, int index);
// Creates the context and queue of device `index` (enumeration order).
Result<std::shared_ptr<DeviceCtx>> open_device(int index);

// How a GEMM runs: the packed register-blocked kernel (CPU devices) or the local-memory tiled
// kernel (GPUs and anything else). Printed as e.g. "packed:mr8nv2kc256rb4o0", "tiled" (the
// default tiles) or "tiled:w8k16" (WPT x WPT outputs per work-item, K steps of TK).
struct GemmConfig {
  bool packed = true;
  int wpt = 4;         // tiled: outputs per work-item in each dimension (tiles of 16 * wpt)
  int tk = 16;         // tiled: K step through local memory
  int mr = 8;          // rows of C per work-item
  int nv = 2;          // float16 vectors of C per row per work-item (NR = 16 * nv)
  int kc = 1024;       // K block per launch (0: all of K); 1024: the B panel (kc x nr) stays in L2
  int rb = 4;          // row blocks per work-item (amortises the per-work-group cost)
  int order = 0;       // 0: row blocks on dimension 0; 1: column blocks
  std::string source;  // where it came from (tuned, default, forced, given); not part of str()
  std::string str() const;
  static std::optional<GemmConfig> parse(const std::string& s);
};

// The configuration used when nothing is tuned or forced: by device type.
GemmConfig default_gemm_config(const DeviceCtx& d);
// The tiled configurations the tuner tries: default first, local memory within 32 KiB.
std::vector<GemmConfig> tiled_configs();
// Key of the tuned configuration for this device and the current kernel sources (every shape).
TuneKey gemm_tune_key(const DeviceCtx& d);
// Stored winner for the device, else the default. TB_OPENCL_GEMM=tiled|packed|<config> forces.
GemmConfig select_gemm_config(const DeviceCtx& d);
// Backend::tune_key: the GEMM key for the problems the packed GEMM runs on a CPU device (f32 and
// f16 GEMMs, pointwise f32 convs), else nullopt (opencl_gemm_tune.cpp).
std::optional<TuneKey> tune_key_for(const Problem& p, const DeviceCtx& d);

// `io`: the tensor specs upload() checks, when they differ from the GEMM's own (a 1x1 conv run
// as a GEMM keeps its NHWC shapes); empty: the GEMM's.
Result<std::unique_ptr<PreparedKernel>> prepare_gemm(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                     const GemmConfig& cfg,
                                                     std::vector<TensorSpec> io = {});
Result<std::unique_ptr<DeviceKernel>> make_gemm(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                const GemmConfig& cfg, std::vector<TensorSpec> io,
                                                Buffers buffers);

// Any problem as a kernel, dispatched by op (opencl_backend.cpp); checked with the backend's
// supports() first.
Support supports_problem(const Problem& p, const DeviceCtx& d);
Result<std::unique_ptr<DeviceKernel>> prepare_device_kernel(std::shared_ptr<DeviceCtx> d,
                                                            const Problem& p, Buffers buffers);

// The device-resident graph (opencl_graph.cpp): one in-order queue, device buffers between nodes,
// one host wait per run.
Result<std::unique_ptr<PreparedGraph>> prepare_device_graph(std::shared_ptr<DeviceCtx> d,
                                                            const DeviceGraph& g);

}  // namespace tb::ocl

// The compute-backend interface. Every backend (reference, onednn, opencl, vulkan) implements
// Backend and PreparedKernel; nothing else in tierbench knows a backend's API.
//
// Life of a problem on a backend:
//   supports(p, dev)      -> may it run? An op a backend lacks is *unsupported*, not a failure.
//   prepare(p, opts)      -> compile / create the pipeline or primitive. Timed by the caller on
//                            its own: it is part of a model's load cost.
//   upload(inputs)        -> copy inputs to the device or into the backend's preferred layout
//                            (bytes tracked in memory()).
//   execute()             -> run once; elapsed time measured on the device where the API offers
//                            it (Vulkan timestamps, OpenCL profiling events), host clock otherwise.
//   download(outputs)     -> copy results back into host tensors.
//   ~PreparedKernel()     -> release everything.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "problem.h"
#include "result.h"
#include "tensor.h"
#include "tuning.h"

namespace tb {

struct DeviceGraph;
class PreparedGraph;

// A device a backend can run on, with the properties that explain its figures.
struct DeviceInfo {
  int index = 0;
  std::string name;  // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
  std::string type;  // cpu, integrated-gpu, discrete-gpu, virtual-gpu, accelerator, other
  std::string vendor;
  std::string driver;       // driver name and version
  std::string api_version;  // e.g. "Vulkan 1.3.230", "OpenCL 3.0 PoCL 3.1"
  std::int64_t compute_units = 0;
  std::uint64_t global_memory_bytes = 0;
  std::int64_t max_workgroup_size = 0;
  std::int64_t subgroup_size = 0;
  bool fp16 = false;
  bool int8_dot = false;
};

// What a backend is, for the callers that would otherwise test its name (the runner, the
// profiles, the reports). Each backend returns one static value from traits().
enum class DeviceKind {
  host_cpu,     // always the host CPU (reference, oneDNN): CPU ceilings apply
  api_devices,  // devices found through an API (OpenCL, Vulkan): CPU or GPU per DeviceInfo::type
};
std::string_view device_kind_name(DeviceKind k);

struct BackendTraits {
  std::string_view name;  // the backend's name in the CLI, the store and the problem filters
  DeviceKind devices = DeviceKind::host_cpu;
  // The key of the probe report's "accelerators" object that lists this backend's devices and
  // their API-measured peaks; empty: the host CPU's peaks ("compute.peaks") bound it.
  std::string_view probe_key;
  // The backend that defines correctness: never validated against itself, never calibrated.
  bool reference = false;
};

struct Availability {
  bool available = false;
  std::string reason;  // why not, when unavailable
};

struct Support {
  bool supported = true;
  std::string reason;
  static Support yes() { return {}; }
  static Support no(std::string why) { return {false, std::move(why)}; }
};

// The last entry of a backend's dispatch over Problem::op, after one entry per op it implements:
//   std::visit(Overloaded{[&](const GemmDesc&) {...}, ..., no_kernel<Support>("vulkan", p)}, p.op)
// Any other op answers "<backend> has no <op> kernel": Support::no for R = Support, an error for
// a Result. std::visit still checks at compile time that every alternative has an entry; a new
// op needs no edit in the backends that do not implement it.
std::string no_kernel_reason(std::string_view backend, const Problem& p);
template <class R>
auto no_kernel(std::string_view backend, const Problem& p) {
  return [backend, &p](const auto&) -> R {
    if constexpr (std::is_same_v<R, Support>)
      return Support::no(no_kernel_reason(backend, p));
    else
      return make_error(no_kernel_reason(backend, p));
  };
}

enum class TimingSource { host_clock, device_timestamps, profiling_events };
std::string_view timing_source_name(TimingSource s);

struct Timing {
  double seconds = 0;
  TimingSource source = TimingSource::host_clock;
};

struct MemoryStats {
  std::uint64_t device_bytes = 0;  // bytes allocated on the device (0 for host backends)
  std::uint64_t host_bytes = 0;    // bytes the backend allocated on the host (packed weights, ...)
  std::uint64_t uploaded_bytes = 0;  // bytes copied by upload()
};

struct PrepareOptions {
  int device = 0;
  int threads = 0;  // CPU backends: 0 = all hardware threads
};

class PreparedKernel {
 public:
  virtual ~PreparedKernel() = default;
  virtual Result<void> upload(std::span<const Tensor> inputs) = 0;
  virtual Result<Timing> execute() = 0;
  virtual Result<void> download(std::span<Tensor> outputs) = 0;
  // Optional: replace input `index` only (a layer's activation), keeping the other inputs (its
  // weights) where upload() put them. Default: unsupported; callers then upload() everything.
  virtual Result<void> upload_input(std::size_t index, const Tensor& t) {
    (void)index;
    (void)t;
    return make_error("upload_input not supported by this backend");
  }
  // Optional, for backends whose buffers are host memory: from the next execute() on, read
  // input `index` from (with `output`, write output `index` to) `data`, `bytes` long in the
  // problem's dense layout, instead of the kernel's own buffer, without a copy; the caller keeps
  // it alive, and binds again when it moves. Default false: unsupported, callers copy (upload,
  // download). A device graph that runs a kernel between its own buffers uses it.
  virtual bool bind(std::size_t index, void* data, std::size_t bytes, bool output) {
    (void)index, (void)data, (void)bytes, (void)output;
    return false;
  }
  virtual MemoryStats memory() const = 0;
  // Optional: named load-cost details, e.g. {"program_build_s", 0.41}, {"cache_hit", 1}.
  virtual std::vector<std::pair<std::string, double>> details() const { return {}; }
  // Optional: the configuration of a tunable kernel that ran, and where it came from.
  virtual std::optional<KernelConfig> kernel_config() const { return std::nullopt; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const BackendTraits& traits() const = 0;
  std::string_view name() const { return traits().name; }
  // Library, driver and device discovery; never throws. An unavailable backend is skipped.
  virtual Availability availability() = 0;
  virtual std::vector<DeviceInfo> devices() = 0;
  // Library and driver versions, e.g. "oneDNN 2.6.3" (for the run's environment record).
  virtual std::string version() = 0;
  virtual Support supports(const Problem& p, int device) = 0;
  virtual Result<std::unique_ptr<PreparedKernel>> prepare(const Problem& p,
                                                          const PrepareOptions& opts) = 0;
  // Optional: a whole graph of kernel ops with its intermediates resident on the device
  // (device_graph.h). Default: the staged graph, one PreparedKernel per node through host memory.
  // Callers check supports() for every node first.
  virtual Result<std::unique_ptr<PreparedGraph>> prepare_graph(const DeviceGraph& g,
                                                               const PrepareOptions& opts);
  // Optional: the key under which a tuned winner for `p`'s kernel on `device` is stored (its
  // shape class), or nullopt when that kernel is not tunable here.
  virtual std::optional<TuneKey> tune_key(const Problem& p, int device) {
    (void)p, (void)device;
    return std::nullopt;
  }
  // Optional: tunes `p`'s kernel within the request's budget (bounded candidates, each validated
  // against the reference before it is timed) and stores the winner in tune_store().
  virtual Result<TuneOutcome> tune(const Problem& p, const TuneRequest& r) {
    (void)r;
    return make_error(std::string(name()) + ": " + p.str() + " is not tunable");
  }
};

}  // namespace tb

// Per-device state of the Vulkan backend: the logical device, the on-disk pipeline cache, and the
// check macro that turns a failed vk call into a tb::Error naming file, line, call and VkResult.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../backend.h"
#include "../result.h"
#include "vulkan_runtime.h"

namespace tb::vulkan {

#define TB_VK_CHECK(call)                                                                    \
  do {                                                                                       \
    const VkResult tb_vk_r_ = (call);                                                        \
    if (tb_vk_r_ != VK_SUCCESS)                                                              \
      return ::tb::make_error(::tb::vk::check_message(__FILE__, __LINE__, #call, tb_vk_r_)); \
  } while (0)

// For the runtime helpers, which return "" or an error message.
#define TB_VK_TRY(expr)                                   \
  do {                                                    \
    if (std::string tb_vk_e_ = (expr); !tb_vk_e_.empty()) \
      return ::tb::make_error(std::move(tb_vk_e_));       \
  } while (0)

struct PipelineStats {
  double create_s = 0;
  int cache_hit = -1;   // 1/0 as the driver reports (creation feedback), -1 unknown
  bool reused = false;  // the same pipeline was already created in this process
};

class Context {
 public:
  static Result<std::shared_ptr<Context>> open(std::shared_ptr<vk::Instance> inst, int index);
  ~Context();

  const std::shared_ptr<vk::Device>& device() const { return dev_; }
  const vk::PhysicalDeviceInfo& info() const { return dev_->info(); }
  // Identity used to key persisted data: device name + driver version (+ cache UUID).
  std::string device_key() const;
  // Subgroups of 8 lanes with subgroupBroadcast in compute shaders (VkPhysicalDeviceSubgroup-
  // Properties): what the gemm_sg shaders need (lavapipe on AVX2).
  bool subgroup_broadcast8() const { return subgroup_broadcast8_; }

  // A compute pipeline for `blob` with specialization constants `spec`. With reuse, a pipeline
  // already created in this process is shared (its stats say reused); without, it is created
  // anew through the VkPipelineCache (so that the cache itself can be measured).
  Result<std::shared_ptr<vk::ComputePipeline>> pipeline(std::string_view blob,
                                                        std::uint32_t bindings,
                                                        std::uint32_t push_bytes,
                                                        std::span<const std::uint32_t> spec,
                                                        bool reuse, PipelineStats* stats);

  // The pipeline cache on disk: loaded at open, saved after each pipeline created.
  std::filesystem::path pipeline_cache_path() const { return cache_path_; }
  Result<void> save_pipeline_cache();
  // Drops the driver-side cache contents (a fresh, empty VkPipelineCache) and the in-process
  // pipelines: the next creations are cold. For measurements.
  Result<void> reset_pipeline_cache();
  std::size_t pipeline_cache_bytes_loaded() const { return loaded_bytes_; }
  // The load-cost details every prepared kernel reports: pipeline_create_s (vk call plus the
  // first dispatch, where lazily compiling drivers do their work), pipeline_vk_create_s (the vk
  // call alone), first_dispatch_s, cache hit / reuse, the pipeline cache bytes loaded, setup_s
  // (descriptors, buffers, command setup) and upload_s.
  std::vector<std::pair<std::string, double>> load_details(const PipelineStats& st,
                                                           double first_dispatch_s, double setup_s,
                                                           double upload_s) const {
    return {{"pipeline_create_s", st.create_s + first_dispatch_s},
            {"pipeline_vk_create_s", st.create_s},
            {"first_dispatch_s", first_dispatch_s},
            {"pipeline_cache_hit", st.reused ? 1.0 : static_cast<double>(st.cache_hit)},
            {"pipeline_reused", st.reused ? 1.0 : 0.0},
            {"pipeline_cache_loaded_bytes", static_cast<double>(loaded_bytes_)},
            {"setup_s", setup_s},
            {"upload_s", upload_s}};
  }
  // What vkGetPipelineCacheData returns now (0 when the driver keeps nothing in it, e.g.
  // lavapipe, whose reuse comes from Mesa's own on-disk shader cache instead).
  std::size_t pipeline_cache_data_bytes();

  // Marks the validation-error count; check() fails when an error arrived since.
  std::uint64_t validation_mark() const { return dev_->instance().validation_errors(); }
  Result<void> check_validation(std::uint64_t mark) const;
  // Submits `stream` and waits: the device time from timestamp queries when the queue has them,
  // the host round trip (labelled host_clock) otherwise; an error when a validation message
  // arrived meanwhile.
  Result<Timing> timed_submit(vk::CommandStream& stream) const;

 private:
  Context() = default;
  Result<void> create_cache(const std::vector<char>& initial);
  std::shared_ptr<vk::Device> dev_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::filesystem::path cache_path_;
  std::size_t loaded_bytes_ = 0;
  bool subgroup_broadcast8_ = false;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<vk::ComputePipeline>> pipelines_;
};

// Whether the int8 shaders take their packed-dot-product variants (OpSUDotKHR): the device
// enabled shaderIntegerDotProduct (VK_KHR_shader_integer_dot_product or Vulkan 1.3) and
// TB_VULKAN_INT8_DOT=0 (the exact fallback everywhere, the in-run anchor) is not set.
bool int8_dot_enabled(const Context& ctx);

// Embedded SPIR-V by variant name (see CMakeLists.txt), or an empty span.
std::span<const std::uint32_t> spirv_blob(std::string_view name);
// The names of every compiled variant, in the order of the table in CMakeLists.txt.
std::vector<std::string_view> spirv_blob_names();

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace tb::vulkan

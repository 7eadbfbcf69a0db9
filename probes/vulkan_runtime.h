// Small RAII helpers over vulkan_loader's dispatch tables, shared by the Vulkan probe and the
// Vulkan kernels backend: buffers, compute pipelines from embedded SPIR-V with specialization
// constants, and a command stream with device timestamps.
//
// Every fallible function returns std::string: empty on success, else a TB_VK_CHECK_STR message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vulkan_loader.h"

namespace tb::vk {

enum class MemoryKind {
  device,   // device-local; host-visible too when the device has unified memory (CPU, iGPU)
  staging,  // host-visible + coherent, for copies to and from device-local buffers
};

class Buffer {
 public:
  Buffer() = default;
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;

  std::string create(std::shared_ptr<Device> dev, std::size_t bytes, MemoryKind kind);
  void reset();

  VkBuffer handle() const { return buffer_; }
  std::size_t size() const { return bytes_; }
  void* mapped() const { return mapped_; }  // nullptr when not host-visible
  bool host_visible() const { return mapped_ != nullptr; }

 private:
  std::shared_ptr<Device> dev_;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  void* mapped_ = nullptr;
  std::size_t bytes_ = 0;
};

// A compute pipeline over `bindings` storage buffers (set 0, bindings 0..n-1) with `push_bytes`
// of push constants; spec[i] is specialization constant id i (32-bit each).
class ComputePipeline {
 public:
  ComputePipeline() = default;
  ~ComputePipeline() { reset(); }
  ComputePipeline(const ComputePipeline&) = delete;
  ComputePipeline& operator=(const ComputePipeline&) = delete;

  std::string create(std::shared_ptr<Device> dev, std::span<const std::uint32_t> spirv,
                     std::uint32_t bindings, std::uint32_t push_bytes,
                     std::span<const std::uint32_t> spec, VkPipelineCache cache = VK_NULL_HANDLE);
  void reset();
  // Pipeline creation feedback (core 1.3, VK_EXT_pipeline_creation_feedback): whether the driver
  // says the pipeline came from the application's cache. -1 when the driver does not report.
  int cache_hit() const { return cache_hit_; }

  VkPipeline handle() const { return pipeline_; }
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }
  std::uint32_t bindings() const { return bindings_; }

 private:
  std::shared_ptr<Device> dev_;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  std::uint32_t bindings_ = 0;
  int cache_hit_ = -1;
};

// One descriptor set for a pipeline, bound to whole buffers.
class DescriptorSet {
 public:
  DescriptorSet() = default;
  ~DescriptorSet() { reset(); }
  DescriptorSet(const DescriptorSet&) = delete;
  DescriptorSet& operator=(const DescriptorSet&) = delete;
  std::string create(std::shared_ptr<Device> dev, const ComputePipeline& p,
                     std::span<const VkBuffer> buffers);
  void reset();
  VkDescriptorSet handle() const { return set_; }

 private:
  std::shared_ptr<Device> dev_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkDescriptorSet set_ = VK_NULL_HANDLE;
};

// A command buffer that is recorded once and submitted many times, with a fence and a pair of
// timestamp queries around the recorded work (when the queue supports timestamps).
class CommandStream {
 public:
  CommandStream() = default;
  ~CommandStream() { reset(); }
  CommandStream(const CommandStream&) = delete;
  CommandStream& operator=(const CommandStream&) = delete;

  std::string create(std::shared_ptr<Device> dev);
  void reset();
  bool has_timestamps() const { return queries_ != VK_NULL_HANDLE; }

  // begin() resets the queries and writes the first timestamp; end() writes the second.
  std::string begin();
  VkCommandBuffer cmd() const { return cmd_; }
  std::string end();
  // Submits the recorded buffer and waits. *device_seconds: timestamp difference (scaled by
  // timestampPeriod, masked to timestampValidBits), or -1 without timestamps.
  std::string submit_wait(double* device_seconds = nullptr);

  // Records a compute dispatch with push constants.
  void dispatch(const ComputePipeline& p, const DescriptorSet& s, const void* push,
                std::uint32_t push_bytes, std::uint32_t gx, std::uint32_t gy, std::uint32_t gz);
  // Makes the shader's writes visible to the host (mapped reads) and to transfers (staging).
  void shader_writes_to_host_barrier();
  // Full memory barrier between compute / transfer work recorded in this buffer.
  void barrier();
  void copy(const Buffer& src, const Buffer& dst, std::size_t bytes);

 private:
  std::shared_ptr<Device> dev_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;
};

// One-shot: record with `rec`, submit, wait (uploads and downloads via staging).
template <class F>
std::string run_once(std::shared_ptr<Device> dev, F&& rec) {
  CommandStream s;
  if (auto e = s.create(dev); !e.empty()) return e;
  if (auto e = s.begin(); !e.empty()) return e;
  rec(s);
  if (auto e = s.end(); !e.empty()) return e;
  return s.submit_wait();
}

// Copies host bytes into `dst` (mapped directly when host-visible, else through a staging buffer),
// and back. Each returns an error string.
std::string write_buffer(const std::shared_ptr<Device>& dev, Buffer& dst, const void* src,
                         std::size_t bytes);
std::string read_buffer(const std::shared_ptr<Device>& dev, const Buffer& src, void* dst,
                        std::size_t bytes);

}  // namespace tb::vk

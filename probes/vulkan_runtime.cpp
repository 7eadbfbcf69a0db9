#include "vulkan_runtime.h"

#include <cstring>
#include <utility>

namespace tb::vk {

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    dev_ = std::move(o.dev_);
    buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
    memory_ = std::exchange(o.memory_, VK_NULL_HANDLE);
    mapped_ = std::exchange(o.mapped_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

std::string Buffer::create(std::shared_ptr<Device> dev, std::size_t bytes, MemoryKind kind) {
  reset();
  dev_ = std::move(dev);
  const auto& fn = dev_->fn();
  const VkDevice d = dev_->handle();
  bytes_ = bytes;
  VkBufferCreateInfo bi{};
  bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  // Whole 32-bit words: shaders read 8- and 16-bit tensors as words (kernels/vulkan dtype.glsl).
  bi.size = bytes ? (bytes + 3) / 4 * 4 : 4;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  TB_VK_CHECK_STR(fn.vkCreateBuffer(d, &bi, nullptr, &buffer_));
  VkMemoryRequirements req{};
  fn.vkGetBufferMemoryRequirements(d, buffer_, &req);
  int type = -1;
  constexpr VkMemoryPropertyFlags kHost =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  if (kind == MemoryKind::device) {
    const bool unified = dev_->info().vk_type == VK_PHYSICAL_DEVICE_TYPE_CPU ||
                         dev_->info().vk_type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    if (unified)
      type =
          dev_->find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | kHost);
    if (type < 0)
      type = dev_->find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  } else {
    type = dev_->find_memory_type(req.memoryTypeBits, kHost | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0) type = dev_->find_memory_type(req.memoryTypeBits, kHost);
  }
  if (type < 0) type = dev_->find_memory_type(req.memoryTypeBits, 0);
  if (type < 0) return "no Vulkan memory type for a buffer";
  VkMemoryAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = static_cast<std::uint32_t>(type);
  TB_VK_CHECK_STR(fn.vkAllocateMemory(d, &ai, nullptr, &memory_));
  TB_VK_CHECK_STR(fn.vkBindBufferMemory(d, buffer_, memory_, 0));
  const auto flags = dev_->memory().memoryTypes[type].propertyFlags;
  if ((flags & kHost) == kHost)
    TB_VK_CHECK_STR(fn.vkMapMemory(d, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_));
  return {};
}

void Buffer::reset() {
  if (!dev_) return;
  const auto& fn = dev_->fn();
  if (mapped_) fn.vkUnmapMemory(dev_->handle(), memory_);
  if (buffer_) fn.vkDestroyBuffer(dev_->handle(), buffer_, nullptr);
  if (memory_) fn.vkFreeMemory(dev_->handle(), memory_, nullptr);
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  mapped_ = nullptr;
  bytes_ = 0;
  dev_.reset();
}

// ---------------------------------------------------------------------------------------------

std::string ComputePipeline::create(std::shared_ptr<Device> dev,
                                    std::span<const std::uint32_t> spirv, std::uint32_t bindings,
                                    std::uint32_t push_bytes, std::span<const std::uint32_t> spec,
                                    VkPipelineCache cache) {
  reset();
  dev_ = std::move(dev);
  bindings_ = bindings;
  const auto& fn = dev_->fn();
  const VkDevice d = dev_->handle();
  VkShaderModuleCreateInfo mi{};
  mi.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
  mi.codeSize = spirv.size_bytes();
  mi.pCode = spirv.data();
  TB_VK_CHECK_STR(fn.vkCreateShaderModule(d, &mi, nullptr, &module_));

  std::vector<VkDescriptorSetLayoutBinding> b(bindings);
  for (std::uint32_t i = 0; i < bindings; ++i)
    b[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo li{};
  li.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
  li.bindingCount = bindings;
  li.pBindings = b.data();
  TB_VK_CHECK_STR(fn.vkCreateDescriptorSetLayout(d, &li, nullptr, &set_layout_));

  VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
  VkPipelineLayoutCreateInfo pli{};
  pli.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
  pli.setLayoutCount = 1;
  pli.pSetLayouts = &set_layout_;
  pli.pushConstantRangeCount = push_bytes ? 1 : 0;
  pli.pPushConstantRanges = &pr;
  TB_VK_CHECK_STR(fn.vkCreatePipelineLayout(d, &pli, nullptr, &layout_));

  std::vector<VkSpecializationMapEntry> entries(spec.size());
  for (std::uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4u, 4u};
  VkSpecializationInfo si{};
  si.mapEntryCount = static_cast<std::uint32_t>(entries.size());
  si.pMapEntries = entries.data();
  si.dataSize = spec.size_bytes();
  si.pData = spec.data();

  VkComputePipelineCreateInfo ci{};

  ci.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
  ci.stage = {};
  ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module_;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
  ci.layout = layout_;
  VkPipelineCreationFeedback fb{}, stage_fb{};
  VkPipelineCreationFeedbackCreateInfo fbi{};
  fbi.sType = VK_STRUCTURE_TYPE_PIPELINE_CREATION_FEEDBACK_CREATE_INFO;
  const bool feedback = dev_->info().api_version >= VK_API_VERSION_1_3 &&
                        dev_->instance().api_version() >= VK_API_VERSION_1_3;
  if (feedback) {
    fbi.pPipelineCreationFeedback = &fb;
    fbi.pipelineStageCreationFeedbackCount = 1;
    fbi.pPipelineStageCreationFeedbacks = &stage_fb;
    ci.pNext = &fbi;
  }
  TB_VK_CHECK_STR(fn.vkCreateComputePipelines(d, cache, 1, &ci, nullptr, &pipeline_));
  if (feedback && (fb.flags & VK_PIPELINE_CREATION_FEEDBACK_VALID_BIT))
    cache_hit_ =
        (fb.flags & VK_PIPELINE_CREATION_FEEDBACK_APPLICATION_PIPELINE_CACHE_HIT_BIT) ? 1 : 0;
  return {};
}

void ComputePipeline::reset() {
  if (!dev_) return;
  const auto& fn = dev_->fn();
  const VkDevice d = dev_->handle();
  if (pipeline_) fn.vkDestroyPipeline(d, pipeline_, nullptr);
  if (layout_) fn.vkDestroyPipelineLayout(d, layout_, nullptr);
  if (set_layout_) fn.vkDestroyDescriptorSetLayout(d, set_layout_, nullptr);
  if (module_) fn.vkDestroyShaderModule(d, module_, nullptr);
  pipeline_ = VK_NULL_HANDLE;
  layout_ = VK_NULL_HANDLE;
  set_layout_ = VK_NULL_HANDLE;
  module_ = VK_NULL_HANDLE;
  dev_.reset();
}

// ---------------------------------------------------------------------------------------------

std::string DescriptorSet::create(std::shared_ptr<Device> dev, const ComputePipeline& p,
                                  std::span<const VkBuffer> buffers) {
  reset();
  dev_ = std::move(dev);
  const auto& fn = dev_->fn();
  const VkDevice d = dev_->handle();
  if (buffers.size() != p.bindings()) return "descriptor set: buffer count != pipeline bindings";
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, p.bindings()};
  VkDescriptorPoolCreateInfo pi{};
  pi.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
  pi.maxSets = 1;
  pi.poolSizeCount = 1;
  pi.pPoolSizes = &ps;
  TB_VK_CHECK_STR(fn.vkCreateDescriptorPool(d, &pi, nullptr, &pool_));
  VkDescriptorSetLayout sl = p.set_layout();
  VkDescriptorSetAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
  ai.descriptorPool = pool_;
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &sl;
  TB_VK_CHECK_STR(fn.vkAllocateDescriptorSets(d, &ai, &set_));
  std::vector<VkDescriptorBufferInfo> infos(buffers.size());
  std::vector<VkWriteDescriptorSet> writes(buffers.size());
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    infos[i] = {buffers[i], 0, VK_WHOLE_SIZE};
    writes[i] = {};
    writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    writes[i].dstSet = set_;
    writes[i].dstBinding = static_cast<std::uint32_t>(i);
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  fn.vkUpdateDescriptorSets(d, static_cast<std::uint32_t>(writes.size()), writes.data(), 0,
                            nullptr);
  return {};
}

void DescriptorSet::reset() {
  if (!dev_) return;
  if (pool_) dev_->fn().vkDestroyDescriptorPool(dev_->handle(), pool_, nullptr);
  pool_ = VK_NULL_HANDLE;
  set_ = VK_NULL_HANDLE;
  dev_.reset();
}

// ---------------------------------------------------------------------------------------------

std::string CommandStream::create(std::shared_ptr<Device> dev) {
  reset();
  dev_ = std::move(dev);
  const auto& fn = dev_->fn();
  const VkDevice d = dev_->handle();
  VkCommandPoolCreateInfo pi{};
  pi.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
  pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pi.queueFamilyIndex = dev_->info().compute_queue_family;
  TB_VK_CHECK_STR(fn.vkCreateCommandPool(d, &pi, nullptr, &pool_));
  VkCommandBufferAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  TB_VK_CHECK_STR(fn.vkAllocateCommandBuffers(d, &ai, &cmd_));
  VkFenceCreateInfo fi{};
  fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
  TB_VK_CHECK_STR(fn.vkCreateFence(d, &fi, nullptr, &fence_));
  if (dev_->info().timestamp_valid_bits > 0 && dev_->info().timestamp_period_ns > 0) {
    VkQueryPoolCreateInfo qi{};
    qi.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = 2;
    TB_VK_CHECK_STR(fn.vkCreateQueryPool(d, &qi, nullptr, &queries_));
  }
  return {};
}

void CommandStream::reset() {
  if (!dev_) return;
  const auto& fn = dev_->fn();
  const VkDevice d = dev_->handle();
  if (queries_) fn.vkDestroyQueryPool(d, queries_, nullptr);
  if (fence_) fn.vkDestroyFence(d, fence_, nullptr);
  if (pool_) fn.vkDestroyCommandPool(d, pool_, nullptr);  // frees cmd_
  queries_ = VK_NULL_HANDLE;
  fence_ = VK_NULL_HANDLE;
  pool_ = VK_NULL_HANDLE;
  cmd_ = VK_NULL_HANDLE;
  dev_.reset();
}

std::string CommandStream::begin() {
  const auto& fn = dev_->fn();
  VkCommandBufferBeginInfo bi{};
  bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
  TB_VK_CHECK_STR(fn.vkBeginCommandBuffer(cmd_, &bi));
  if (queries_) {
    fn.vkCmdResetQueryPool(cmd_, queries_, 0, 2);
    fn.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
  }
  return {};
}

std::string CommandStream::end() {
  const auto& fn = dev_->fn();
  if (queries_) fn.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, 1);
  TB_VK_CHECK_STR(fn.vkEndCommandBuffer(cmd_));
  return {};
}

std::string CommandStream::submit_wait(double* device_seconds) {
  const auto& fn = dev_->fn();
  const VkDevice d = dev_->handle();
  VkSubmitInfo si{};
  si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd_;
  {
    std::lock_guard lock(dev_->queue_mutex());
    TB_VK_CHECK_STR(fn.vkQueueSubmit(dev_->queue(), 1, &si, fence_));
  }
  TB_VK_CHECK_STR(fn.vkWaitForFences(d, 1, &fence_, VK_TRUE, UINT64_MAX));
  TB_VK_CHECK_STR(fn.vkResetFences(d, 1, &fence_));
  if (device_seconds) {
    *device_seconds = -1;
    if (queries_) {
      std::uint64_t ts[2] = {0, 0};
      TB_VK_CHECK_STR(fn.vkGetQueryPoolResults(d, queries_, 0, 2, sizeof ts, ts, sizeof ts[0],
                                               VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
      const std::uint32_t bits = dev_->info().timestamp_valid_bits;
      const std::uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
      const std::uint64_t ticks = (ts[1] - ts[0]) & mask;  // wraps modulo the valid bits
      *device_seconds = static_cast<double>(ticks) * dev_->info().timestamp_period_ns * 1e-9;
    }
  }
  return {};
}

void CommandStream::dispatch(const ComputePipeline& p, const DescriptorSet& s, const void* push,
                             std::uint32_t push_bytes, std::uint32_t gx, std::uint32_t gy,
                             std::uint32_t gz) {
  const auto& fn = dev_->fn();
  fn.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.handle());
  VkDescriptorSet set = s.handle();
  fn.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout(), 0, 1, &set, 0,
                             nullptr);
  if (push_bytes)
    fn.vkCmdPushConstants(cmd_, p.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  fn.vkCmdDispatch(cmd_, gx, gy, gz);
}

void CommandStream::barrier() {
  VkMemoryBarrier mb{};
  mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  const VkPipelineStageFlags st =
      VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  dev_->fn().vkCmdPipelineBarrier(cmd_, st, st, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void CommandStream::copy(const Buffer& src, const Buffer& dst, std::size_t bytes) {
  VkBufferCopy region{0, 0, bytes};
  dev_->fn().vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), 1, &region);
}

// ---------------------------------------------------------------------------------------------

std::string write_buffer(const std::shared_ptr<Device>& dev, Buffer& dst, const void* src,
                         std::size_t bytes) {
  if (bytes > dst.size()) return "write_buffer: " + std::to_string(bytes) + " bytes > buffer";
  if (dst.host_visible()) {
    std::memcpy(dst.mapped(), src, bytes);
    return {};
  }
  Buffer staging;
  if (auto e = staging.create(dev, bytes, MemoryKind::staging); !e.empty()) return e;
  if (!staging.host_visible()) return "write_buffer: staging memory is not host-visible";
  std::memcpy(staging.mapped(), src, bytes);
  return run_once(dev, [&](CommandStream& s) { s.copy(staging, dst, bytes); });
}

std::string read_buffer(const std::shared_ptr<Device>& dev, const Buffer& src, void* dst,
                        std::size_t bytes) {
  if (bytes > src.size()) return "read_buffer: " + std::to_string(bytes) + " bytes > buffer";
  if (src.host_visible()) {
    std::memcpy(dst, src.mapped(), bytes);
    return {};
  }
  Buffer staging;
  if (auto e = staging.create(dev, bytes, MemoryKind::staging); !e.empty()) return e;
  if (!staging.host_visible()) return "read_buffer: staging memory is not host-visible";
  if (auto e = run_once(dev, [&](CommandStream& s) { s.copy(src, staging, bytes); }); !e.empty())
    return e;
  std::memcpy(dst, staging.mapped(), bytes);
  return {};
}

void CommandStream::shader_writes_to_host_barrier() {
  VkMemoryBarrier mb{};
  mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT;
  dev_->fn().vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                  VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                                  &mb, 0, nullptr, 0, nullptr);
}

}  // namespace tb::vk

// Vulkan without link-time dependency: libvulkan.so.1 is opened with dlopen at run time, and every
// entry point tierbench uses is fetched with vkGetInstanceProcAddr / vkGetDeviceProcAddr into a
// dispatch table. One binary thus runs with and without a Vulkan driver: a missing loader, ICD or
// device is an error string, never a crash.
//
//   std::string why;
//   auto inst = vk::Instance::create({.validation = vk::validation_requested()}, &why);
//   for (VkPhysicalDevice pd : inst->physical_devices()) auto info = vk::describe(*inst, pd);
//   auto dev = vk::Device::create(inst, 0, &why);   // compute queue, fp16/int8 features if any
//
// Errors are strings built by TB_VK_CHECK_STR (file, line, call, VkResult name); the kernels
// library wraps them into tb::Result.
#pragma once

#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tb::vk {

// clang-format off
#define TB_VK_GLOBAL_FNS(X) \
  X(vkCreateInstance) X(vkEnumerateInstanceVersion) X(vkEnumerateInstanceLayerProperties) \
  X(vkEnumerateInstanceExtensionProperties)
#define TB_VK_INSTANCE_FNS(X) \
  X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties) \
  X(vkGetPhysicalDeviceProperties2) X(vkGetPhysicalDeviceFeatures2) \
  X(vkGetPhysicalDeviceMemoryProperties) X(vkGetPhysicalDeviceQueueFamilyProperties) \
  X(vkEnumerateDeviceExtensionProperties) X(vkCreateDevice) X(vkGetDeviceProcAddr)
#define TB_VK_DEVICE_FNS(X) \
  X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer) \
  X(vkGetBufferMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory) \
  X(vkMapMemory) X(vkUnmapMemory) X(vkFlushMappedMemoryRanges) X(vkInvalidateMappedMemoryRanges) \
  X(vkCreateShaderModule) X(vkDestroyShaderModule) X(vkCreateDescriptorSetLayout) \
  X(vkDestroyDescriptorSetLayout) X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout) \
  X(vkCreateComputePipelines) X(vkDestroyPipeline) X(vkCreatePipelineCache) \
  X(vkDestroyPipelineCache) X(vkGetPipelineCacheData) X(vkCreateDescriptorPool) \
  X(vkDestroyDescriptorPool) X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets) \
  X(vkCreateCommandPool) X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) \
  X(vkFreeCommandBuffers) X(vkBeginCommandBuffer) X(vkEndCommandBuffer) \
  X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets) X(vkCmdPushConstants) X(vkCmdDispatch) \
  X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) X(vkCmdWriteTimestamp) X(vkCmdResetQueryPool) \
  X(vkCreateQueryPool) X(vkDestroyQueryPool) X(vkGetQueryPoolResults) X(vkQueueSubmit) \
  X(vkQueueWaitIdle) X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences) \
  X(vkDeviceWaitIdle)
// clang-format on

#define TB_VK_DECLARE_FN(f) PFN_##f f = nullptr;
struct GlobalFns {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  TB_VK_GLOBAL_FNS(TB_VK_DECLARE_FN)
};
struct InstanceFns {
  TB_VK_INSTANCE_FNS(TB_VK_DECLARE_FN)
  PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT = nullptr;    // optional
  PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT = nullptr;  // optional
};
struct DeviceFns {
  TB_VK_DEVICE_FNS(TB_VK_DECLARE_FN)
};
#undef TB_VK_DECLARE_FN

std::string_view result_name(VkResult r);
// "vulkan_loader.cpp:123: vkCreateDevice(...) failed: VK_ERROR_INITIALIZATION_FAILED"
std::string check_message(const char* file, int line, const char* call, VkResult r);

// For functions returning std::string (empty = success).
#define TB_VK_CHECK_STR(call)                                              \
  do {                                                                     \
    const VkResult tb_vk_r_ = (call);                                      \
    if (tb_vk_r_ != VK_SUCCESS)                                            \
      return ::tb::vk::check_message(__FILE__, __LINE__, #call, tb_vk_r_); \
  } while (0)

// The process-wide loader (dlopen once). nullptr with *why set when libvulkan cannot be opened.
const GlobalFns* loader(std::string* why);

// TB_VK_VALIDATION=1 in the environment.
bool validation_requested();

struct InstanceOptions {
  bool validation = false;  // VK_LAYER_KHRONOS_validation + a debug messenger counting errors
};

class Instance {
 public:
  static std::shared_ptr<Instance> create(const InstanceOptions& opts, std::string* why);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  VkInstance handle() const { return instance_; }
  const InstanceFns& fn() const { return fn_; }
  const GlobalFns& global() const { return *global_; }
  std::uint32_t api_version() const { return api_version_; }
  const std::vector<VkPhysicalDevice>& physical_devices() const { return physical_; }
  bool validation() const { return messenger_ != VK_NULL_HANDLE; }

  // Validation errors reported by the debug messenger since creation (0 without validation).
  std::uint64_t validation_errors() const { return errors_.load(); }
  std::string last_validation_error() const;

 private:
  Instance() = default;
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                                   VkDebugUtilsMessageTypeFlagsEXT type,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* d,
                                                   void* user);
  const GlobalFns* global_ = nullptr;
  InstanceFns fn_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  std::uint32_t api_version_ = VK_API_VERSION_1_1;
  std::vector<VkPhysicalDevice> physical_;
  std::atomic<std::uint64_t> errors_{0};
  mutable std::mutex mu_;
  std::string last_error_;
};

// Properties of one physical device, as tierbench reports them.
struct PhysicalDeviceInfo {
  std::string name;
  std::string type;  // cpu, integrated-gpu, discrete-gpu, virtual-gpu, other
  VkPhysicalDeviceType vk_type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  std::uint32_t vendor_id = 0, device_id = 0;
  std::string driver_name, driver_info;  // VkPhysicalDeviceDriverProperties (Vulkan 1.2)
  std::uint32_t driver_version = 0;
  std::uint32_t api_version = 0;
  std::uint64_t device_local_bytes = 0;  // sum of DEVICE_LOCAL heaps
  std::uint32_t max_workgroup_invocations = 0;
  std::uint32_t max_workgroup_size[3] = {0, 0, 0};
  std::uint32_t max_shared_memory = 0;
  std::uint32_t max_storage_buffer_range = 0;
  std::uint32_t max_workgroup_count[3] = {0, 0, 0};
  std::uint32_t subgroup_size = 0;
  bool fp16 = false;      // shaderFloat16 and storageBuffer16BitAccess
  bool int8_dot = false;  // VK_KHR_shader_integer_dot_product
  bool int64 = false;     // shaderInt64 (64-bit integer loads: the wide GEMM shader)
  float timestamp_period_ns = 0;
  std::uint32_t compute_queue_family = UINT32_MAX;
  std::uint32_t timestamp_valid_bits = 0;  // of that queue family; 0 = no timestamps
  bool unified_memory = false;  // a DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT type exists
  std::uint8_t pipeline_cache_uuid[VK_UUID_SIZE] = {};
};

PhysicalDeviceInfo describe(const Instance& inst, VkPhysicalDevice pd);
std::string api_version_string(std::uint32_t v);   // "1.3.230"
std::string vendor_name(std::uint32_t vendor_id);  // "NVIDIA", "AMD", "Mesa", "0x10005"...

// A logical device with one compute queue, and the device-level dispatch table.
class Device {
 public:
  static std::shared_ptr<Device> create(std::shared_ptr<Instance> inst, int index,
                                        std::string* why);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  VkDevice handle() const { return device_; }
  VkPhysicalDevice physical() const { return physical_; }
  VkQueue queue() const { return queue_; }
  const DeviceFns& fn() const { return fn_; }
  const Instance& instance() const { return *instance_; }
  const PhysicalDeviceInfo& info() const { return info_; }
  const VkPhysicalDeviceMemoryProperties& memory() const { return mem_; }
  // Memory type index with all of `want` among those allowed by `bits`, or -1.
  int find_memory_type(std::uint32_t bits, VkMemoryPropertyFlags want) const;
  // Serialises queue submission (VkQueue is externally synchronised).
  std::mutex& queue_mutex() { return queue_mu_; }
  // "" when no validation error arrived since `since`; else the last message.
  std::string validation_error_since(std::uint64_t since) const;

 private:
  Device() = default;
  std::shared_ptr<Instance> instance_;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  DeviceFns fn_;
  PhysicalDeviceInfo info_;
  VkPhysicalDeviceMemoryProperties mem_{};
  std::mutex queue_mu_;
};

}  // namespace tb::vk

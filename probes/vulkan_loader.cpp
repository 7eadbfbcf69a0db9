#include "vulkan_loader.h"

#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// LeakSanitizer's interface, present only when a sanitizer runtime is loaded (weak: null
// otherwise, in every release build).
extern "C" void __lsan_disable() __attribute__((weak));
extern "C" void __lsan_enable() __attribute__((weak));

namespace tb::vk {
namespace {

// Allocations made inside a driver call in this scope are not leak-checked. Lavapipe allocates
// 128 bytes once per process when its devices are first enumerated (in vkEnumeratePhysicalDevices,
// or in vkCreateInstance when the validation layer enumerates there; a pthread_once), keeps the
// pointer in its own globals and never frees it; the loader unloads lavapipe at vkDestroyInstance,
// so at exit LeakSanitizer finds the block unreachable, with frames that have no module left to
// suppress by (and ASan's fast unwinder stops at the first driver frame anyway). Everything
// tierbench allocates outside this scope stays checked (tests/sanitizers/README.md).
struct DriverAllocationsUnchecked {
  DriverAllocationsUnchecked() {
    if (__lsan_disable) __lsan_disable();
  }
  ~DriverAllocationsUnchecked() {
    if (__lsan_enable) __lsan_enable();
  }
  DriverAllocationsUnchecked(const DriverAllocationsUnchecked&) = delete;
  DriverAllocationsUnchecked& operator=(const DriverAllocationsUnchecked&) = delete;
};

// Under LeakSanitizer only (its runtime loaded): every library mapped now (after
// vkCreateInstance: the ICDs, the layers, LLVM under lavapipe) stays mapped until the process
// exits. The loader unloads the drivers at vkDestroyInstance, and whatever a driver keeps in its
// own globals then looks leaked, in frames that no suppression can name (`<unknown module>`): the
// 128 bytes above, and blocks of 17,544 and 19,976 bytes in two int8 tests of the clean-clone
// sanitized run of 2026-12-07. Mapped, a driver's globals stay roots of the leak check, and an
// object that tierbench forgets to destroy is still reported, in frames that name the driver.
void keep_drivers_mapped() {
  if (!__lsan_disable) return;
  std::vector<std::string> names;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) -> int {
        if (info->dlpi_name && *info->dlpi_name)
          static_cast<std::vector<std::string>*>(out)->emplace_back(info->dlpi_name);
        return 0;
      },
      &names);
  for (const auto& n : names) (void)dlopen(n.c_str(), RTLD_NOW | RTLD_NOLOAD);  // never closed
}

}  // namespace

std::string_view result_name(VkResult r) {
  switch (r) {
#define TB_CASE(x) \
  case x:          \
    return #x;
    TB_CASE(VK_SUCCESS)
    TB_CASE(VK_NOT_READY)
    TB_CASE(VK_TIMEOUT)
    TB_CASE(VK_EVENT_SET)
    TB_CASE(VK_EVENT_RESET)
    TB_CASE(VK_INCOMPLETE)
    TB_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    TB_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    TB_CASE(VK_ERROR_INITIALIZATION_FAILED)
    TB_CASE(VK_ERROR_DEVICE_LOST)
    TB_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    TB_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    TB_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    TB_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    TB_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    TB_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    TB_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    TB_CASE(VK_ERROR_FRAGMENTED_POOL)
    TB_CASE(VK_ERROR_UNKNOWN)
    TB_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    TB_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    TB_CASE(VK_ERROR_FRAGMENTATION)
    TB_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    TB_CASE(VK_PIPELINE_COMPILE_REQUIRED)
    TB_CASE(VK_ERROR_VALIDATION_FAILED_EXT)
#undef TB_CASE
    default:
      return "VK_RESULT_UNKNOWN";
  }
}

std::string check_message(const char* file, int line, const char* call, VkResult r) {
  const char* base = std::strrchr(file, '/');
  char buf[64];
  std::snprintf(buf, sizeof buf, " (%d)", static_cast<int>(r));
  return std::string(base ? base + 1 : file) + ":" + std::to_string(line) + ": " + call +
         " failed: " + std::string(result_name(r)) + buf;
}

const GlobalFns* loader(std::string* why) {
  // Opened once and never closed: drivers register atexit handlers and thread-locals.
  static const GlobalFns* fns = nullptr;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      error = std::string("cannot load the Vulkan loader libvulkan.so.1: ") + (e ? e : "?");
      return;
    }
    static GlobalFns g;
    g.vkGetInstanceProcAddr =
        reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
    if (!g.vkGetInstanceProcAddr) {
      error = "libvulkan.so.1 has no vkGetInstanceProcAddr";
      return;
    }
#define TB_LOAD(f) g.f = reinterpret_cast<PFN_##f>(g.vkGetInstanceProcAddr(nullptr, #f));
    TB_VK_GLOBAL_FNS(TB_LOAD)
#undef TB_LOAD
    if (!g.vkCreateInstance || !g.vkEnumerateInstanceExtensionProperties) {
      error = "libvulkan.so.1 lacks vkCreateInstance";
      return;
    }
    fns = &g;
  });
  if (!fns && why) *why = error;
  return fns;
}

bool validation_requested() {
  const char* v = std::getenv("TB_VK_VALIDATION");
  return v && v[0] && std::strcmp(v, "0") != 0;
}

// ---------------------------------------------------------------------------------------------

VKAPI_ATTR VkBool32 VKAPI_CALL Instance::on_message(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                                    VkDebugUtilsMessageTypeFlagsEXT,
                                                    const VkDebugUtilsMessengerCallbackDataEXT* d,
                                                    void* user) {
  auto* self = static_cast<Instance*>(user);
  if (sev & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
    std::lock_guard lock(self->mu_);
    self->last_error_ = d && d->pMessage ? d->pMessage : "validation error";
    self->errors_.fetch_add(1);
    std::fprintf(stderr, "[vulkan validation] %s\n", self->last_error_.c_str());
  } else if (sev & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
    std::fprintf(stderr, "[vulkan validation warning] %s\n", d && d->pMessage ? d->pMessage : "");
  }
  return VK_FALSE;
}

std::string Instance::last_validation_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

namespace {
bool has_layer(const GlobalFns& g, const char* name) {
  std::uint32_t n = 0;
  if (!g.vkEnumerateInstanceLayerProperties ||
      g.vkEnumerateInstanceLayerProperties(&n, nullptr) != VK_SUCCESS)
    return false;
  std::vector<VkLayerProperties> v(n);
  if (g.vkEnumerateInstanceLayerProperties(&n, v.data()) != VK_SUCCESS) return false;
  for (auto& l : v)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

std::string create_instance(Instance* self, const GlobalFns& g, const InstanceOptions& opts,
                            std::uint32_t api, VkInstance* out, bool* validation) {
  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "tierbench";
  app.pEngineName = "tierbench";
  app.apiVersion = api;
  std::vector<const char*> layers, exts;
  *validation = false;
  if (opts.validation) {
    if (!has_layer(g, "VK_LAYER_KHRONOS_validation"))
      return "TB_VK_VALIDATION=1 but VK_LAYER_KHRONOS_validation is not installed";
    layers.push_back("VK_LAYER_KHRONOS_validation");
    exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    *validation = true;
  }
  VkInstanceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<std::uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<std::uint32_t>(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  (void)self;
  {
    const DriverAllocationsUnchecked unchecked;  // the validation layer enumerates devices here
    TB_VK_CHECK_STR(g.vkCreateInstance(&ci, nullptr, out));
  }
  return {};
}
}  // namespace

std::shared_ptr<Instance> Instance::create(const InstanceOptions& opts, std::string* why) {
  std::string err;
  const GlobalFns* g = loader(&err);
  if (!g) {
    if (why) *why = err;
    return nullptr;
  }
  std::shared_ptr<Instance> self(new Instance());
  self->global_ = g;
  std::uint32_t loader_api = VK_API_VERSION_1_0;
  if (g->vkEnumerateInstanceVersion) g->vkEnumerateInstanceVersion(&loader_api);
  if (loader_api < VK_API_VERSION_1_1) {
    if (why) *why = "the Vulkan loader supports only Vulkan 1.0 (1.1 needed)";
    return nullptr;
  }
  self->api_version_ = loader_api >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : loader_api;
  bool validation = false;
  err = create_instance(self.get(), *g, opts, self->api_version_, &self->instance_, &validation);
  if (!err.empty()) {
    if (why) *why = err;
    return nullptr;
  }
  keep_drivers_mapped();
#define TB_LOAD(f) \
  self->fn_.f = reinterpret_cast<PFN_##f>(g->vkGetInstanceProcAddr(self->instance_, #f));
  TB_VK_INSTANCE_FNS(TB_LOAD)
  TB_LOAD(vkCreateDebugUtilsMessengerEXT)
  TB_LOAD(vkDestroyDebugUtilsMessengerEXT)
#undef TB_LOAD
  if (!self->fn_.vkEnumeratePhysicalDevices || !self->fn_.vkGetPhysicalDeviceProperties2 ||
      !self->fn_.vkCreateDevice || !self->fn_.vkGetDeviceProcAddr) {
    if (why) *why = "the Vulkan instance lacks core 1.1 entry points";
    return nullptr;
  }
  if (validation && self->fn_.vkCreateDebugUtilsMessengerEXT) {
    VkDebugUtilsMessengerCreateInfoEXT mi{};
    mi.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = &Instance::on_message;
    mi.pUserData = self.get();
    const VkResult r =
        self->fn_.vkCreateDebugUtilsMessengerEXT(self->instance_, &mi, nullptr, &self->messenger_);
    if (r != VK_SUCCESS) {
      if (why) *why = check_message(__FILE__, __LINE__, "vkCreateDebugUtilsMessengerEXT", r);
      return nullptr;
    }
  }
  std::uint32_t n = 0;
  VkResult r = VK_SUCCESS;
  {
    const DriverAllocationsUnchecked unchecked;
    r = self->fn_.vkEnumeratePhysicalDevices(self->instance_, &n, nullptr);
  }
  if (r == VK_SUCCESS) {
    self->physical_.resize(n);
    const DriverAllocationsUnchecked unchecked;
    r = self->fn_.vkEnumeratePhysicalDevices(self->instance_, &n, self->physical_.data());
  }
  self->physical_.resize(n);
  if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
    if (why) *why = check_message(__FILE__, __LINE__, "vkEnumeratePhysicalDevices", r);
    return nullptr;
  }
  return self;
}

Instance::~Instance() {
  if (messenger_ != VK_NULL_HANDLE && fn_.vkDestroyDebugUtilsMessengerEXT)
    fn_.vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
  if (instance_ != VK_NULL_HANDLE && fn_.vkDestroyInstance)
    fn_.vkDestroyInstance(instance_, nullptr);
}

// ---------------------------------------------------------------------------------------------

std::string api_version_string(std::uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) +
         "." + std::to_string(VK_API_VERSION_PATCH(v));
}

std::string vendor_name(std::uint32_t id) {
  switch (id) {
    case 0x1002:
      return "AMD";
    case 0x10DE:
      return "NVIDIA";
    case 0x8086:
      return "Intel";
    case 0x13B5:
      return "ARM";
    case 0x5143:
      return "Qualcomm";
    case 0x1010:
      return "ImgTec";
    case 0x106B:
      return "Apple";
    case 0x10005:
      return "Mesa";
    default: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "0x%x", id);
      return buf;
    }
  }
}

namespace {
std::string type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "cpu";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual-gpu";
    default:
      return "other";
  }
}

bool has_device_extension(const Instance& inst, VkPhysicalDevice pd, const char* name) {
  std::uint32_t n = 0;
  if (inst.fn().vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr) != VK_SUCCESS)
    return false;
  std::vector<VkExtensionProperties> v(n);
  if (inst.fn().vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, v.data()) != VK_SUCCESS)
    return false;
  for (auto& e : v)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}
}  // namespace

PhysicalDeviceInfo describe(const Instance& inst, VkPhysicalDevice pd) {
  PhysicalDeviceInfo d;
  const auto& fn = inst.fn();
  VkPhysicalDeviceProperties p{};
  fn.vkGetPhysicalDeviceProperties(pd, &p);
  d.name = p.deviceName;
  d.vk_type = p.deviceType;
  d.type = type_name(p.deviceType);
  d.vendor_id = p.vendorID;
  d.device_id = p.deviceID;
  d.driver_version = p.driverVersion;
  d.api_version = p.apiVersion;
  d.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) d.max_workgroup_size[i] = p.limits.maxComputeWorkGroupSize[i];
  d.max_shared_memory = p.limits.maxComputeSharedMemorySize;
  d.max_storage_buffer_range = p.limits.maxStorageBufferRange;
  for (int i = 0; i < 3; ++i) d.max_workgroup_count[i] = p.limits.maxComputeWorkGroupCount[i];
  d.timestamp_period_ns = p.limits.timestampPeriod;
  std::memcpy(d.pipeline_cache_uuid, p.pipelineCacheUUID, VK_UUID_SIZE);

  VkPhysicalDeviceSubgroupProperties sub{};

  sub.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
  VkPhysicalDeviceDriverProperties drv{};
  drv.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
  const bool v12 = p.apiVersion >= VK_API_VERSION_1_2 && inst.api_version() >= VK_API_VERSION_1_2;
  VkPhysicalDeviceProperties2 p2{};
  p2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  p2.pNext = &sub;
  if (v12) sub.pNext = &drv;
  fn.vkGetPhysicalDeviceProperties2(pd, &p2);
  d.subgroup_size = sub.subgroupSize;
  if (v12) {
    d.driver_name = drv.driverName;
    d.driver_info = drv.driverInfo;
  }
  if (d.driver_name.empty()) d.driver_name = vendor_name(p.vendorID);

  VkPhysicalDevice16BitStorageFeatures s16{};

  s16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
  VkPhysicalDeviceShaderFloat16Int8Features f16{};
  f16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
  VkPhysicalDeviceFeatures2 f2{};
  f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  f2.pNext = &s16;
  if (v12) s16.pNext = &f16;
  fn.vkGetPhysicalDeviceFeatures2(pd, &f2);
  d.fp16 = v12 && f16.shaderFloat16 && s16.storageBuffer16BitAccess;
  d.int64 = f2.features.shaderInt64 == VK_TRUE;
  d.int8_dot = (p.apiVersion >= VK_API_VERSION_1_3 && inst.api_version() >= VK_API_VERSION_1_3) ||
               has_device_extension(inst, pd, "VK_KHR_shader_integer_dot_product");
  if (d.int8_dot) {
    // Core in 1.3, but the feature bit still says whether shaders may use it.
    VkPhysicalDeviceShaderIntegerDotProductFeatures dot{};
    dot.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES;
    VkPhysicalDeviceFeatures2 g2{};
    g2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    g2.pNext = &dot;
    fn.vkGetPhysicalDeviceFeatures2(pd, &g2);
    d.int8_dot = dot.shaderIntegerDotProduct;
  }

  VkPhysicalDeviceMemoryProperties mem{};
  fn.vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  for (std::uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      d.device_local_bytes += mem.memoryHeaps[i].size;
  const VkMemoryPropertyFlags unified = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
                                        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                        VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  for (std::uint32_t i = 0; i < mem.memoryTypeCount; ++i)
    if ((mem.memoryTypes[i].propertyFlags & unified) == unified) d.unified_memory = true;

  std::uint32_t nq = 0;
  fn.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  fn.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf.data());
  // Prefer a compute queue family that has timestamps; among those, one without graphics
  // (a dedicated compute queue) if the device has one.
  int best = -1, best_score = -1;
  for (std::uint32_t i = 0; i < nq; ++i) {
    if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    const int score =
        (qf[i].timestampValidBits ? 2 : 0) + ((qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) ? 0 : 1);
    if (score > best_score) best = static_cast<int>(i), best_score = score;
  }
  if (best >= 0) {
    d.compute_queue_family = static_cast<std::uint32_t>(best);
    d.timestamp_valid_bits = qf[best].timestampValidBits;
  }
  return d;
}

// ---------------------------------------------------------------------------------------------

std::shared_ptr<Device> Device::create(std::shared_ptr<Instance> inst, int index,
                                       std::string* why) {
  auto fail = [&](std::string m) -> std::shared_ptr<Device> {
    if (why) *why = std::move(m);
    return nullptr;
  };
  if (!inst) return fail("no Vulkan instance");
  const auto& pds = inst->physical_devices();
  if (index < 0 || static_cast<std::size_t>(index) >= pds.size())
    return fail("no Vulkan device " + std::to_string(index) + " (" + std::to_string(pds.size()) +
                " found)");
  std::shared_ptr<Device> self(new Device());
  self->instance_ = inst;
  self->physical_ = pds[static_cast<std::size_t>(index)];
  self->info_ = describe(*inst, self->physical_);
  inst->fn().vkGetPhysicalDeviceMemoryProperties(self->physical_, &self->mem_);
  if (self->info_.compute_queue_family == UINT32_MAX)
    return fail(self->info_.name + " has no compute queue");

  const float prio = 1.0f;
  VkDeviceQueueCreateInfo qi{};
  qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
  qi.queueFamilyIndex = self->info_.compute_queue_family;
  qi.queueCount = 1;
  qi.pQueuePriorities = &prio;
  VkDeviceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  ci.queueCreateInfoCount = 1;
  ci.pQueueCreateInfos = &qi;
  // Enable what the shaders may use when the device offers it (fp16 arithmetic and storage,
  // 64-bit integers, integer dot products).
  VkPhysicalDevice16BitStorageFeatures s16{};
  s16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
  VkPhysicalDeviceShaderFloat16Int8Features f16{};
  f16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
  VkPhysicalDeviceFeatures2 f2{};
  f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  if (self->info_.fp16) {
    s16.storageBuffer16BitAccess = VK_TRUE;
    f16.shaderFloat16 = VK_TRUE;
    s16.pNext = &f16;
    f2.pNext = &s16;
    ci.pNext = &f2;
  }
  if (self->info_.int64) {
    f2.features.shaderInt64 = VK_TRUE;
    ci.pNext = &f2;
  }
  // Packed 8-bit dot products (the int8 kernels' OpSUDotKHR variants): the feature at the end of
  // the chain, and the extension where the device has it (core from Vulkan 1.3).
  VkPhysicalDeviceShaderIntegerDotProductFeatures dot{};
  dot.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES;
  const char* dot_ext = "VK_KHR_shader_integer_dot_product";
  if (self->info_.int8_dot) {
    dot.shaderIntegerDotProduct = VK_TRUE;
    dot.pNext = f2.pNext;
    f2.pNext = &dot;
    ci.pNext = &f2;
    if (has_device_extension(*inst, self->physical_, dot_ext)) {
      ci.enabledExtensionCount = 1;
      ci.ppEnabledExtensionNames = &dot_ext;
    }
  }
  const auto& ifn = inst->fn();
  {
    const VkResult r = ifn.vkCreateDevice(self->physical_, &ci, nullptr, &self->device_);
    if (r != VK_SUCCESS) return fail(check_message(__FILE__, __LINE__, "vkCreateDevice", r));
  }
#define TB_LOAD(f) \
  self->fn_.f = reinterpret_cast<PFN_##f>(ifn.vkGetDeviceProcAddr(self->device_, #f));
  TB_VK_DEVICE_FNS(TB_LOAD)
#undef TB_LOAD
#define TB_REQUIRE(f) \
  if (!self->fn_.f) return fail("Vulkan device lacks " #f);
  TB_VK_DEVICE_FNS(TB_REQUIRE)
#undef TB_REQUIRE
  self->fn_.vkGetDeviceQueue(self->device_, self->info_.compute_queue_family, 0, &self->queue_);
  return self;
}

Device::~Device() {
  if (device_ != VK_NULL_HANDLE && fn_.vkDestroyDevice) {
    fn_.vkDeviceWaitIdle(device_);
    fn_.vkDestroyDevice(device_, nullptr);
  }
}

int Device::find_memory_type(std::uint32_t bits, VkMemoryPropertyFlags want) const {
  for (std::uint32_t i = 0; i < mem_.memoryTypeCount; ++i)
    if ((bits & (1u << i)) && (mem_.memoryTypes[i].propertyFlags & want) == want)
      return static_cast<int>(i);
  return -1;
}

std::string Device::validation_error_since(std::uint64_t since) const {
  if (instance_->validation_errors() == since) return {};
  return "Vulkan validation error: " + instance_->last_validation_error();
}

}  // namespace tb::vk

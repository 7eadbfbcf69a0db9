#include "vulkan_context.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>

#include <unistd.h>

#include "../cache_dir.h"
#include "vulkan_shaders.h"

namespace tb::vulkan {

bool int8_dot_enabled(const Context& ctx) {
  const char* e = std::getenv("TB_VULKAN_INT8_DOT");
  return ctx.info().int8_dot && !(e && std::string(e) == "0");
}

std::vector<std::string_view> spirv_blob_names() {
  std::vector<std::string_view> v;
  for (const auto& b : spirv_kernels::kBlobs) v.emplace_back(b.name);
  return v;
}

std::span<const std::uint32_t> spirv_blob(std::string_view name) {
  for (const auto& b : spirv_kernels::kBlobs)
    if (name == b.name) return {b.words, b.count};
  return {};
}

namespace {
std::string hex(const std::uint8_t* p, std::size_t n) {
  std::string s;
  char buf[3];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}
}  // namespace

std::string Context::device_key() const {
  const auto& i = info();
  return i.name + " | " + i.driver_name + " " + i.driver_info + " | " +
         std::to_string(i.driver_version);
}

Result<std::shared_ptr<Context>> Context::open(std::shared_ptr<vk::Instance> inst, int index) {
  std::string why;
  auto dev = vk::Device::create(std::move(inst), index, &why);
  if (!dev) return make_error(why);
  std::shared_ptr<Context> self(new Context());
  self->dev_ = std::move(dev);
  if (self->info().api_version >= VK_API_VERSION_1_1 &&
      self->dev_->instance().api_version() >= VK_API_VERSION_1_1) {
    VkPhysicalDeviceSubgroupProperties sub{};
    sub.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
    VkPhysicalDeviceProperties2 p2{};
    p2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
    p2.pNext = &sub;
    self->dev_->instance().fn().vkGetPhysicalDeviceProperties2(self->dev_->physical(), &p2);
    self->subgroup_broadcast8_ = sub.subgroupSize == 8 &&
                                 (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                                 (sub.supportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT);
  }
  // One cache file per device and driver: the UUID alone may not change with every driver build.
  const auto root = cache_root();
  std::vector<char> data;
  if (!root.empty()) {
    self->cache_path_ = root / "vulkan" /
                        ("pipeline_cache_" + hex(self->info().pipeline_cache_uuid, VK_UUID_SIZE) +
                         "_" + std::to_string(self->info().driver_version) + ".bin");
    std::ifstream f(self->cache_path_, std::ios::binary);
    if (f) data.assign(std::istreambuf_iterator<char>(f), {});
  }
  if (auto r = self->create_cache(data); !r) {
    // A corrupt or foreign file must not stop us: start from an empty cache.
    if (auto r2 = self->create_cache({}); !r2) return r2.error();
  } else {
    self->loaded_bytes_ = data.size();
  }
  return self;
}

Result<void> Context::create_cache(const std::vector<char>& initial) {
  const auto& fn = dev_->fn();
  if (cache_) fn.vkDestroyPipelineCache(dev_->handle(), cache_, nullptr);
  cache_ = VK_NULL_HANDLE;
  VkPipelineCacheCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
  ci.initialDataSize = initial.size();
  ci.pInitialData = initial.empty() ? nullptr : initial.data();
  TB_VK_CHECK(fn.vkCreatePipelineCache(dev_->handle(), &ci, nullptr, &cache_));
  return {};
}

Context::~Context() {
  if (cache_) dev_->fn().vkDestroyPipelineCache(dev_->handle(), cache_, nullptr);
}

Result<void> Context::save_pipeline_cache() {
  if (cache_path_.empty()) return {};
  const auto& fn = dev_->fn();
  std::size_t n = 0;
  TB_VK_CHECK(fn.vkGetPipelineCacheData(dev_->handle(), cache_, &n, nullptr));
  std::vector<char> data(n);
  TB_VK_CHECK(fn.vkGetPipelineCacheData(dev_->handle(), cache_, &n, data.data()));
  std::error_code ec;
  std::filesystem::create_directories(cache_path_.parent_path(), ec);
  if (ec)
    return make_error("cannot create " + cache_path_.parent_path().string() + ": " + ec.message());
  // Write then rename, so that a concurrent reader never sees half a file.
  const auto tmp = cache_path_.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(data.data(), static_cast<std::streamsize>(n));
    if (!f) return make_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, cache_path_, ec);
  if (ec) return make_error("cannot rename " + tmp + ": " + ec.message());
  return {};
}

std::size_t Context::pipeline_cache_data_bytes() {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  if (dev_->fn().vkGetPipelineCacheData(dev_->handle(), cache_, &n, nullptr) != VK_SUCCESS)
    return 0;
  return n;
}

Result<void> Context::reset_pipeline_cache() {
  std::lock_guard lock(mu_);
  pipelines_.clear();
  return create_cache({});
}

Result<std::shared_ptr<vk::ComputePipeline>> Context::pipeline(std::string_view blob,
                                                               std::uint32_t bindings,
                                                               std::uint32_t push_bytes,
                                                               std::span<const std::uint32_t> spec,
                                                               bool reuse, PipelineStats* stats) {
  std::string key(blob);
  for (auto s : spec) key += ":" + std::to_string(s);
  std::lock_guard lock(mu_);
  const auto t0 = std::chrono::steady_clock::now();
  if (reuse) {
    if (auto it = pipelines_.find(key); it != pipelines_.end()) {
      if (stats) *stats = {seconds_since(t0), 1, true};
      return it->second;
    }
  }
  const auto words = spirv_blob(blob);
  if (words.empty()) return make_error("no embedded SPIR-V named " + key);
  auto p = std::make_shared<vk::ComputePipeline>();
  TB_VK_TRY(p->create(dev_, words, bindings, push_bytes, spec, cache_));
  if (stats) *stats = {seconds_since(t0), p->cache_hit(), false};
  pipelines_[key] = p;
  if (p->cache_hit() != 1) (void)save_pipeline_cache();  // best effort: a read-only home is fine
  return p;
}

Result<Timing> Context::timed_submit(vk::CommandStream& stream) const {
  const std::uint64_t mark = validation_mark();
  const auto t0 = std::chrono::steady_clock::now();
  double dev_s = -1;
  TB_VK_TRY(stream.submit_wait(&dev_s));
  const double host_s = seconds_since(t0);
  if (auto r = check_validation(mark); !r) return r.error();
  if (dev_s >= 0) return Timing{dev_s, TimingSource::device_timestamps};
  return Timing{host_s, TimingSource::host_clock};
}

Result<void> Context::check_validation(std::uint64_t mark) const {
  if (auto e = dev_->validation_error_since(mark); !e.empty()) return make_error(e);
  return {};
}

}  // namespace tb::vulkan

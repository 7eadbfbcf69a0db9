// probe_vulkan: every Vulkan physical device, its properties, and figures measured through
// Vulkan itself (clpeak-style): peak f32 FMA rate (vec4 and scalar chains), global memory copy
// bandwidth, staging transfer bandwidth both ways, and the empty-dispatch round trip.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <vector>

#include "accel_probe.h"
#include "vulkan_loader.h"
#include "vulkan_probe_shaders.h"
#include "vulkan_runtime.h"

namespace tb {

namespace {
using nlohmann::json;

std::span<const std::uint32_t> blob(std::string_view name) {
  for (const auto& b : spirv_probes::kBlobs)
    if (name == b.name) return {b.words, b.count};
  return {};
}

json figure(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  return {{"median", med}, {"min", v.front()}, {"max", v.back()}, {"trials", n}};
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs the recorded stream and returns seconds: device timestamps when the queue has them.
std::string timed(vk::CommandStream& s, double* sec) {
  const double t0 = now_s();
  double dev = -1;
  if (auto e = s.submit_wait(&dev); !e.empty()) return e;
  *sec = dev > 0 ? dev : now_s() - t0;
  return {};
}

struct Measurer {
  std::shared_ptr<vk::Device> dev;
  const AccelProbeOptions& opts;
  int trials() const { return opts.quick ? 5 : 11; }
  double target_s() const { return opts.quick ? 0.01 : 0.03; }

  // GFLOP/s of a chain of FMAs; vec4 or scalar.
  std::string peak(bool vec4, std::vector<double>* gflops) {
    vk::ComputePipeline p;
    if (auto e = p.create(dev, blob(vec4 ? "probe_fma_vec4" : "probe_fma_scalar"), 1, 8, {});
        !e.empty())
      return e;
    const bool cpu = dev->info().vk_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
    const std::uint32_t groups = cpu ? 64 : 8192;  // 64 invocations each
    vk::Buffer out;
    if (auto e = out.create(dev, std::size_t{groups} * 64 * 16, vk::MemoryKind::device); !e.empty())
      return e;
    const std::array<VkBuffer, 1> bufs = {out.handle()};
    vk::DescriptorSet set;
    if (auto e = set.create(dev, p, bufs); !e.empty()) return e;
    struct {
      std::uint32_t iters;
      float seed;
    } pc{64, 1.0f};
    double sec = 0;
    for (;;) {  // calibrate: grow the chain until one run takes the target time
      vk::CommandStream s;
      if (auto e = s.create(dev); !e.empty()) return e;
      if (auto e = s.begin(); !e.empty()) return e;
      s.dispatch(p, set, &pc, sizeof pc, groups, 1, 1);
      if (auto e = s.end(); !e.empty()) return e;
      if (auto e = timed(s, &sec); !e.empty()) return e;
      if (sec >= target_s() || pc.iters >= (1u << 24)) {
        const double flops = 2.0 * 16 * (vec4 ? 4 : 1) * double(pc.iters) * groups * 64;
        for (int t = 0; t < trials(); ++t) {
          if (auto e = timed(s, &sec); !e.empty()) return e;
          gflops->push_back(flops / sec * 1e-9);
        }
        return {};
      }
      pc.iters = sec > 0 ? static_cast<std::uint32_t>(std::min<double>(
                               double(pc.iters) * std::clamp(target_s() / sec, 2.0, 64.0), 1 << 24))
                         : pc.iters * 8;
    }
  }

  std::string copy_bw(std::vector<double>* gbps) {
    vk::ComputePipeline p;
    if (auto e = p.create(dev, blob("probe_copy"), 2, 4, {}); !e.empty()) return e;
    const std::size_t bytes = (opts.quick ? 32u : 128u) << 20;
    vk::Buffer a, b;
    if (auto e = a.create(dev, bytes, vk::MemoryKind::device); !e.empty()) return e;
    if (auto e = b.create(dev, bytes, vk::MemoryKind::device); !e.empty()) return e;
    const std::array<VkBuffer, 2> bufs = {a.handle(), b.handle()};
    vk::DescriptorSet set;
    if (auto e = set.create(dev, p, bufs); !e.empty()) return e;
    const std::uint32_t n = static_cast<std::uint32_t>(bytes / 16);
    const std::uint32_t groups = std::min<std::uint32_t>(n / 64, 65535);
    vk::CommandStream s;
    if (auto e = s.create(dev); !e.empty()) return e;
    if (auto e = s.begin(); !e.empty()) return e;
    s.dispatch(p, set, &n, 4, groups, 1, 1);
    if (auto e = s.end(); !e.empty()) return e;
    double sec = 0;
    if (auto e = timed(s, &sec); !e.empty()) return e;  // warm-up (first touch of the pages)
    for (int t = 0; t < trials(); ++t) {
      if (auto e = timed(s, &sec); !e.empty()) return e;
      gbps->push_back(2.0 * double(bytes) / sec * 1e-9);
    }
    return {};
  }

  // Staging (host-visible) <-> device buffer copies on the queue.
  std::string transfer(bool to_device, std::vector<double>* gbps) {
    const std::size_t bytes = (opts.quick ? 32u : 128u) << 20;
    vk::Buffer host, devbuf;
    if (auto e = host.create(dev, bytes, vk::MemoryKind::staging); !e.empty()) return e;
    if (auto e = devbuf.create(dev, bytes, vk::MemoryKind::device); !e.empty()) return e;
    if (host.mapped()) std::memset(host.mapped(), 1, bytes);
    vk::CommandStream s;
    if (auto e = s.create(dev); !e.empty()) return e;
    if (auto e = s.begin(); !e.empty()) return e;
    if (to_device)
      s.copy(host, devbuf, bytes);
    else
      s.copy(devbuf, host, bytes);
    if (auto e = s.end(); !e.empty()) return e;
    double sec = 0;
    if (auto e = timed(s, &sec); !e.empty()) return e;
    for (int t = 0; t < trials(); ++t) {
      if (auto e = timed(s, &sec); !e.empty()) return e;
      gbps->push_back(double(bytes) / sec * 1e-9);
    }
    return {};
  }

  // Host round trip of an empty dispatch: vkQueueSubmit + fence wait.
  std::string latency(std::vector<double>* us) {
    vk::ComputePipeline p;
    if (auto e = p.create(dev, blob("probe_empty"), 1, 0, {}); !e.empty()) return e;
    vk::Buffer out;
    if (auto e = out.create(dev, 64, vk::MemoryKind::device); !e.empty()) return e;
    const std::array<VkBuffer, 1> bufs = {out.handle()};
    vk::DescriptorSet set;
    if (auto e = set.create(dev, p, bufs); !e.empty()) return e;
    vk::CommandStream s;
    if (auto e = s.create(dev); !e.empty()) return e;
    if (auto e = s.begin(); !e.empty()) return e;
    s.dispatch(p, set, nullptr, 0, 1, 1, 1);
    if (auto e = s.end(); !e.empty()) return e;
    for (int t = 0; t < 5; ++t)
      if (auto e = s.submit_wait(); !e.empty()) return e;
    const int n = opts.quick ? 50 : 300;
    for (int t = 0; t < n; ++t) {
      const double t0 = now_s();
      if (auto e = s.submit_wait(); !e.empty()) return e;
      us->push_back((now_s() - t0) * 1e6);
    }
    return {};
  }
};

json measure(const std::shared_ptr<vk::Device>& dev, const AccelProbeOptions& opts) {
  Measurer m{dev, opts};
  json out = json::object();
  json errors = json::array();
  auto note = [&](const char* what, const std::string& e) {
    if (!e.empty()) errors.push_back(std::string(what) + ": " + e);
  };
  std::vector<double> v4, s1;
  note("peak_f32 vec4", m.peak(true, &v4));
  note("peak_f32 scalar", m.peak(false, &s1));
  if (!v4.empty() || !s1.empty()) {
    auto med = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.empty() ? 0.0 : v[v.size() / 2];
    };
    json peak = figure(med(v4) >= med(s1) ? v4 : s1);
    peak["by_width"] = {{"vec4", figure(v4)}, {"scalar", figure(s1)}};
    out["peak_f32_gflops"] = peak;
  }
  std::vector<double> bw, h2d, d2h, lat;
  note("global_bw", m.copy_bw(&bw));
  note("h2d", m.transfer(true, &h2d));
  note("d2h", m.transfer(false, &d2h));
  note("dispatch_latency", m.latency(&lat));
  if (!bw.empty()) out["global_bw_gbps"] = figure(bw);
  if (!h2d.empty()) out["h2d_gbps"] = figure(h2d);
  if (!d2h.empty()) out["d2h_gbps"] = figure(d2h);
  if (!lat.empty()) out["dispatch_latency_us"] = figure(lat);
  out["timing"] = dev->info().timestamp_valid_bits ? "device-timestamps" : "host-clock";
  if (!errors.empty()) out["errors"] = errors;
  return out;
}

json describe_json(const vk::PhysicalDeviceInfo& d, int index) {
  return {{"index", index},
          {"name", d.name},
          {"type", d.type},
          {"vendor", vk::vendor_name(d.vendor_id)},
          {"vendor_id", d.vendor_id},
          {"device_id", d.device_id},
          {"driver_name", d.driver_name},
          {"driver_info", d.driver_info},
          {"driver_version", d.driver_version},
          {"api_version", vk::api_version_string(d.api_version)},
          {"compute_units", nullptr},  // Vulkan does not expose it
          {"global_memory_bytes", d.device_local_bytes},
          {"max_workgroup_size", d.max_workgroup_invocations},
          {"max_shared_memory_bytes", d.max_shared_memory},
          {"subgroup_size", d.subgroup_size},
          {"fp16", d.fp16},
          {"int8_dot", d.int8_dot},
          {"unified_memory", d.unified_memory},
          {"timestamp_period_ns", d.timestamp_period_ns},
          {"timestamp_valid_bits", d.timestamp_valid_bits}};
}
}  // namespace

nlohmann::json probe_vulkan(const AccelProbeOptions& opts) {
  json out = {{"api", "vulkan"}, {"available", false}, {"reason", ""}, {"devices", json::array()}};
  std::string why;
  vk::InstanceOptions io;
  io.validation = vk::validation_requested();
  auto inst = vk::Instance::create(io, &why);
  if (!inst) {
    out["reason"] = why;
    return out;
  }
  out["loader_api_version"] = vk::api_version_string(inst->api_version());
  const auto& pds = inst->physical_devices();
  if (pds.empty()) {
    out["reason"] = "the Vulkan loader found no physical device (no ICD installed?)";
    return out;
  }
  for (int i = 0; i < static_cast<int>(pds.size()); ++i) {
    const auto info = vk::describe(*inst, pds[static_cast<std::size_t>(i)]);
    json d = describe_json(info, i);
    if (opts.measure) {
      auto dev = vk::Device::create(inst, i, &why);
      if (dev)
        d["measured"] = measure(dev, opts);
      else
        d["measured"] = {{"errors", json::array({why})}};
    }
    out["devices"].push_back(std::move(d));
  }
  out["available"] = true;
  return out;
}

}  // namespace tb

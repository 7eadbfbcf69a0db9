// The Vulkan backend: discovery through the dlopen'd loader (probes/vulkan_loader), f32 / f16 /
// bf16 / int8 GEMM (vulkan_gemm.cpp), conv and attention in the same types, f32 pool, row ops,
// binary, rope and embed (vulkan_op.cpp and one file per family), and whole graphs resident on the
// device, one submit per inference, their int8 quantisations and bf16 casts included
// (vulkan_graph.cpp). Everything is found at run time: no loader, ICD or device means
// availability() == false with the reason, never a crash.
#include "vulkan_backend.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "../device_graph.h"
#include "vulkan_gemm.h"
#include "vulkan_graph.h"
#include "vulkan_op.h"

namespace tb {
namespace vulkan {

namespace {
struct Shared {
  std::once_flag once;
  std::shared_ptr<vk::Instance> instance;
  std::string why;
  std::mutex mu;
  std::vector<std::shared_ptr<Context>> contexts;
};
Shared& shared() {
  static Shared s;
  return s;
}
}  // namespace

Result<std::shared_ptr<vk::Instance>> shared_instance() {
  auto& s = shared();
  std::call_once(s.once, [&] {
    vk::InstanceOptions o;
    o.validation = vk::validation_requested();
    s.instance = vk::Instance::create(o, &s.why);
    if (s.instance && s.instance->physical_devices().empty()) {
      s.why = "the Vulkan loader found no physical device (no ICD installed?)";
      s.instance.reset();
    }
  });
  if (!s.instance) return make_error(s.why);
  return s.instance;
}

Result<std::shared_ptr<Context>> shared_context(int device) {
  auto inst = shared_instance();
  if (!inst) return inst.error();
  auto& s = shared();
  std::lock_guard lock(s.mu);
  const auto n = inst.value()->physical_devices().size();
  if (device < 0 || static_cast<std::size_t>(device) >= n)
    return make_error("no Vulkan device " + std::to_string(device));
  s.contexts.resize(n);
  auto& c = s.contexts[static_cast<std::size_t>(device)];
  if (!c) {
    auto r = Context::open(inst.value(), device);
    if (!r) return r.error();
    c = r.value();
  }
  return c;
}

}  // namespace vulkan

namespace {

class VulkanBackend final : public Backend {
 public:
  const BackendTraits& traits() const override { return vulkan_backend_traits(); }

  Availability availability() override {
    auto inst = vulkan::shared_instance();
    if (!inst) return {false, inst.error().message};
    return {true, {}};
  }

  std::vector<DeviceInfo> devices() override {
    std::vector<DeviceInfo> v;
    auto inst = vulkan::shared_instance();
    if (!inst) return v;
    int i = 0;
    for (VkPhysicalDevice pd : inst.value()->physical_devices()) {
      const auto d = vk::describe(*inst.value(), pd);
      DeviceInfo di;
      di.index = i++;
      di.name = d.name;
      di.type = d.type;
      di.vendor = vk::vendor_name(d.vendor_id);
      di.driver = d.driver_name + (d.driver_info.empty() ? "" : " " + d.driver_info) + " (" +
                  std::to_string(d.driver_version) + ")";
      di.api_version = "Vulkan " + vk::api_version_string(d.api_version);
      di.compute_units = 0;  // Vulkan does not expose it
      di.global_memory_bytes = d.device_local_bytes;
      di.max_workgroup_size = d.max_workgroup_invocations;
      di.subgroup_size = d.subgroup_size;
      di.fp16 = d.fp16;
      di.int8_dot = d.int8_dot;
      v.push_back(std::move(di));
    }
    return v;
  }

  std::string version() override {
    auto inst = vulkan::shared_instance();
    if (!inst) return "Vulkan (unavailable)";
    std::string s = "Vulkan loader " + vk::api_version_string(inst.value()->api_version());
    for (VkPhysicalDevice pd : inst.value()->physical_devices()) {
      const auto d = vk::describe(*inst.value(), pd);
      s += "; " + d.name + ": " + d.driver_name + " " + d.driver_info;
    }
    return s;
  }

  Support supports(const Problem& p, int device) override {
    auto ctx = vulkan::shared_context(device);
    if (!ctx) return Support::no(ctx.error().message);
    // A hand-built problem skips parse()'s checks (e.g. +scales on f32): never run it silently.
    if (auto c = check_post(p); !c) return Support::no("vulkan: " + c.error().message);
    return vulkan::supports_problem(p, *ctx.value());
  }

  Result<std::unique_ptr<PreparedKernel>> prepare(const Problem& p,
                                                  const PrepareOptions& opts) override {
    if (auto s = supports(p, opts.device); !s.supported) return make_error(s.reason);
    auto ctx = vulkan::shared_context(opts.device);
    if (!ctx) return ctx.error();
    if (p.as<GemmDesc>()) return vulkan::prepare_gemm(ctx.value(), p, {});
    if (const auto g = vulkan::pointwise_gemm(p))
      return vulkan::prepare_gemm(ctx.value(), Problem{*g, p.dtype, p.post}, {});
    auto plan = vulkan::op_plan(p, *ctx.value());
    if (!plan) return plan.error();
    return vulkan::prepare_op(ctx.value(), p, std::move(plan.value()));
  }

  // The resident graph (vulkan_graph.h): one command buffer, one submit per inference. Where a
  // node cannot run resident, the staged graph, its config saying why (TB_VULKAN_STAGED_GRAPH=1
  // forces it: the A/B anchor).
  Result<std::unique_ptr<PreparedGraph>> prepare_graph(const DeviceGraph& g,
                                                       const PrepareOptions& opts) override {
    if (auto v = g.verify(); !v) return v.error();
    for (const auto& n : g.nodes)
      if (auto s = supports(n.problem, opts.device); !s.supported)
        return make_error(n.name + " (" + n.problem.str() + "): " + s.reason);
    auto ctx = vulkan::shared_context(opts.device);
    if (!ctx) return ctx.error();
    // in_quant / in_cast (an operand converted to u8 / bf16 on its way in) and act_after are
    // dispatches of their own in the resident graph.
    auto r =
        std::getenv("TB_VULKAN_STAGED_GRAPH")
            ? Result<std::unique_ptr<PreparedGraph>>(make_error("TB_VULKAN_STAGED_GRAPH is set"))
            : vulkan::prepare_resident_graph(ctx.value(), g);
    if (r) return r;
    auto staged = make_staged_graph(*this, g, opts);
    if (!staged) return staged.error();
    return vulkan::staged_fallback(std::move(staged.value()), r.error().message);
  }

  // GEMMs and pointwise convs (as the GEMMs the graph runs): vulkan_tuner.cpp.
  std::optional<TuneKey> tune_key(const Problem& p, int device) override {
    auto ctx = vulkan::shared_context(device);
    if (!ctx || !supports(p, device).supported) return std::nullopt;
    return vulkan::problem_tune_key(*ctx.value(), p);
  }
  Result<TuneOutcome> tune(const Problem& p, const TuneRequest& r) override {
    if (auto s = supports(p, r.device); !s.supported) return make_error(s.reason);
    auto ctx = vulkan::shared_context(r.device);
    if (!ctx) return ctx.error();
    return vulkan::tune_problem(ctx.value(), p, r);
  }
};

}  // namespace

const BackendTraits& vulkan_backend_traits() {
  static const BackendTraits t{.name = "vulkan",
                               .devices = DeviceKind::api_devices,
                               .probe_key = "vulkan",
                               .reference = false};
  return t;
}

std::unique_ptr<Backend> make_vulkan_backend() {
  return std::make_unique<VulkanBackend>();
}

}  // namespace tb

// TEMPORARY scaffold, replaced by the real backend in this same change.
#include "vulkan_backend.h"

namespace tb {
namespace {
class Scaffold final : public Backend {
 public:
  std::string_view name() const override { return "vulkan"; }
  Availability availability() override { return {false, "backend not built yet"}; }
  std::vector<DeviceInfo> devices() override { return {}; }
  std::string version() override { return {}; }
  Support supports(const Problem&, int) override { return Support::no("not built"); }
  Result<std::unique_ptr<PreparedKernel>> prepare(const Problem&, const PrepareOptions&) override {
    return make_error("not built");
  }
};
}  // namespace
std::unique_ptr<Backend> make_vulkan_backend() { return std::make_unique<Scaffold>(); }
}  // namespace tb

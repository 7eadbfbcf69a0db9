// Stand-ins for accelerator probes whose sources are not in this tree yet (CMakeLists.txt adds
// this file, with TB_FALLBACK_OPENCL / TB_FALLBACK_VULKAN, only while opencl_probe.cpp /
// vulkan_probe.cpp are absent). They report the API as unavailable, never a figure.
#include "accel_probe.h"

namespace tb {

namespace {
[[maybe_unused]] nlohmann::json not_built(const char* api) {
  return {{"api", api},
          {"available", false},
          {"reason", "not built: this tierbench has no probe for this API"},
          {"devices", nlohmann::json::array()}};
}
}  // namespace

#ifdef TB_FALLBACK_OPENCL
nlohmann::json probe_opencl(const AccelProbeOptions&) {
  return not_built("opencl");
}
#endif
#ifdef TB_FALLBACK_VULKAN
nlohmann::json probe_vulkan(const AccelProbeOptions&) {
  return not_built("vulkan");
}
#endif

}  // namespace tb

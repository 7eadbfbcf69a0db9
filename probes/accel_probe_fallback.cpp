// Stand-ins for the accelerator probes of APIs this build left out (CMakeLists.txt adds this
// file, with TB_FALLBACK_OPENCL / TB_FALLBACK_VULKAN, when TB_BACKEND_OPENCL / TB_BACKEND_VULKAN
// is OFF). They report the API as unavailable, never a figure.
#include "accel_probe.h"

namespace tb {

namespace {
[[maybe_unused]] nlohmann::json not_built(const char* api) {
  return {{"api", api},
          {"available", false},
          {"reason",
           "not built: this tierbench was configured without this API (TB_BACKEND_<API>=OFF)"},
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

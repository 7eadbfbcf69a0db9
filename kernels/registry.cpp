// The one registration point. Adding a backend: one folder under kernels/ and one line here.
#include "kernels.h"
#include "onednn/onednn_backend.h"
#include "opencl/opencl_backend.h"
#include "reference/reference_backend.h"
#include "vulkan/vulkan_backend.h"

namespace tb {

std::string_view timing_source_name(TimingSource s) {
  switch (s) {
    case TimingSource::host_clock:
      return "host-clock";
    case TimingSource::device_timestamps:
      return "device-timestamps";
    case TimingSource::profiling_events:
      return "profiling-events";
  }
  return "?";
}

std::vector<std::unique_ptr<Backend>> make_backends() {
  std::vector<std::unique_ptr<Backend>> v;
  v.push_back(make_reference_backend());
  v.push_back(make_onednn_backend());
  v.push_back(make_opencl_backend());
  v.push_back(make_vulkan_backend());
  return v;
}

}  // namespace tb

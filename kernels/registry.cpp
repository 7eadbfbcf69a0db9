// The one registration point. The backends built are those of the root CMakeLists.txt's
// TB_BACKENDS list whose TB_BACKEND_<NAME> option is ON; kernels/CMakeLists.txt writes them,
// in that order, into backend_list.inc as TB_BACKEND(name) lines. Adding a backend: its folder
// under kernels/ (with make_<name>_backend() and <name>_backend_traits()) and its name in that
// list.
#include "kernels.h"
#include "reference/reference_backend.h"

namespace tb {

#define TB_BACKEND(n)                            \
  std::unique_ptr<Backend> make_##n##_backend(); \
  const BackendTraits& n##_backend_traits();
#include "backend_list.inc"
#undef TB_BACKEND

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

std::string_view device_kind_name(DeviceKind k) {
  switch (k) {
    case DeviceKind::host_cpu:
      return "host-cpu";
    case DeviceKind::api_devices:
      return "api-devices";
  }
  return "?";
}

std::string no_kernel_reason(std::string_view backend, const Problem& p) {
  return std::string(backend) + " has no " + std::string(p.op_name()) + " kernel";
}

std::vector<std::unique_ptr<Backend>> make_backends() {
  std::vector<std::unique_ptr<Backend>> v;
  v.push_back(make_reference_backend());
#define TB_BACKEND(n) v.push_back(make_##n##_backend());
#include "backend_list.inc"
#undef TB_BACKEND
  return v;
}

std::span<const BackendTraits* const> built_backends() {
  static const BackendTraits* const all[] = {
      &reference_backend_traits(),
#define TB_BACKEND(n) &n##_backend_traits(),
#include "backend_list.inc"
#undef TB_BACKEND
  };
  return all;
}

const BackendTraits* find_backend_traits(std::string_view name) {
  for (const BackendTraits* t : built_backends())
    if (t->name == name) return t;
  return nullptr;
}

}  // namespace tb

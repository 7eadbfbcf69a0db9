// The run environment, captured as JSON and stored with every run (runs.env_json): what a reader
// needs to judge whether two runs are comparable. Hostnames, serial numbers and user names are
// deliberately NOT recorded. Every field that cannot be read is "unknown" (or null for numbers),
// never an error: capturing the environment cannot fail a run.
//
// Keys (schema "tierbench.env/1"):
//   cpu: model, vendor, logical_cpus, physical_cores, sockets, affinity_cpus, smt, governor,
//        freq_cur_mhz, freq_max_mhz, boost
//   memory: total_bytes
//   virtualization: is_vm, hypervisor_bit, dmi_vendor, dmi_product, hypervisor_type
//   os: kernel, kernel_release, kernel_version, machine, pretty_name
//   compiler: id, version, flags, build_type
//   git: commit, dirty (bool or null when unknown)
//   threads: hardware_concurrency and every threading variable that is set (OMP_NUM_THREADS,
//            OMP_PROC_BIND, OMP_PLACES, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS, ...; null if unset)
//   switches: {NAME: value} of every set TB_* variable and library / driver variable that changes
//             what runs (ONEDNN_*, OMP_*, POCL_*, VK_*, MESA_*, LP_*, ...; switches.h), "~" for
//             $HOME
//   loadavg_start: [1 min, 5 min, 15 min] (null when unreadable)
//   libraries: whatever the caller passed (backends know their library and driver versions)
//   captured_at: ISO 8601 UTC
#pragma once

#include <array>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tb::env {

// Where the system files live; tests point these at a fake tree.
struct SystemPaths {
  std::string proc = "/proc";
  std::string sys = "/sys";
  std::string etc = "/etc";
};

struct EnvironmentInputs {
  std::string git_commit = "unknown";                   // the build's TB_GIT_COMMIT
  std::optional<bool> git_dirty;                        // unknown unless the build says
  std::string compiler_flags;                           // the build's TB_CXX_FLAGS
  std::string build_type;                               // the build's TB_BUILD_TYPE
  nlohmann::json libraries = nlohmann::json::object();  // {"oneDNN": "2.6.3", "PoCL": "3.1", ...}
  SystemPaths paths;
};

nlohmann::json capture_environment(const EnvironmentInputs& in = {});

// /proc/loadavg's three averages, sampled now (the runner records it again at the end).
std::optional<std::array<double, 3>> sample_loadavg(const SystemPaths& paths = {});
nlohmann::json loadavg_json(const SystemPaths& paths = {});  // [a, b, c] or null

// Parsers, exposed for tests.
struct CpuInfo {
  std::string model = "unknown", vendor = "unknown";
  int logical_cpus = 0;    // "processor" entries
  int physical_cores = 0;  // distinct (physical id, core id) pairs; 0 when not listed
  int sockets = 0;         // distinct physical ids; 0 when not listed
};
CpuInfo parse_cpuinfo(const std::string& text);
std::string parse_os_release_pretty_name(const std::string& text);  // "unknown" if absent
std::optional<std::array<double, 3>> parse_loadavg(const std::string& text);
std::optional<long long> parse_meminfo_total_bytes(const std::string& text);
// Whether DMI vendor/product strings name a hypervisor (QEMU, KVM, VMware, VirtualBox, Xen,
// Hyper-V, cloud instance types...).
bool dmi_names_vm(const std::string& vendor, const std::string& product);

}  // namespace tb::env

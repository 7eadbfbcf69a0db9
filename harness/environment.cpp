// Run-environment capture; see environment.h for the keys and the privacy rule.
#include "environment.h"

#include <unistd.h>

#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "cpu_features.h"
#include "switches.h"

namespace tb::env {
namespace {

constexpr const char* kUnknown = "unknown";

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// First line of a small sysfs/proc file, trimmed; "unknown" when unreadable or empty.
std::string read_line(const std::string& path) {
  const auto text = read_file(path);
  if (!text) return kUnknown;
  std::string line = trim(text->substr(0, text->find('\n')));
  return line.empty() ? kUnknown : line;
}

// A kHz sysfs value as MHz, or null.
nlohmann::json khz_as_mhz(const std::string& path) {
  const std::string s = read_line(path);
  char* end = nullptr;
  const double khz = std::strtod(s.c_str(), &end);
  if (s == kUnknown || end == s.c_str() || khz <= 0) return nullptr;
  return khz / 1000.0;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string utc_now_iso() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string compiler_id() {
#if defined(__clang__)
  return "clang";
#elif defined(__GNUC__)
  return "gcc";
#else
  return kUnknown;
#endif
}

// Turbo/boost state: the generic cpufreq knob, else intel_pstate's inverted one.
std::string boost_state(const SystemPaths& p) {
  const std::string b = read_line(p.sys + "/devices/system/cpu/cpufreq/boost");
  if (b == "1") return "on";
  if (b == "0") return "off";
  const std::string nt = read_line(p.sys + "/devices/system/cpu/intel_pstate/no_turbo");
  if (nt == "1") return "off";
  if (nt == "0") return "on";
  return kUnknown;
}

}  // namespace

CpuInfo parse_cpuinfo(const std::string& text) {
  CpuInfo info;
  std::set<std::pair<std::string, std::string>> cores;
  std::set<std::string> sockets;
  std::string physical_id;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "processor") {
      ++info.logical_cpus;
      physical_id.clear();
    } else if (key == "model name" && info.model == kUnknown && !value.empty()) {
      info.model = value;
    } else if (key == "vendor_id" && info.vendor == kUnknown && !value.empty()) {
      info.vendor = value;
    } else if (key == "physical id") {
      physical_id = value;
      sockets.insert(value);
    } else if (key == "core id") {
      cores.insert({physical_id, value});
    }
  }
  info.physical_cores = static_cast<int>(cores.size());
  info.sockets = static_cast<int>(sockets.size());
  return info;
}

std::string parse_os_release_pretty_name(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string v = trim(line.substr(12));
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    return v.empty() ? kUnknown : v;
  }
  return kUnknown;
}

std::optional<std::array<double, 3>> parse_loadavg(const std::string& text) {
  std::istringstream in(text);
  std::array<double, 3> a{};
  if (!(in >> a[0] >> a[1] >> a[2])) return std::nullopt;
  return a;
}

std::optional<long long> parse_meminfo_total_bytes(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::istringstream v(line.substr(9));
    long long kib = 0;
    std::string unit;
    if (v >> kib >> unit && unit == "kB" && kib > 0) return kib * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

bool dmi_names_vm(const std::string& vendor, const std::string& product) {
  const std::string s = lower(vendor + " " + product);
  for (const char* needle : {"qemu", "kvm", "vmware", "virtualbox", "innotek", "xen", "bochs",
                             "parallels", "virtual machine", "amazon ec2", "google compute engine",
                             "openstack", "cloud hypervisor", "firecracker", "bhyve"})
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

std::optional<std::array<double, 3>> sample_loadavg(const SystemPaths& paths) {
  const auto text = read_file(paths.proc + "/loadavg");
  if (!text) return std::nullopt;
  return parse_loadavg(*text);
}

nlohmann::json loadavg_json(const SystemPaths& paths) {
  const auto a = sample_loadavg(paths);
  if (!a) return nullptr;
  return {(*a)[0], (*a)[1], (*a)[2]};
}

nlohmann::json capture_environment(const EnvironmentInputs& in) {
  const SystemPaths& p = in.paths;
  nlohmann::json j;
  j["schema"] = "tierbench.env/1";
  j["captured_at"] = utc_now_iso();

  // CPU: /proc/cpuinfo first, cpuid as the fallback for the model and vendor.
  CpuInfo ci = parse_cpuinfo(read_file(p.proc + "/cpuinfo").value_or(""));
  const CpuFeatures& f = cpu_features();
  if (ci.model == kUnknown && !f.brand.empty()) ci.model = f.brand;
  if (ci.vendor == kUnknown && !f.vendor.empty()) ci.vendor = f.vendor;
  cpu_set_t set;
  CPU_ZERO(&set);
  const nlohmann::json affinity =
      sched_getaffinity(0, sizeof set, &set) == 0 ? nlohmann::json(CPU_COUNT(&set)) : nullptr;
  const std::string cpufreq = p.sys + "/devices/system/cpu/cpu0/cpufreq/";
  const std::string smt = read_line(p.sys + "/devices/system/cpu/smt/active");
  j["cpu"] = {
      {"model", ci.model},
      {"vendor", ci.vendor},
      {"logical_cpus", ci.logical_cpus > 0 ? nlohmann::json(ci.logical_cpus) : nullptr},
      {"physical_cores", ci.physical_cores > 0 ? nlohmann::json(ci.physical_cores) : nullptr},
      {"sockets", ci.sockets > 0 ? nlohmann::json(ci.sockets) : nullptr},
      {"affinity_cpus", affinity},
      {"smt", smt == "1"   ? "on"
              : smt == "0" ? "off"
                           : kUnknown},
      {"governor", read_line(cpufreq + "scaling_governor")},
      {"freq_cur_mhz", khz_as_mhz(cpufreq + "scaling_cur_freq")},
      {"freq_max_mhz", khz_as_mhz(cpufreq + "cpuinfo_max_freq")},
      {"boost", boost_state(p)}};

  const auto mem = parse_meminfo_total_bytes(read_file(p.proc + "/meminfo").value_or(""));
  j["memory"] = {{"total_bytes", mem ? nlohmann::json(*mem) : nullptr}};

  // Virtualisation: the cpuid hypervisor bit, DMI strings (model names only; never the serial
  // or UUID files) and /sys/hypervisor.
  const std::string dmi_vendor = read_line(p.sys + "/class/dmi/id/sys_vendor");
  const std::string dmi_product = read_line(p.sys + "/class/dmi/id/product_name");
  const std::string hv_type = read_line(p.sys + "/hypervisor/type");
  j["virtualization"] = {
      {"is_vm", f.hypervisor || dmi_names_vm(dmi_vendor, dmi_product) || hv_type != kUnknown},
      {"hypervisor_bit", f.hypervisor},
      {"dmi_vendor", dmi_vendor},
      {"dmi_product", dmi_product},
      {"hypervisor_type", hv_type}};

  // OS: uname without the nodename (that is the hostname).
  utsname u{};
  const bool have_uname = uname(&u) == 0;
  j["os"] = {
      {"kernel", have_uname ? u.sysname : kUnknown},
      {"kernel_release", have_uname ? u.release : kUnknown},
      {"kernel_version", have_uname ? u.version : kUnknown},
      {"machine", have_uname ? u.machine : kUnknown},
      {"pretty_name", parse_os_release_pretty_name(read_file(p.etc + "/os-release").value_or(""))}};

  j["compiler"] = {{"id", compiler_id()},
#ifdef __VERSION__
                   {"version", __VERSION__},
#else
                   {"version", kUnknown},
#endif
                   {"flags", in.compiler_flags},
                   {"build_type", in.build_type.empty() ? kUnknown : in.build_type}};
  j["git"] = {{"commit", in.git_commit.empty() ? kUnknown : in.git_commit},
              {"dirty", in.git_dirty ? nlohmann::json(*in.git_dirty) : nullptr}};

  nlohmann::json threads = {{"hardware_concurrency", std::thread::hardware_concurrency()}};
  for (const char* var :
       {"OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OMP_DYNAMIC", "OMP_WAIT_POLICY",
        "GOMP_CPU_AFFINITY", "GOMP_SPINCOUNT", "KMP_AFFINITY", "KMP_BLOCKTIME", "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
        "ONEDNN_CPU_ISA_HINTS", "POCL_MAX_PTHREAD_COUNT", "POCL_CPU_MAX_CU_COUNT",
        "LP_NUM_THREADS"}) {
    const char* v = std::getenv(var);
    threads[var] = v ? nlohmann::json(v) : nullptr;
  }
  j["threads"] = threads;
  // Every TB_* switch and every library or driver variable that changes what runs (switches.h):
  // part of the repro line, and what `compare` checks between two runs.
  j["switches"] = capture_switches();
  j["loadavg_start"] = loadavg_json(p);
  j["libraries"] = in.libraries.is_object() ? in.libraries : nlohmann::json::object();
  return j;
}

}  // namespace tb::env

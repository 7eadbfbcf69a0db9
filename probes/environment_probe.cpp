// Environment section: what may make figures unrepresentative — frequency governor, boost,
// virtualisation, load at probe time, memory pressure, cgroup CPU quota, transparent huge pages.
#include <sys/utsname.h>
#include <unistd.h>

#include <cpuid.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "cpu_features.h"
#include "probe_sections.h"

namespace tb::probe {

long long meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream ss(line.substr(key.size() + 1));
      long long kib = -1;
      ss >> kib;
      return kib < 0 ? -1 : kib * 1024;
    }
  }
  return -1;
}

namespace {

// First line of a small sysfs/procfs file, trimmed; "" when absent or unreadable.
std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  if (!in || !std::getline(in, s)) return "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

void warn(nlohmann::json* w, const std::string& code, const std::string& msg) {
  if (w) w->push_back({{"code", code}, {"message", msg}});
}

std::string hypervisor_vendor() {
  if (!cpu_features().hypervisor) return "";
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid(0x40000000u, a, b, c, d);
  char v[13] = {};
  std::memcpy(v, &b, 4);
  std::memcpy(v + 4, &c, 4);
  std::memcpy(v + 8, &d, 4);
  std::string s = v;
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace

nlohmann::json probe_environment(const Topology& topo, nlohmann::json* warnings) {
  nlohmann::json env;
  utsname u{};
  if (uname(&u) == 0) {
    env["kernel"] = std::string(u.sysname) + " " + u.release;
    env["hostname"] = u.nodename;
  }

  // Frequency governor of every CPU; absent cpufreq (typical in VMs) => unknown.
  std::set<std::string> governors;
  for (int cpu = 0; cpu < std::max(topo.threads, 1); ++cpu) {
    const std::string g = read_line("/sys/devices/system/cpu/cpu" + std::to_string(cpu) +
                                    "/cpufreq/scaling_governor");
    if (!g.empty()) governors.insert(g);
  }
  std::string governor = governors.empty()       ? "unknown"
                         : governors.size() == 1 ? *governors.begin()
                                                 : "mixed";
  env["governor"] = governor;
  if (governor == "unknown") {
    warn(warnings, "governor_unknown",
         "CPU frequency governor unknown (no cpufreq in sysfs): clock may vary with load");
  } else if (governor != "performance") {
    warn(warnings, "governor_not_performance",
         "CPU frequency governor is '" + governor + "', not 'performance'");
  }

  // Boost / turbo.
  std::string boost = "unknown";
  const std::string cpufreq_boost = read_line("/sys/devices/system/cpu/cpufreq/boost");
  const std::string no_turbo = read_line("/sys/devices/system/cpu/intel_pstate/no_turbo");
  if (!cpufreq_boost.empty()) {
    boost = cpufreq_boost == "1" ? "enabled" : "disabled";
  } else if (!no_turbo.empty()) {
    boost = no_turbo == "0" ? "enabled" : "disabled";
  }
  env["boost"] = boost;
  if (boost == "enabled") {
    warn(warnings, "boost_enabled",
         "turbo/boost is enabled: peaks depend on temperature and on how many cores are busy");
  }

  // Virtualisation: cpuid hypervisor bit, hypervisor vendor leaf, DMI.
  const std::string hv = hypervisor_vendor();
  const std::string dmi_vendor = read_line("/sys/class/dmi/id/sys_vendor");
  const std::string dmi_product = read_line("/sys/class/dmi/id/product_name");
  const bool dmi_vm = dmi_product.find("KVM") != std::string::npos ||
                      dmi_product.find("Virtual") != std::string::npos ||
                      dmi_vendor.find("QEMU") != std::string::npos ||
                      dmi_vendor.find("VMware") != std::string::npos ||
                      dmi_vendor.find("Xen") != std::string::npos ||
                      dmi_product.find("HVM") != std::string::npos ||
                      dmi_vendor.find("Amazon EC2") != std::string::npos ||
                      dmi_vendor.find("Google") != std::string::npos;
  env["virtualized"] = cpu_features().hypervisor || dmi_vm;
  env["hypervisor_vendor"] = hv;
  env["dmi_sys_vendor"] = dmi_vendor.empty() ? "unknown" : dmi_vendor;
  env["dmi_product_name"] = dmi_product.empty() ? "unknown" : dmi_product;
  if (env["virtualized"].get<bool>()) {
    warn(warnings, "virtualized",
         "running in a virtual machine" + (hv.empty() ? std::string() : " (" + hv + ")") +
             ": vCPUs may share physical cores, caches and memory bandwidth with other guests");
  }

  // Load at probe time.
  double load1 = -1, load5 = -1, load15 = -1;
  {
    std::istringstream ss(read_line("/proc/loadavg"));
    ss >> load1 >> load5 >> load15;
  }
  env["loadavg"] = {load1, load5, load15};
  long long procs_running = -1;
  {
    std::ifstream in("/proc/stat");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("procs_running ", 0) == 0) procs_running = std::stoll(line.substr(14));
    }
  }
  // procs_running counts this probe's own thread.
  env["procs_running"] = procs_running;
  const int cpus = std::max(topo.threads, 1);
  if (load1 > 0.25 * cpus) {
    std::ostringstream m;
    m << "1-minute load average " << load1 << " on " << cpus
      << " CPUs: other work competes with the probe";
    warn(warnings, "high_load", m.str());
  }
  if (procs_running > 1) {
    warn(warnings, "other_runnable",
         std::to_string(procs_running - 1) + " other runnable task(s) at probe time");
  }

  // Memory.
  const long long total = meminfo_bytes("MemTotal"), avail = meminfo_bytes("MemAvailable");
  env["mem_total_bytes"] = total;
  env["mem_available_bytes"] = avail;
  if (total > 0 && avail >= 0 && avail < total / 10) {
    warn(warnings, "low_memory", "less than 10% of memory available");
  }

  // Transparent huge pages.
  const std::string thp = read_line("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string thp_mode = "unknown";
  if (const auto l = thp.find('['), r = thp.find(']');
      l != std::string::npos && r != std::string::npos && r > l) {
    thp_mode = thp.substr(l + 1, r - l - 1);
  }
  env["transparent_hugepages"] = thp_mode;

  // cgroup v2 CPU quota ("max 100000" or "200000 100000").
  const std::string cpu_max = read_line("/sys/fs/cgroup/cpu.max");
  nlohmann::json quota = nullptr;
  if (!cpu_max.empty() && cpu_max.rfind("max", 0) != 0) {
    std::istringstream ss(cpu_max);
    double q = 0, period = 0;
    if (ss >> q >> period && period > 0) quota = q / period;
  }
  env["cgroup_cpu_quota_cores"] = quota;
  if (quota.is_number() && quota.get<double>() < static_cast<double>(topo.core_cpus.size())) {
    warn(warnings, "cpu_quota",
         "cgroup CPU quota (" + std::to_string(quota.get<double>()) +
             " cores) is below the usable cores: all-thread figures are throttled");
  }
  if (topo.threads > 0 && static_cast<int>(topo.core_cpus.size()) < topo.cores) {
    warn(warnings, "affinity_restricted",
         "process affinity allows " + std::to_string(topo.core_cpus.size()) + " of " +
             std::to_string(topo.cores) + " cores");
  }
  return env;
}

}  // namespace tb::probe

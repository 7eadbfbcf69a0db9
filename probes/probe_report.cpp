// run_probe: runs the sections in a fixed order (environment first, so that the load it reports
// is the load before the probe added its own) and assembles the report.
#include "probe_report.h"

#include <ctime>
#include <exception>
#include <sstream>

#include "accel_probe.h"
#include "measure.h"
#include "probe_sections.h"

namespace tb {

namespace {

void warn(nlohmann::json& w, const std::string& code, const std::string& msg) {
  w.push_back({{"code", code}, {"message", msg}});
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// An accelerator probe must not take the whole report down: anything it throws becomes an
// "unavailable" entry.
template <class F>
nlohmann::json guarded(const char* api, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return {{"api", api},
            {"available", false},
            {"reason", std::string("probe threw: ") + e.what()},
            {"devices", nlohmann::json::array()}};
  }
}

}  // namespace

bool set_probe_sections(ProbeOptions& opts, const std::string& list, std::string* error) {
  ProbeOptions o = opts;
  o.compute = o.memory = o.storage = o.accelerators = false;
  std::istringstream ss(list);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (name == "all") {
      o.compute = o.memory = o.storage = o.accelerators = true;
    } else if (name == "compute") {
      o.compute = true;
    } else if (name == "memory") {
      o.memory = true;
    } else if (name == "storage") {
      o.storage = true;
    } else if (name == "accelerators") {
      o.accelerators = true;
    } else if (name != "cpu" && name != "environment" && !name.empty()) {
      if (error) {
        *error = "unknown probe section '" + name +
                 "' (known: cpu, compute, memory, storage, accelerators, environment, all)";
      }
      return false;
    }
  }
  opts = o;
  return true;
}

nlohmann::json run_probe(const ProbeOptions& opts) {
  const double t0 = probe::now_seconds();
  nlohmann::json report;
  report["schema"] = "tierbench.probe";
  report["schema_version"] = kProbeSchemaVersion;
  report["timestamp_utc"] = utc_now();
  nlohmann::json sections = nlohmann::json::array({"cpu", "environment"});
  if (opts.compute) sections.push_back("compute");
  if (opts.memory) sections.push_back("memory");
  if (opts.storage) sections.push_back("storage");
  if (opts.accelerators) sections.push_back("accelerators");
  report["options"] = {{"mode", opts.quick ? "quick" : "full"}, {"sections", sections},
                       {"pin_threads", opts.pin_threads},       {"threads", opts.threads},
                       {"storage_bytes", opts.storage_bytes},   {"storage_dir", opts.storage_dir}};

  nlohmann::json warnings = nlohmann::json::array();
  const probe::Topology topo = probe::detect_topology();
  if (!topo.ok) warn(warnings, "topology_unknown", "hwloc failed: " + topo.error);
  report["environment"] = probe::probe_environment(topo, &warnings);
  report["cpu"] = probe::probe_cpu(topo);

  probe::SectionOptions so;
  so.quick = opts.quick;
  so.pin = opts.pin_threads;
  so.threads = opts.threads;
  double clock_ghz = 0;
  if (opts.compute) {
    report["compute"] = probe::probe_compute(so, topo);
    const auto& c = report["compute"]["clock_ghz"]["scalar"];
    if (c.value("supported", false)) clock_ghz = c["single_thread"]["median"].get<double>();
    if (so.pin && !report["compute"].value("pinned", false)) {
      warn(warnings, "pinning_failed", "threads could not be pinned to distinct cores");
    }
  }
  if (opts.memory) {
    report["memory"] = probe::probe_memory(so, topo, clock_ghz);
    for (const auto& m : report["memory"].value("cache_implausible", nlohmann::json::array()))
      warn(warnings, "cache_size_implausible", m.get<std::string>());
    for (const auto& m : report["memory"].value("bounded", nlohmann::json::array()))
      warn(warnings, "memory_probe_bounded", m.get<std::string>());
  }
  if (opts.storage) {
    probe::StorageOptions st;
    st.quick = opts.quick;
    st.file_bytes = opts.storage_bytes;
    st.dir = opts.storage_dir;
    nlohmann::json s = probe::probe_storage(st);
    if (s.value("available", false)) {
      if (s["filesystem"] == "tmpfs" || s["filesystem"] == "ramfs") {
        warn(warnings, "storage_in_memory",
             "storage dir " + s["dir"].get<std::string>() + " is in memory (" +
                 s["filesystem"].get<std::string>() + "): read figures are memory copies");
      }
      if (!s["cold_eviction_verified"].get<bool>()) {
        warn(warnings, "storage_cold_unverified",
             "page-cache eviction of the storage test file could not be verified: cold reads "
             "may be partly warm");
      }
    } else {
      warn(warnings, "storage_unavailable", s.value("reason", std::string("unknown")));
    }
    report["storage"] = s;
  }
  if (opts.accelerators) {
    AccelProbeOptions ao;
    ao.quick = opts.quick;
    report["accelerators"] = {{"opencl", guarded("opencl", [&] { return probe_opencl(ao); })},
                              {"vulkan", guarded("vulkan", [&] { return probe_vulkan(ao); })}};
  }
  report["warnings"] = warnings;
  report["duration_s"] = probe::now_seconds() - t0;
  return report;
}

}  // namespace tb

// format_probe_table: the report as fixed-width text, one block per section. Reads only the
// JSON, so that it renders a stored report as well as a fresh one.
#include <cstdio>
#include <sstream>
#include <string>

#include "probe_table.h"

namespace tb {

namespace {

using nlohmann::json;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

std::string pad(const std::string& s, std::size_t w) {
  return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' ');
}

std::string bytes_str(double b) {
  if (b >= 1024.0 * 1024 * 1024) return fmt("%.1f GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt("%.1f MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt("%.0f KiB", b / 1024.0);
  return fmt("%.0f B", b);
}

// "median [min-max] xN" of a figure object; "-" when absent.
std::string fig(const json& f, const char* num = "%.1f") {
  if (!f.is_object() || !f.contains("median")) return "-";
  return fmt(num, f["median"].get<double>()) + " [" + fmt(num, f["min"].get<double>()) + "-" +
         fmt(num, f["max"].get<double>()) + "] x" + std::to_string(f["trials"].get<int>());
}

std::string str(const json& j, const char* key, const std::string& dflt = "-") {
  if (!j.is_object() || !j.contains(key)) return dflt;
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return dflt;
  return v.dump();
}

void cpu_block(std::ostringstream& o, const json& cpu) {
  o << "CPU\n";
  o << "  " << str(cpu, "brand") << "  (" << str(cpu, "vendor") << " family " << str(cpu, "family")
    << " model " << str(cpu, "model") << " stepping " << str(cpu, "stepping") << ")\n";
  if (cpu.contains("topology")) {
    const json& t = cpu["topology"];
    o << "  packages " << str(t, "packages") << ", cores " << str(t, "cores") << ", threads "
      << str(t, "threads") << ", NUMA nodes " << str(t, "numa_nodes") << "\n";
    const json caches = t.value("caches", json::array());
    for (const auto& c : caches) {
      o << "  L" << c["level"].get<int>() << " " << pad(c["type"].get<std::string>(), 12)
        << pad(bytes_str(c["size_bytes"].get<double>()), 10) << "x" << c["instances"].get<int>()
        << "  (shared by " << c["cores_sharing"].get<int>() << " core(s))\n";
    }
  }
  if (cpu.contains("isa")) {
    std::string yes, no;
    for (const auto& [k, v] : cpu["isa"].items()) (v.get<bool>() ? yes : no) += k + " ";
    o << "  ISA yes: " << yes << "\n  ISA no:  " << no << "\n";
  }
}

void compute_block(std::ostringstream& o, const json& c) {
  o << "\nCompute (" << str(c, "threads") << " threads, pinned " << str(c, "pinned") << ")\n";
  o << "  " << pad("figure", 20) << pad("1 thread: median [min-max] xN", 34) << "all threads\n";
  const json clocks = c.value("clock_ghz", json::object());
  for (const auto& [name, v] : clocks.items()) {
    if (!v.value("supported", false)) continue;
    o << "  " << pad("clock GHz " + name, 20) << pad(fig(v["single_thread"], "%.2f"), 34)
      << fig(v["all_threads"], "%.2f") << "\n";
  }
  const json peaks = c.value("peaks", json::object());
  for (const auto& [name, v] : peaks.items()) {
    if (!v.value("supported", false)) {
      o << "  " << pad(name, 20) << "not supported (" << str(v, "reason") << ")\n";
      continue;
    }
    o << "  " << pad(name + " " + v["unit"].get<std::string>(), 20)
      << pad(fig(v["single_thread"], "%.0f"), 34) << fig(v["all_threads"], "%.0f") << "\n";
  }
  if (c.contains("theoretical")) {
    const json& t = c["theoretical"];
    o << "  f32 theoretical (all threads) "
      << fmt("%.0f", t["f32_gflops_all_threads"].get<double>()) << " GFLOP/s; measured "
      << fmt("%.0f%%", 100 * t["measured_fraction_all_threads"].get<double>())
      << "; FMA/cycle/core " << fmt("%.2f", t["measured_fma_per_cycle"].get<double>()) << "\n";
  }
}

void memory_block(std::ostringstream& o, const json& m) {
  o << "\nMemory (arrays " << bytes_str(m.value("array_bytes", 0.0)) << ", " << str(m, "isa")
    << ")\n";
  if (m.contains("bandwidth") && !m["bandwidth"].contains("error")) {
    o << "  " << pad("GB/s", 20) << pad("1 thread", 34) << "all threads\n";
    for (const auto& [name, v] : m["bandwidth"].items()) {
      o << "  " << pad(name, 20) << pad(fig(v["single_thread"]), 34) << fig(v["all_threads"])
        << "\n";
    }
  } else if (m.contains("bandwidth")) {
    o << "  bandwidth: " << str(m["bandwidth"], "error") << "\n";
  }
  const json latency = m.value("latency", json::array());
  for (const auto& l : latency) {
    o << "  latency " << pad(l["level"].get<std::string>(), 5)
      << pad(bytes_str(l["working_set_bytes"].get<double>()), 10) << fig(l["ns"], "%.2f") << " ns";
    if (l.contains("cycles")) o << "  (" << fmt("%.1f", l["cycles"].get<double>()) << " cycles)";
    o << "\n";
  }
}

void storage_block(std::ostringstream& o, const json& s) {
  o << "\nStorage\n";
  if (!s.value("available", false)) {
    o << "  unavailable: " << str(s, "reason") << "\n";
    return;
  }
  o << "  " << str(s, "dir") << " (" << str(s, "filesystem") << "), file "
    << bytes_str(s["file_bytes"].get<double>()) << "\n";
  o << "  write+fsync GB/s " << fig(s["write_fsync"], "%.2f") << "\n";
  o << "  cold read GB/s   " << fig(s["cold_read"], "%.2f") << "  (eviction verified "
    << str(s, "cold_eviction_verified") << ")\n";
  o << "  warm read GB/s   " << fig(s["warm_read"], "%.2f") << "\n";
}

void accel_block(std::ostringstream& o, const json& a) {
  o << "\nAccelerators\n";
  for (const auto& [api, v] : a.items()) {
    if (!v.value("available", false)) {
      o << "  " << pad(api, 8) << "unavailable: " << str(v, "reason") << "\n";
      continue;
    }
    const json devices = v.value("devices", json::array());
    for (const auto& d : devices) {
      o << "  " << pad(api, 8) << str(d, "name") << " (" << str(d, "type") << ")";
      if (d.contains("measured") && d["measured"].contains("peak_f32_gflops")) {
        o << "  f32 " << fig(d["measured"]["peak_f32_gflops"], "%.1f") << " GFLOP/s";
      }
      if (d.contains("measured") && d["measured"].contains("global_bw_gbps")) {
        o << "  bw " << fig(d["measured"]["global_bw_gbps"], "%.1f") << " GB/s";
      }
      o << "\n";
    }
  }
}

}  // namespace

std::string format_probe_table(const nlohmann::json& r) {
  std::ostringstream o;
  o << "tierbench probe (" << str(r.value("options", json::object()), "mode") << ", "
    << str(r, "timestamp_utc") << ", " << fmt("%.1f s", r.value("duration_s", 0.0)) << ")\n\n";
  if (r.contains("cpu")) cpu_block(o, r["cpu"]);
  if (r.contains("compute")) compute_block(o, r["compute"]);
  if (r.contains("memory")) memory_block(o, r["memory"]);
  if (r.contains("storage")) storage_block(o, r["storage"]);
  if (r.contains("accelerators")) accel_block(o, r["accelerators"]);
  if (r.contains("environment")) {
    const json& e = r["environment"];
    o << "\nEnvironment\n  governor " << str(e, "governor") << ", boost " << str(e, "boost")
      << ", virtualized " << str(e, "virtualized") << " " << str(e, "hypervisor_vendor", "")
      << ", loadavg " << str(e, "loadavg") << "\n";
  }
  const json w = r.value("warnings", json::array());
  if (!w.empty()) {
    o << "\nWarnings\n";
    for (const auto& x : w) o << "  [" << str(x, "code") << "] " << str(x, "message") << "\n";
  }
  return o.str();
}

}  // namespace tb

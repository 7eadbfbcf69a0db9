// The listings of `tierbench list` as text (format_* in list_tables.h).
#include "list_tables.h"

#include <fmt/format.h>

namespace tb::reports {

using nlohmann::json;

std::string format_backend_list(const json& backends) {
  std::string out;
  for (const auto& b : backends) {
    if (!b["available"].get<bool>()) {
      out += fmt::format("{:<10} unavailable: {}\n", b["name"].get<std::string>(),
                         b["reason"].get<std::string>());
      continue;
    }
    out += fmt::format("{:<10} available   {}\n", b["name"].get<std::string>(),
                       b["version"].get<std::string>());
    for (const auto& d : b["devices"])
      out += fmt::format(
          "  [{}] {} ({}, {} compute units{})\n", d["index"].get<int>(),
          d["name"].get<std::string>(), d["type"].get<std::string>(),
          d["compute_units"].get<std::int64_t>(),
          d["global_memory_bytes"].get<std::uint64_t>() > 0
              ? fmt::format(", {:.1f} GiB", d["global_memory_bytes"].get<double>() / (1 << 30))
              : "");
  }
  return out;
}

std::string format_workload_list(const json& workloads) {
  std::string out;
  out += fmt::format("{:<30} {:>10} {:>10} {:>11} {:>11} {:>7}\n", "workload", "GMACs", "params M",
                     "weights MB", "peak act MB", "layers");
  for (const auto& j : workloads) {
    if (j.contains("error")) {
      out += fmt::format("{:<30} error: {}\n", j["workload"].get<std::string>(),
                         j["error"].get<std::string>());
      continue;
    }
    out += fmt::format("{:<30} {:>10.3f} {:>10.2f} {:>11.2f} {:>11.2f} {:>7}{}\n",
                       j["workload"].get<std::string>(), j["macs"].get<double>() / 1e9,
                       j["params"].get<double>() / 1e6, j["weight_bytes"].get<double>() / 1e6,
                       j["peak_activation_bytes"].get<double>() / 1e6, j["layers"].get<int>(),
                       j["full_suite_only"].get<bool>() ? "  (full suite only)" : "");
  }
  return out;
}

std::string format_suite_list(const json& suites) {
  std::string out;
  for (const auto& x : suites) {
    out += fmt::format("{} ({}): {}\n", x["name"].get<std::string>(), x["kind"].get<std::string>(),
                       x["description"].get<std::string>());
    for (const auto& i : x["items"]) out += fmt::format("  {}\n", i.get<std::string>());
  }
  return out;
}

}  // namespace tb::reports

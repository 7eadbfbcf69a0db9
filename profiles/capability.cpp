#include <cmath>
#include <map>

#include <fmt/core.h>

#include "profiles.h"

namespace tb::profiles {

std::string pow2_bucket(double value, const std::string& unit) {
  if (!std::isfinite(value) || value < 0) return "unknown";
  if (value == 0) return "0 " + unit;
  const double lo = std::exp2(std::floor(std::log2(value)));
  const auto num = [](double v) {
    return v >= 1 ? fmt::format("{:.0f}", v) : fmt::format("{:g}", v);
  };
  return num(lo) + "-" + num(lo * 2) + " " + unit;
}

namespace {

// The best trial of a probe figure ({"single_thread": {...}, "all_threads": {...}}).
double best(const nlohmann::json& fig) {
  double m = 0;
  for (const char* k : {"all_threads", "single_thread"})
    if (fig.contains(k) && fig[k].contains("max") && fig[k]["max"].is_number())
      m = std::max(m, fig[k]["max"].get<double>());
  return m;
}

}  // namespace

Result<nlohmann::json> capability_profile(Store& store) {
  auto probe = store.latest_result("probe");
  if (!probe) return probe.error();
  if (!probe->has_value()) return make_error("no probe in the store: run 'tierbench probe' first");
  const nlohmann::json& p = (*probe)->metrics;

  nlohmann::json out = {{"schema", "tierbench.profile/1"}};
  if (p.contains("compute") && p["compute"].contains("peaks")) {
    const auto& peaks = p["compute"]["peaks"];
    const auto bucket = [&](const char* key, const char* unit) -> nlohmann::json {
      if (!peaks.contains(key) || !peaks[key].value("supported", false)) return nullptr;
      return pow2_bucket(best(peaks[key]), unit);
    };
    out["compute"] = {{"f32_gflops", bucket("f32_fma_zmm", "GFLOP/s")},
                      {"bf16_gflops", bucket("bf16_dpbf16_zmm", "GFLOP/s")},
                      {"int8_gops", bucket("s8_dpbusd_zmm", "GOP/s")}};
    if (out["compute"]["f32_gflops"].is_null())
      out["compute"]["f32_gflops"] = bucket("f32_fma_ymm", "GFLOP/s");
  }
  if (p.contains("memory") && p["memory"].contains("bandwidth") &&
      p["memory"]["bandwidth"].contains("copy_nt"))
    out["memory"] = {
        {"bandwidth_gbps", pow2_bucket(best(p["memory"]["bandwidth"]["copy_nt"]), "GB/s")}};
  if (p.contains("storage") && p["storage"].contains("cold_read"))
    out["storage"] = {
        {"cold_read_gbps", pow2_bucket(p["storage"]["cold_read"].value("median", -1.0), "GB/s")}};
  bool gpu = false;
  nlohmann::json acc = nlohmann::json::object();
  if (p.contains("accelerators"))
    for (const auto& [api, a] : p["accelerators"].items()) {
      const auto devices = a.value("devices", nlohmann::json::array());
      acc[api] = devices.size();
      for (const auto& d : devices)
        gpu = gpu || d.value("type", "").find("gpu") != std::string::npos;
    }
  acc["gpu"] = gpu;
  out["accelerators"] = acc;

  // Model tiers from the latest run that has any: does it run here, and how fast (bucketed).
  nlohmann::json tiers = nlohmann::json::object();
  auto runs = store.runs(50);
  if (runs) {
    for (const auto& run : runs.value()) {
      auto results = store.results(run.id);
      if (!results) continue;
      std::map<std::string, std::pair<double, double>> best_p50;  // tier -> (p50, load)
      for (const auto& r : results.value()) {
        if (r.kind != "workload") continue;
        auto& t = tiers[r.name];
        if (!t.contains("runs")) t["runs"] = false;
        if (r.status != "passed" || !r.median_s) continue;
        const double load = r.metrics.contains("load")
                                ? r.metrics["load"].value("upload_s", 0.0) +
                                      r.metrics["load"].value("prepare_first_s", 0.0)
                                : 0.0;
        auto it = best_p50.find(r.name);
        if (it == best_p50.end() || *r.median_s < it->second.first) {
          best_p50[r.name] = {*r.median_s, load};
          t["runs"] = true;
          t["best_backend_kind"] = r.backend == "opencl" || r.backend == "vulkan"
                                       ? (gpu ? "gpu" : "cpu-emulated-gpu-api")
                                       : "cpu";
          t["p50"] = pow2_bucket(*r.median_s * 1e3, "ms");
          t["load"] = pow2_bucket(load * 1e3, "ms");
        }
      }
      if (!tiers.empty()) break;
    }
  }
  out["tiers"] = tiers;
  return out;
}

}  // namespace tb::profiles

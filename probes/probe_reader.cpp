#include "probe_reader.h"

namespace tb {

namespace {
using nlohmann::json;

std::optional<double> max_of(const json& fig) {
  if (fig.is_object() && fig.contains("max") && fig["max"].is_number())
    return fig["max"].get<double>();
  return std::nullopt;
}

// The number at `pointer` (e.g. "/storage/cold_read/median"); nullopt when absent or not a number.
std::optional<double> number_at(const json& r, const char* pointer) {
  const json::json_pointer ptr(pointer);
  if (!r.is_object() || !r.contains(ptr)) return std::nullopt;
  const json& v = r.at(ptr);
  return v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt;
}
}  // namespace

std::span<const char* const> peak_keys(PeakClass c) {
  static const char* const f32[] = {"f32_fma_zmm", "f32_fma_ymm"};
  static const char* const bf16[] = {"bf16_dpbf16_zmm"};
  static const char* const int8[] = {"s8_dpbusd_zmm", "s8_dpbusd_ymm"};
  switch (c) {
    case PeakClass::f32:
      return f32;
    case PeakClass::bf16:
      return bf16;
    case PeakClass::int8:
      return int8;
  }
  return {};
}

std::optional<PeakFigure> ProbeReader::peak(std::string_view key) const {
  if (!r_.is_object() || !r_.contains("compute") || !r_["compute"].is_object() ||
      !r_["compute"].contains("peaks") || !r_["compute"]["peaks"].is_object())
    return std::nullopt;
  const json& peaks = r_["compute"]["peaks"];
  const std::string k(key);
  if (!peaks.contains(k) || !peaks[k].is_object()) return std::nullopt;
  const json& p = peaks[k];
  PeakFigure f;
  f.key = k;
  f.supported =
      p.contains("supported") && p["supported"].is_boolean() && p["supported"].get<bool>();
  if (p.contains("all_threads")) f.all_threads_max = max_of(p["all_threads"]);
  if (p.contains("single_thread")) f.single_thread_max = max_of(p["single_thread"]);
  if (p.contains("method") && p["method"].is_object() && p["method"].contains("all_threads") &&
      p["method"]["all_threads"].is_string())
    f.all_threads_method = p["method"]["all_threads"].get<std::string>();
  return f;
}

std::vector<AcceleratorDevice> ProbeReader::accelerator_devices(std::string_view api) const {
  std::vector<AcceleratorDevice> out;
  if (!r_.is_object() || !r_.contains("accelerators") || !r_["accelerators"].is_object())
    return out;
  for (const auto& [name, a] : r_["accelerators"].items()) {
    if (!api.empty() && name != api) continue;
    if (!a.is_object() || !a.contains("devices") || !a["devices"].is_array()) continue;
    for (const auto& d : a["devices"]) {
      if (!d.is_object()) continue;
      AcceleratorDevice dev;
      dev.api = name;
      if (d.contains("name") && d["name"].is_string()) dev.name = d["name"].get<std::string>();
      if (d.contains("type") && d["type"].is_string()) dev.type = d["type"].get<std::string>();
      if (d.contains("measured") && d["measured"].is_object()) {
        const json& m = d["measured"];
        if (m.contains("peak_f32_gflops")) dev.peak_f32_gflops_max = max_of(m["peak_f32_gflops"]);
        if (m.contains("global_bw_gbps")) dev.global_bw_gbps_max = max_of(m["global_bw_gbps"]);
      }
      out.push_back(std::move(dev));
    }
  }
  return out;
}

std::optional<double> ProbeReader::memory_read_bandwidth_max() const {
  return number_at(r_, "/memory/bandwidth/read/all_threads/max");
}

std::optional<double> ProbeReader::storage_cold_read_median() const {
  return number_at(r_, "/storage/cold_read/median");
}

std::optional<double> ProbeReader::mem_total_bytes() const {
  return number_at(r_, "/environment/mem_total_bytes");
}

std::string ProbeReader::cpu_brand() const {
  if (!r_.is_object() || !r_.contains("cpu") || !r_["cpu"].is_object()) return {};
  const json& c = r_["cpu"];
  return c.contains("brand") && c["brand"].is_string() ? c["brand"].get<std::string>() : "";
}

}  // namespace tb

// A typed reader of a stored probe report (probe_report.h, schema version 1): the figures later
// stages bound their results with, read in one place instead of each caller walking the JSON.
// Absent or malformed fields read as "not measured" (nullopt), never as an exception.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tb {

// One compute.peaks entry.
struct PeakFigure {
  std::string key;  // "f32_fma_zmm"
  bool supported = false;
  std::optional<double> all_threads_max, single_thread_max;
  std::optional<std::string> all_threads_method;  // method.all_threads, when recorded
};

// The CPU peak classes and their compute.peaks keys, widest ISA first.
enum class PeakClass { f32, bf16, int8 };
std::span<const char* const> peak_keys(PeakClass c);

// One device of accelerators.<api>.devices.
struct AcceleratorDevice {
  std::string api, name, type;
  std::optional<double> peak_f32_gflops_max, global_bw_gbps_max;
};

class ProbeReader {
 public:
  explicit ProbeReader(const nlohmann::json& report) : r_(report) {}
  // compute.peaks.<key>; nullopt when the report has no such entry.
  std::optional<PeakFigure> peak(std::string_view key) const;
  // The devices of accelerators.<api>, or of every API when `api` is empty, in report order.
  std::vector<AcceleratorDevice> accelerator_devices(std::string_view api = {}) const;
  // memory.bandwidth.read.all_threads.max, GB/s.
  std::optional<double> memory_read_bandwidth_max() const;
  // storage.cold_read.median, GB/s.
  std::optional<double> storage_cold_read_median() const;
  // environment.mem_total_bytes.
  std::optional<double> mem_total_bytes() const;
  // cpu.brand; empty when absent.
  std::string cpu_brand() const;

 private:
  const nlohmann::json& r_;
};

}  // namespace tb

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "reports.h"
#include "results_io.h"

namespace tb::reports {

std::string format_ms(const std::optional<double>& s) {
  if (!s) return "-";
  const double ms = *s * 1e3;
  if (ms >= 100) return fmt::format("{:.0f}", ms);
  if (ms >= 1) return fmt::format("{:.2f}", ms);
  return fmt::format("{:.4f}", ms);
}

nlohmann::json result_json(const ResultRecord& r) {
  nlohmann::json j = io::result_to_json(r, /*with_samples=*/false);
  j["id"] = r.id;
  return j;
}

void print_results_table(std::ostream& os, const std::vector<ResultRecord>& results) {
  constexpr auto kRow = "{:<32} {:<10} {:<11} {:>10} {:>10} {:>17} {:>9}  {}\n";
  fmt::print(os, kRow, "problem", "backend", "status", "prepare ms", "median ms", "p10..p90 ms",
             "GFLOP/s", "note");
  for (const auto& r : results) {
    const std::string spread =
        r.p10_s && r.p90_s ? format_ms(r.p10_s) + ".." + format_ms(r.p90_s) : "-";
    std::string note = r.message;
    // A tunable kernel's configuration and why it ran (metrics.config, harness/runner.cpp).
    if (r.metrics.contains("config") && r.metrics["config"].is_object())
      note = "config " + r.metrics["config"].value("name", std::string("?")) + " (" +
             r.metrics["config"].value("source", std::string("?")) + ")" +
             (note.empty() ? "" : "; " + note);
    if (note.size() > 72) note = note.substr(0, 69) + "...";
    fmt::print(os, kRow, r.name, r.backend, status_name(r.status), format_ms(r.prepare_s),
               format_ms(r.median_s), spread, r.gflops ? fmt::format("{:.1f}", *r.gflops) : "-",
               note);
  }
  // Which configuration ran each model tier: the graph each backend prepared, and what crossed
  // between host and device per inference.
  bool header = false;
  for (const auto& r : results) {
    if (!r.metrics.contains("execution") || !r.metrics["execution"].is_object()) continue;
    const auto& e = r.metrics["execution"];
    if (!header) fmt::print(os, "\nexecution:\n"), header = true;
    fmt::print(os, "  {} on {}: {}", r.name, r.backend, e.value("config", std::string("?")));
    if (e.contains("host_round_trips_per_inference"))
      fmt::print(os, "; {} host round trips, {} B in, {} B out per inference",
                 e.value("host_round_trips_per_inference", 0),
                 e.value("bytes_to_device_per_inference", std::uint64_t{0}),
                 e.value("bytes_from_device_per_inference", std::uint64_t{0}));
    fmt::print(os, "\n");
  }
}

}  // namespace tb::reports

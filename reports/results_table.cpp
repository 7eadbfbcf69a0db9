#include <algorithm>
#include <map>

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

// A tier's layer profile (run --profile-layers, metrics.layers): the share of each op and the
// slowest layers, as medians over the profiled inferences.
void print_layer_profile(std::ostream& os, const ResultRecord& r) {
  if (!r.metrics.contains("layers") || !r.metrics["layers"].is_object()) return;
  const auto& p = r.metrics["layers"];
  if (p.contains("error")) {
    fmt::print(os, "\nlayers of {} on {}: not profiled: {}\n", r.name, r.backend,
               p["error"].is_string() ? p["error"].get<std::string>() : "?");
    return;
  }
  struct Row {
    std::string name, op;
    double s = 0;
  };
  std::vector<Row> rows;
  for (const auto& x : p.value("rows", nlohmann::json::array()))
    if (x.is_array() && x.size() >= 3 && x[0].is_string() && x[1].is_string() && x[2].is_number())
      rows.push_back({x[0].get<std::string>(), x[1].get<std::string>(), x[2].get<double>()});
  const double sum = p.value("layers_sum_s", 0.0), lat = p.value("latency_median_s", 0.0);
  if (rows.empty() || sum <= 0) return;
  fmt::print(os, "\nlayers of {} on {}: {} timed, sum {} ms of a {} ms inference ({} runs{})\n",
             r.name, r.backend, rows.size(), format_ms(sum), format_ms(lat), p.value("runs", 0),
             p.value("all_timed", true) ? "" : "; some nodes not timed");
  std::map<std::string, std::pair<double, int>> by_op;
  for (const auto& x : rows) by_op[x.op].first += x.s, ++by_op[x.op].second;
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [op, v] : by_op) ops.emplace_back(v.first, op);
  std::sort(ops.rbegin(), ops.rend());
  for (const auto& [t, op] : ops)
    fmt::print(os, "  {:<12} {:>4} layers {:>10} ms {:>5.1f}%\n", op, by_op[op].second,
               format_ms(t), 100 * t / sum);
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.s > b.s; });
  fmt::print(os, "  slowest:\n");
  for (std::size_t i = 0; i < rows.size() && i < 8; ++i)
    fmt::print(os, "  {:<48} {:<12} {:>10} ms {:>5.1f}%\n", rows[i].name, rows[i].op,
               format_ms(rows[i].s), 100 * rows[i].s / sum);
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
  for (const auto& r : results) print_layer_profile(os, r);
}

}  // namespace tb::reports

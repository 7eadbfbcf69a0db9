#include <fmt/format.h>
#include <fmt/ostream.h>

#include "reports.h"

namespace tb::reports {

std::string format_ms(const std::optional<double>& s) {
  if (!s) return "-";
  const double ms = *s * 1e3;
  if (ms >= 100) return fmt::format("{:.0f}", ms);
  if (ms >= 1) return fmt::format("{:.2f}", ms);
  return fmt::format("{:.4f}", ms);
}

nlohmann::json result_json(const ResultRecord& r) {
  const auto opt = [](const std::optional<double>& v) -> nlohmann::json {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"id", r.id},
          {"kind", r.kind},
          {"problem", r.name},
          {"backend", r.backend},
          {"device", r.device},
          {"dtype", r.dtype},
          {"status", r.status},
          {"message", r.message},
          {"prepare_s", opt(r.prepare_s)},
          {"first_s", opt(r.first_s)},
          {"n", r.n},
          {"median_s", opt(r.median_s)},
          {"mean_s", opt(r.mean_s)},
          {"min_s", opt(r.min_s)},
          {"max_s", opt(r.max_s)},
          {"p10_s", opt(r.p10_s)},
          {"p90_s", opt(r.p90_s)},
          {"p99_s", opt(r.p99_s)},
          {"stddev_s", opt(r.stddev_s)},
          {"cv", opt(r.cv)},
          {"ci95_s", {opt(r.ci_lo_s), opt(r.ci_hi_s)}},
          {"gflops", opt(r.gflops)},
          {"gbps", opt(r.gbps)},
          {"max_rel_err", opt(r.max_rel_err)},
          {"timing_source", r.timing_source},
          {"metrics", r.metrics}};
}

void print_results_table(std::ostream& os, const std::vector<ResultRecord>& results) {
  constexpr auto kRow = "{:<32} {:<10} {:<11} {:>10} {:>10} {:>17} {:>9}  {}\n";
  fmt::print(os, kRow, "problem", "backend", "status", "prepare ms", "median ms", "p10..p90 ms",
             "GFLOP/s", "note");
  for (const auto& r : results) {
    const std::string spread =
        r.p10_s && r.p90_s ? format_ms(r.p10_s) + ".." + format_ms(r.p90_s) : "-";
    std::string note = r.message;
    if (note.size() > 72) note = note.substr(0, 69) + "...";
    fmt::print(os, kRow, r.name, r.backend, r.status, format_ms(r.prepare_s), format_ms(r.median_s),
               spread, r.gflops ? fmt::format("{:.1f}", *r.gflops) : "-", note);
  }
}

}  // namespace tb::reports

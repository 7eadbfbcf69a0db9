#include "tune_table.h"

#include <fmt/format.h>

namespace tb::reports {

namespace {

constexpr auto kRow = "{:<7} {:<22} {:<22} {:>8} {:<22} {:>8} {:>7}  {}\n";

std::string gflops(double g) {
  return g > 0 ? fmt::format("{:.1f}", g) : "-";
}

}  // namespace

nlohmann::json winner_json(const TuneWinner& w) {
  return {{"backend", w.key.backend},
          {"device", w.key.device},
          {"driver", w.key.driver},
          {"kernel", w.key.kernel},
          {"shape_class", w.key.shape_class},
          {"config", w.config},
          {"gflops", w.gflops},
          {"default_config", w.default_config},
          {"default_gflops", w.default_gflops},
          {"problem", w.problem},
          {"tune_s", w.tune_s},
          {"tuned_at", w.tuned_at}};
}

std::string tune_table_header() {
  return fmt::format(kRow, "backend", "shape class", "config", "GFLOP/s", "default", "GFLOP/s",
                     "tune s", "");
}

std::string tune_table_row(const TuneWinner& w, const std::string& note) {
  return fmt::format(kRow, w.key.backend, w.key.shape_class, w.config, gflops(w.gflops),
                     w.default_config, gflops(w.default_gflops), fmt::format("{:.1f}", w.tune_s),
                     note);
}

std::string tune_table_untuned_row(const TuneKey& key, const std::string& why) {
  return fmt::format(kRow, key.backend, key.shape_class, "-", "-", "-", "-", "-", why);
}

std::string format_tune_listing(const std::vector<TuneWinner>& winners,
                                const std::string& store_path) {
  if (winners.empty())
    return fmt::format("no tuned winners in {} (run 'tierbench tune')\n", store_path);
  std::string out, device;
  for (const auto& w : winners) {
    const std::string d =
        w.key.backend + " | " + w.key.device + " | " + w.key.driver + " | " + w.key.kernel;
    if (d != device) {
      out += fmt::format("{}{}\n", device.empty() ? "" : "\n", d);
      out += tune_table_header();
      device = d;
    }
    out += tune_table_row(w, "tuned " + w.tuned_at + " on " + w.problem);
  }
  return out;
}

nlohmann::json tune_listing_json(const std::vector<TuneWinner>& winners) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& w : winners) j.push_back(winner_json(w));
  return j;
}

}  // namespace tb::reports

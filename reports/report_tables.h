// The tables of a report, built once from the report document and laid out by both renderers
// (HTML and Markdown), so that the two show the same cells.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tb::reports {

struct Table {
  std::string id;  // the anchor in HTML, the test's handle
  std::vector<std::string> head;
  std::vector<bool> numeric;  // per column: right-aligned
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row_class;  // per row: "", "regression", "improvement", "too_noisy"
};

Table probe_table(const nlohmann::json& device);
Table ceilings_table(const nlohmann::json& device);
Table warnings_table(const nlohmann::json& device);
Table roofline_table(const nlohmann::json& chart, const std::string& id);
Table not_plotted_table(const nlohmann::json& chart, const std::string& id);
Table tiers_table(const nlohmann::json& tiers);
Table load_table(const nlohmann::json& tiers);
Table comparison_table(const nlohmann::json& comparison);
Table predictions_table(const nlohmann::json& predictions);
Table decisions_table(const nlohmann::json& decisions);
Table networks_table(const nlohmann::json& decisions);
Table profile_device_table(const nlohmann::json& shareable);
Table profile_tiers_table(const nlohmann::json& shareable);

// A decision map cell as text: "device int8, 3.1 ms", ", misses" when it misses the objective,
// " *" when the oracle places the request elsewhere; "none".
std::string decision_cell(const nlohmann::json& cell);
// "5g cold", "wifi warm": a decision map column.
std::string decision_column(const nlohmann::json& column);

// "onednn f32": the name of a roofline chart.
std::string roofline_name(const nlohmann::json& chart);
// The latency class of a p50 in ms, by the report's class edges.
std::string latency_class(const nlohmann::json& classes, double ms);
// What a roofline allows at this intensity (the lower of the two ceilings), NaN without one.
double roof_at(const nlohmann::json& chart, double intensity);

}  // namespace tb::reports

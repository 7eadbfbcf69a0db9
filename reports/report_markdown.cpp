// render_markdown: the report as GitHub-flavoured Markdown, small enough for a CI job summary
// (tables only; the charts are in the HTML report, drawn from the same document).
#include <fmt/format.h>

#include "compare_format.h"
#include "report_tables.h"
#include "reports.h"

namespace tb::reports {

namespace {

using nlohmann::json;

std::string cell(const std::string& s) {
  return compare::markdown_escape(s);
}

std::string md_table(const Table& t) {
  if (t.rows.empty()) return "_(none)_\n\n";
  std::string s = "|", rule = "|";
  for (std::size_t c = 0; c < t.head.size(); ++c) {
    s += " " + cell(t.head[c]) + " |";
    rule += c < t.numeric.size() && t.numeric[c] ? " ---: |" : " --- |";
  }
  s += "\n" + rule + "\n";
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const std::string cls = i < t.row_class.size() ? t.row_class[i] : "";
    s += "|";
    for (std::size_t c = 0; c < t.rows[i].size(); ++c) {
      std::string v = cell(t.rows[i][c]);
      // Regressions and improvements stand out in bold; a table cell cannot be coloured.
      if (c == 0 && (cls == "regression" || cls == "improvement")) v = "**" + v + "**";
      s += " " + v + " |";
    }
    s += "\n";
  }
  return s + "\n";
}

std::string device(const json& report) {
  const json& d = report["device"];
  std::string s = "## Device\n\n";
  if (!d["available"].get<bool>())
    s += d["why"].get<std::string>() + "\n\n";
  else
    s += md_table(probe_table(d)) + "### Measured ceilings\n\n" + md_table(ceilings_table(d));
  return s + "### Environment warnings\n\n" + md_table(warnings_table(d));
}

std::string roofline(const json& report) {
  std::string s = "## Roofline per backend and data type\n\n";
  if (report["roofline"].empty()) return s + "This run has no kernel results.\n\n";
  std::size_t i = 0;
  for (const auto& ch : report["roofline"]) {
    const std::string id = fmt::format("roofline-{}", i++);
    s += "### " + roofline_name(ch) + " on " + ch["device"].get<std::string>() + "\n\n";
    const json& p = ch["compute_ceiling"]["value"];
    const json& b = ch["bandwidth_ceiling"]["value"];
    s += "Roof: compute " +
         (p.is_number() ? format_number(p) + " " + ch["compute_unit"].get<std::string>()
                        : std::string("not probed")) +
         ", bandwidth " + (b.is_number() ? format_number(b) + " GB/s" : std::string("not probed")) +
         ".\n\n";
    if (!ch["points"].empty()) s += md_table(roofline_table(ch, id));
    if (!ch["not_plotted"].empty())
      s += "Not timed:\n\n" + md_table(not_plotted_table(ch, id + "-not-plotted"));
  }
  return s;
}

std::string tiers(const json& report) {
  const json& t = report["tiers"];
  if (t["rows"].empty()) return "## Model tiers\n\nThis run has no model tier results.\n\n";
  return "## Model tiers\n\n" + md_table(tiers_table(t)) +
         "## Load costs against the steady state\n\n" + md_table(load_table(t));
}

// The switches the two runs set differently (comparison.switches.lines), one quoted line each.
std::string switch_lines(const json& c) {
  std::string s;
  if (c.contains("switches"))
    for (const auto& l : c["switches"].value("lines", json::array()))
      s += "> " + l.get<std::string>() + "\n";  // as `compare --format markdown` writes them
  return s.empty() ? s : s + "\n";
}

std::string comparison(const json& report) {
  if (!report.contains("comparison")) return "";
  const json& c = report["comparison"];
  std::string counts;
  for (const auto& [k, v] : c["counts"].items())
    if (v.get<int>() > 0) counts += (counts.empty() ? "" : ", ") + v.dump() + " " + k;
  return "## Comparison with run " + c["base_run_id"].dump() + "\n\n**" +
         c["result"].get<std::string>() + "**: " + counts +
         ". Regressions and improvements in bold; ~ marks rows too noisy to tell.\n\n" +
         switch_lines(c) + md_table(comparison_table(c));
}

std::string predictions(const json& report) {
  if (!report.contains("predictions")) return "";
  const json& p = report["predictions"];
  return "## Predicted against measured\n\nThe predictor from the store's calibration \"" +
         p["calibration"].get<std::string>() + "\" (" + p["calibrated_at"].get<std::string>() +
         ").\n\n" + md_table(predictions_table(p));
}

std::string decisions(const json& report) {
  if (!report.contains("decisions")) return "";
  const json& d = report["decisions"];
  const json& rq = d["request"];
  return "## Decision map: run here or offload?\n\nThe decision engine's first placement for a "
         "delay-" +
         rq["delay"].get<std::string>() + " request with a " + format_number(rq["objective_ms"]) +
         " ms objective (cold costs included), per tier and network condition; cold: nothing on "
         "the device, warm: every variant compiled. Figures: " +
         d["figures"].get<std::string>() + " `*`: the oracle places it elsewhere.\n\n" +
         md_table(decisions_table(d)) + md_table(networks_table(d));
}

std::string profile(const json& report) {
  const json& p = report["profile"];
  std::string s = "## Shareable profile\n\n";
  if (!p["available"].get<bool>()) return s + "No profile: " + p["why"].get<std::string>() + "\n\n";
  s += p["statement"].get<std::string>() + "\n\n" + md_table(profile_device_table(p["shareable"])) +
       md_table(profile_tiers_table(p["shareable"]));
  for (const auto& i : p["inconsistencies"]) s += "- " + i.get<std::string>() + "\n";
  return s;
}

}  // namespace

std::string render_markdown(const json& report) {
  const json& run = report["run"];
  std::string s = "# tierbench report: run " + run["id"].dump();
  if (report.contains("base_run")) s += " compared with run " + report["base_run"]["id"].dump();
  s += "\n\nRun " + run["id"].dump() + " (" + run["status"].get<std::string>() + "), " +
       run["started_at"].get<std::string>() + ", commit " + run["git_commit"].get<std::string>() +
       "; rendered from the results store at " + report["generated_at"].get<std::string>() +
       ". The charts are in the HTML report (`tierbench report --format html`).\n\n";
  s += device(report) + roofline(report) + tiers(report) + comparison(report) +
       predictions(report) + decisions(report) + profile(report);
  if (!report["left_out"].empty()) {
    s += "## Left out of this report\n\n";
    for (const auto& l : report["left_out"])
      s += "- " + l["section"].get<std::string>() + ": " + l["why"].get<std::string>() + "\n";
  }
  return s;
}

}  // namespace tb::reports

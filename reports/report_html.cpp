// render_html: one self-contained page. Inline CSS and SVG only: no script, font, image or other
// request, so it reads the same offline, in a CI artifact, and with JavaScript turned off. Every
// chart has a visible title, axes with units, a legend, hover text (SVG <title>) on each mark, and
// a table with the same numbers below it.
#include <cmath>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "compare_format.h"
#include "report_tables.h"
#include "reports.h"
#include "svg.h"

namespace tb::reports {

namespace {

using nlohmann::json;
using svg::Axis;
using svg::Chart;

constexpr const char* kCss = R"(
:root{color-scheme:light}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff}
main{max-width:1240px;margin:0 auto;padding:16px 20px 48px;overflow-wrap:break-word}
h1{font-size:1.6em;margin:.4em 0}h2{margin-top:1.8em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
h3{margin-top:1.3em}nav ul{display:flex;flex-wrap:wrap;gap:.4em 1.2em;padding:0;list-style:none}
.meta{color:#59636e}.note{color:#59636e;font-size:.93em}
figure.chart{margin:1em 0;max-width:900px}
figure.chart svg{width:100%;height:auto;display:block}
figure.chart svg.narrow{display:none;max-width:560px}
figcaption{color:#59636e;font-size:.9em}
.table-wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9em;margin:.6em 0}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.regression td{background:#ffebe9}tr.improvement td{background:#dafbe1}
tr.too_noisy td{color:#6e7781;font-style:italic}
#tiers-table td:nth-child(12){min-width:22em;font-size:.85em}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:.85em}
@media (max-width:700px){
main{padding:8px;overflow-wrap:anywhere}body{font-size:14px}
figure.chart svg.wide{display:none}figure.chart svg.narrow{display:block}
.table-wrap{overflow-x:visible}
.table-wrap table,.table-wrap tbody,.table-wrap tr,.table-wrap td{display:block;width:auto}
.table-wrap thead{display:none}
.table-wrap tr{border:1px solid #d0d7de;margin:.5em 0;padding:2px 0}
.table-wrap td,.table-wrap td.num{border:0;padding:1px 8px;text-align:left;white-space:normal}
.table-wrap td::before{content:attr(data-label);display:inline-block;min-width:9.5em;margin-right:.5em;color:#59636e;font-size:.92em}
#tiers-table td:nth-child(12){min-width:0}
pre{white-space:pre-wrap;overflow-x:visible}
}
)";

std::string e(std::string_view s) {
  return svg::esc(s);
}

std::string html_table(const Table& t) {
  std::string s = fmt::format(R"(<div class="table-wrap"><table id="{}"><thead><tr>)", e(t.id));
  for (const auto& h : t.head) s += "<th>" + e(h) + "</th>";
  s += "</tr></thead><tbody>";
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const std::string cls = i < t.row_class.size() ? t.row_class[i] : "";
    s += cls.empty() ? "<tr>" : "<tr class=\"" + e(cls) + "\">";
    // data-label: the column's name, shown before the cell where a narrow page stacks the rows.
    for (std::size_t c = 0; c < t.rows[i].size(); ++c)
      s += fmt::format(R"(<td{} data-label="{}">)",
                       c < t.numeric.size() && t.numeric[c] ? R"( class="num")" : "",
                       e(c < t.head.size() ? t.head[c] : "")) +
           e(t.rows[i][c]) + "</td>";
    s += "</tr>";
  }
  return s + "</tbody></table></div>\n";
}

double d(const json& j) {
  return j.is_number() ? j.get<double>() : NAN;
}

std::string op_of(const std::string& problem) {
  return problem.substr(0, problem.find(':'));
}

// --- Roofline ---------------------------------------------------------------------------------

Chart roofline_chart(const json& ch, const std::string& id, svg::Layout layout) {
  const double peak = d(ch["compute_ceiling"]["value"]), bw = d(ch["bandwidth_ceiling"]["value"]);
  const std::string unit = ch["compute_unit"];
  std::vector<double> xs, ys;
  for (const auto& p : ch["points"]) xs.push_back(d(p["intensity"])), ys.push_back(d(p["gflops"]));
  if (std::isfinite(peak)) ys.push_back(peak);
  if (std::isfinite(peak) && std::isfinite(bw)) xs.push_back(peak / bw);
  Chart c(layout, id, "Roofline: " + roofline_name(ch) + " on " + ch["device"].get<std::string>(),
          Axis::fit("arithmetic intensity (FLOP/byte, log scale)", xs, true),
          Axis::fit("achieved " + unit + " (log scale)", ys, true));
  c.add(fmt::format(
      R"(<clipPath id="{}-clip"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath>)",
      e(c.id()), svg::px(c.plot_left()), svg::px(c.plot_top()),
      svg::px(c.plot_right() - c.plot_left()), svg::px(c.plot_bottom() - c.plot_top())));
  std::vector<svg::LegendItem> legend;
  if (std::isfinite(peak) || std::isfinite(bw)) {
    std::string pts;
    const double lo = std::log10(xs.empty() ? 0.01 : *std::min_element(xs.begin(), xs.end())) - 2;
    const double hi = std::log10(xs.empty() ? 100 : *std::max_element(xs.begin(), xs.end())) + 2;
    for (int i = 0; i <= 96; ++i) {
      const double x = std::pow(10.0, lo + (hi - lo) * i / 96);
      pts += svg::px(c.x(x)) + "," + svg::px(c.y(roof_at(ch, x))) + " ";
    }
    c.add(fmt::format(
        R"x(<polyline points="{}" fill="none" stroke="#24292f" stroke-width="2" clip-path="url(#{}-clip)"><title>{}</title></polyline>)x",
        pts, e(c.id()), e("roof: min(compute ceiling, bandwidth ceiling x intensity)")));
    std::string label;
    if (std::isfinite(peak)) label += "compute " + format_number(peak) + " " + unit;
    if (std::isfinite(bw))
      label += std::string(label.empty() ? "" : ", ") + "bandwidth " + format_number(bw) + " GB/s";
    legend.push_back({"#24292f", "probed roof: " + label, svg::LegendItem::line});
  }
  std::map<std::string, std::size_t> ops;
  int i = 0;
  for (const auto& p : ch["points"]) {
    const std::string problem = p["problem"];
    const auto [it, fresh] = ops.emplace(op_of(problem), ops.size());
    if (fresh)
      legend.push_back(
          {std::string(svg::color(it->second)), it->first + " problems", svg::LegendItem::dot});
    const double x = d(p["intensity"]), y = d(p["gflops"]);
    const std::string tip =
        fmt::format("#{} {}: {} FLOP/B, {} {}, {} ms", ++i, problem, format_number(x),
                    format_number(y), unit, format_number(p["median_ms"]));
    c.add(svg::circle(c.x(x), c.y(y), 5.5, svg::color(it->second), tip,
                      fmt::format(R"(class="point" data-problem="{}" data-x="{}" data-y="{}")",
                                  e(problem), svg::exact(x), svg::exact(y))));
    c.add(svg::text(c.x(x) + 7, c.y(y) - 6, std::to_string(i), R"(font-size="11")"));
  }
  c.legend(legend);
  return c;
}

std::string roofline_section(const json& report) {
  std::string s = R"(<section id="roofline"><h2>Roofline per backend and data type</h2>)";
  if (report["roofline"].empty()) return s + "<p>This run has no kernel results.</p></section>\n";
  std::size_t i = 0;
  for (const auto& ch : report["roofline"]) {
    const std::string id = fmt::format("roofline-{}", i++);
    s += "<h3>" + e(roofline_name(ch)) + "</h3>";
    if (!ch["points"].empty()) {
      const bool roof = ch["compute_ceiling"]["value"].is_number() ||
                        ch["bandwidth_ceiling"]["value"].is_number();
      s += svg::figure(id, roofline_chart(ch, id, svg::Layout::wide),
                       roofline_chart(ch, id, svg::Layout::narrow),
                       roof ? "Each point is one problem (numbered as in the table below); the "
                              "line is the roof the probe measured."
                            : "No probed ceiling applies to this device, so no roof is drawn.") +
           html_table(roofline_table(ch, id + "-table"));
    }
    if (!ch["not_plotted"].empty())
      s += "<p class=\"note\">Not plotted (no timed result):</p>" +
           html_table(not_plotted_table(ch, id + "-not-plotted"));
  }
  return s + "</section>\n";
}

// --- Model tiers ------------------------------------------------------------------------------

std::string row_name(const json& r) {
  return r["workload"].get<std::string>() + " \u00b7 " + r["backend"].get<std::string>();
}

std::map<std::string, std::size_t> backend_colors(const json& rows) {
  std::map<std::string, std::size_t> m;
  for (const auto& r : rows) m.emplace(r["backend"].get<std::string>(), m.size());
  return m;
}

std::string latency_bands(const Chart& c, const Axis& ax, const json& classes) {
  std::string s;
  const auto& edges = classes["edges_ms"];
  const auto& labels = classes["labels"];
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double lo = std::max(ax.lo, i == 0 ? ax.lo : edges[i - 1].get<double>());
    const double hi = std::min(ax.hi, i < edges.size() ? edges[i].get<double>() : ax.hi);
    if (hi <= lo) continue;
    const double x0 = c.x(lo), x1 = c.x(hi);
    s += svg::rect(x0, c.plot_top(), x1 - x0, c.plot_bottom() - c.plot_top(),
                   i % 2 ? "#eef1f5" : "#f8f9fb", "latency class " + labels[i].get<std::string>(),
                   R"(class="band")");
    if (x1 - x0 > 48)
      s += svg::text((x0 + x1) / 2, c.plot_top() - 3, labels[i].get<std::string>(),
                     R"(text-anchor="middle" font-size="10" fill="#59636e")");
  }
  return s;
}

std::optional<Chart> latency_chart(const json& tiers, svg::Layout layout) {
  std::vector<std::string> names;
  std::vector<double> xs;
  std::vector<const json*> rows;
  for (const auto& r : tiers["rows"]) {
    if (!r["latency_ms"].is_object()) continue;
    rows.push_back(&r);
    names.push_back(row_name(r));
    for (const char* k : {"p10", "p50", "p90"}) xs.push_back(d(r["latency_ms"][k]));
  }
  if (rows.empty()) return std::nullopt;
  const Axis ax = Axis::fit("steady-state latency per inference (ms, log scale)", xs, true);
  Chart c(layout, "tiers-latency", "Model tiers: steady-state latency (p50, whiskers p10..p90)", ax,
          names);
  c.add(latency_bands(c, ax, tiers["latency_classes"]));
  const auto colors = backend_colors(tiers["rows"]);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const json& r = *rows[i];
    const json& l = r["latency_ms"];
    const double yc = c.row_top(i) + c.row_height() / 2;
    const auto col = svg::color(colors.at(r["backend"]));
    const double p10 = d(l["p10"]), p50 = d(l["p50"]), p90 = d(l["p90"]);
    if (std::isfinite(p10) && std::isfinite(p90)) {
      c.add(svg::line(c.x(p10), yc, c.x(p90), yc, col, 2));
      c.add(svg::line(c.x(p10), yc - 5, c.x(p10), yc + 5, col, 2));
      c.add(svg::line(c.x(p90), yc - 5, c.x(p90), yc + 5, col, 2));
    }
    c.add(svg::circle(c.x(p50), yc, 5.5, col,
                      fmt::format("{}: p50 {} ms (p10 {} .. p90 {} ms), class {}", row_name(r),
                                  format_number(p50), format_number(p10), format_number(p90),
                                  latency_class(tiers["latency_classes"], p50)),
                      fmt::format(R"(class="point" data-row="{}" data-x="{}")", e(row_name(r)),
                                  svg::exact(p50))));
  }
  std::vector<svg::LegendItem> legend;
  for (const auto& [b, i] : colors)
    legend.push_back({std::string(svg::color(i)), b, svg::LegendItem::dot});
  legend.push_back({"#eef1f5", "latency classes of the shareable profile (" +
                                   tiers["latency_classes"]["granularity"].get<std::string>() +
                                   ")"});
  c.legend(legend);
  return c;
}

std::optional<Chart> memory_chart(const json& tiers, svg::Layout layout) {
  std::vector<std::string> names;
  std::vector<double> xs;
  std::vector<const json*> rows;
  for (const auto& r : tiers["rows"]) {
    if (!r["peak_memory_bytes"].is_number()) continue;
    rows.push_back(&r);
    names.push_back(row_name(r));
    xs.push_back(d(r["peak_memory_bytes"]) / (1024.0 * 1024.0));
  }
  if (rows.empty()) return std::nullopt;
  Chart c(layout, "tiers-memory", "Model tiers: peak memory added by loading and one inference",
          Axis::fit("peak resident memory added (MiB)", xs, false), names);
  const auto colors = backend_colors(tiers["rows"]);
  for (std::size_t i = 0; i < rows.size(); ++i)
    c.add(svg::rect(c.x(0), c.row_top(i) + 5, c.x(xs[i]) - c.x(0), c.row_height() - 10,
                    svg::color(colors.at((*rows[i])["backend"])),
                    fmt::format("{}: {} MiB", names[i], format_number(xs[i])),
                    fmt::format(R"(class="bar" data-x="{}")", svg::exact(xs[i]))));
  std::vector<svg::LegendItem> legend;
  for (const auto& [b, i] : colors) legend.push_back({std::string(svg::color(i)), b});
  c.legend(legend);
  return c;
}

std::string tiers_section(const json& report) {
  const json& t = report["tiers"];
  std::string s = R"(<section id="tiers"><h2>Model tiers</h2>)";
  if (t["rows"].empty()) return s + "<p>This run has no model tier results.</p></section>\n";
  if (auto w = latency_chart(t, svg::Layout::wide))
    s += svg::figure("tiers-latency", *w, *latency_chart(t, svg::Layout::narrow),
                     "Bands behind the points are the latency classes a shareable profile states.");
  else
    s += "<p>No tier ran to a steady state in this run.</p>";
  if (auto w = memory_chart(t, svg::Layout::wide))
    s += svg::figure(
        "tiers-memory", *w, *memory_chart(t, svg::Layout::narrow),
        "Peak RSS (VmHWM) minus RSS before loading: weights, backend copies, activations.");
  s += html_table(tiers_table(t));
  s += "<p class=\"note\">Host round trips and bytes per inference come from the graph "
       "executor (<code>metrics.execution</code>); the transfer share is the median time moving "
       "data between host and device over the median latency.</p>";
  return s + "</section>\n";
}

// --- Load costs -------------------------------------------------------------------------------

// The values stretched so that a label after the longest bar stays inside the chart.
std::vector<double> room_for_labels(std::vector<double> v) {
  for (double& x : v) x *= 1.2;
  return v;
}

std::string load_section(const json& report) {
  const json& t = report["tiers"];
  std::string s = R"(<section id="load"><h2>Load costs against the steady state</h2>)";
  std::vector<std::string> names;
  std::vector<std::vector<double>> bars;  // per chart row: the stacked segments (ms)
  std::vector<std::size_t> first_color;
  std::vector<double> totals;
  for (const auto& r : t["rows"]) {
    const json& l = r["load_ms"];
    if (!l["first_inference"].is_number()) continue;
    const auto v = [&](const char* k) { return l[k].is_number() ? l[k].get<double>() : 0.0; };
    names.push_back(row_name(r) + " \u00b7 cold");
    bars.push_back({v("read_cold"), v("compile_cold"), v("upload"), v("first_inference")});
    names.push_back(row_name(r) + " \u00b7 warm");
    bars.push_back({v("read_warm"), v("compile_cached"), v("upload"), v("first_inference")});
    names.push_back(row_name(r) + " \u00b7 steady");
    bars.push_back({0, 0, 0, 0, d(r["latency_ms"]["p50"])});
  }
  if (names.empty()) return s + "<p>No tier in this run recorded its load costs.</p></section>\n";
  for (const auto& b : bars) {
    double sum = 0;
    for (double x : b) sum += std::isfinite(x) ? x : 0;
    totals.push_back(sum);
  }
  static const char* kParts[] = {"storage read", "compile / pipeline creation", "weight upload",
                                 "first inference", "steady-state inference (p50)"};
  const auto draw = [&](svg::Layout layout) {
    Chart c(layout, "load-costs",
            "Load costs: time to the first answer, cold and warm, vs one steady inference",
            Axis::fit("time (ms)", room_for_labels(totals), false), names);
    for (std::size_t i = 0; i < bars.size(); ++i) {
      double at = 0;
      for (std::size_t k = 0; k < bars[i].size(); ++k) {
        const double v = bars[i][k];
        if (!(v > 0)) continue;
        c.add(svg::rect(
            c.x(at), c.row_top(i) + 5, c.x(at + v) - c.x(at), c.row_height() - 10, svg::color(k),
            fmt::format("{}: {} {} ms", names[i], kParts[k], format_number(v)),
            fmt::format(R"(class="bar" data-part="{}" data-x="{}")", kParts[k], svg::exact(v))));
        at += v;
      }
      c.add(svg::text(c.x(at) + 4, c.row_top(i) + c.row_height() / 2 + 4,
                      format_number(totals[i]) + " ms", R"(font-size="11")"));
    }
    std::vector<svg::LegendItem> legend;
    for (std::size_t k = 0; k < std::size(kParts); ++k)
      legend.push_back({std::string(svg::color(k)), kParts[k]});
    c.legend(legend);
    return c;
  };
  s += svg::figure(
      "load-costs", draw(svg::Layout::wide), draw(svg::Layout::narrow),
      "Cold: weights read with the page cache dropped, first compile; warm: read again from the "
      "page cache, compile with the backend's caches warm. Both include the upload and the "
      "first inference.");
  return s + html_table(load_table(t)) + "</section>\n";
}

// --- Comparison -------------------------------------------------------------------------------

std::optional<Chart> comparison_chart(const json& cmp, svg::Layout layout) {
  std::vector<std::string> names;
  std::vector<const json*> rows;
  double lo = 1, hi = 1, threshold = 0.05;
  for (const auto& r : cmp["benchmarks"]) {
    if (!r["ratio"].is_number()) continue;
    rows.push_back(&r);
    names.push_back(r["key"]);
    threshold = r["threshold"].get<double>();
    for (const json& v : {r["ratio"], r["ratio_ci"][0], r["ratio_ci"][1]})
      if (v.is_number() && v.get<double>() > 0)
        lo = std::min(lo, v.get<double>()), hi = std::max(hi, v.get<double>());
  }
  if (rows.empty()) return std::nullopt;
  lo = std::min(lo, 1 / (1 + threshold)) / 1.08, hi = std::max(hi, 1 + threshold) * 1.08;
  Axis ax{"current / base (Hodges-Lehmann ratio, log; < 1 is faster for times)", lo, hi, true};
  Chart c(layout, "comparison-chart",
          "Comparison: ratio per benchmark with its confidence interval", ax, names);
  const double t0 = c.x(1 / (1 + threshold)), t1 = c.x(1 + threshold);
  c.add(svg::rect(t0, c.plot_top(), t1 - t0, c.plot_bottom() - c.plot_top(), "#eef1f5",
                  fmt::format("threshold band: changes within {}% do not count",
                              format_number(100 * threshold))));
  c.add(svg::line(c.x(1), c.plot_top(), c.x(1), c.plot_bottom(), "#59606b", 1));
  static const std::map<std::string, std::string> kColor = {
      {"regression", "#cf222e"}, {"improvement", "#1a7f37"}, {"too_noisy", "#8c959f"}};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const json& r = *rows[i];
    const std::string v = r["verdict"];
    const std::string col = kColor.count(v) ? kColor.at(v) : "#1f77b4";
    const double yc = c.row_top(i) + c.row_height() / 2;
    const json& ci = r["ratio_ci"];
    if (ci[0].is_number() && ci[1].is_number())
      c.add(svg::line(c.x(ci[0].get<double>()), yc, c.x(ci[1].get<double>()), yc, col, 2));
    c.add(
        svg::circle(c.x(r["ratio"].get<double>()), yc, 5.5, col,
                    fmt::format("{}: ratio {} [{} .. {}], {}", names[i], format_number(r["ratio"]),
                                format_number(ci[0]), format_number(ci[1]), v),
                    fmt::format(R"(class="point" data-verdict="{}" data-x="{}")", e(v),
                                svg::exact(r["ratio"].get<double>()))));
  }
  c.legend({{"#cf222e", "regression", svg::LegendItem::dot},
            {"#1a7f37", "improvement", svg::LegendItem::dot},
            {"#8c959f", "too noisy to tell", svg::LegendItem::dot},
            {"#1f77b4", "unchanged", svg::LegendItem::dot},
            {"#eef1f5", "within the threshold"}});
  return c;
}

std::string comparison_section(const json& report) {
  if (!report.contains("comparison")) return "";
  const json& cmp = report["comparison"];
  std::string s =
      R"(<section id="comparison"><h2>Comparison with run )" + cmp["base_run_id"].dump() + "</h2>";
  std::string counts;
  for (const auto& [k, v] : cmp["counts"].items())
    if (v.get<int>() > 0) counts += (counts.empty() ? "" : ", ") + v.dump() + " " + k;
  s += "<p><strong>" + e(cmp["result"].get<std::string>()) + "</strong>: " + e(counts) +
       ". A regression needs both significance (Mann-Whitney U) and a ratio beyond the "
       "threshold; rows marked ~ were too noisy to tell.</p>";
  if (cmp.contains("switches")) {
    std::string items;
    for (const auto& l : cmp["switches"].value("lines", json::array()))
      items += "<li>" + e(l.get<std::string>()) + "</li>";
    if (!items.empty()) s += "<ul class=\"switches\">" + items + "</ul>";
  }
  if (auto w = comparison_chart(cmp, svg::Layout::wide))
    s += svg::figure("comparison-chart", *w, *comparison_chart(cmp, svg::Layout::narrow),
                     "Whiskers: the confidence interval of the ratio (distribution-free).");
  return s + html_table(comparison_table(cmp)) + "</section>\n";
}

// --- Predicted against measured ---------------------------------------------------------------

std::optional<Chart> predictions_chart(const json& p, svg::Layout layout) {
  std::vector<double> vs;
  std::vector<const json*> rows;
  for (const auto& r : p["rows"])
    if (r.contains("predicted_ms") && r["predicted_ms"].is_number()) {  // infeasible rows lack it
      rows.push_back(&r);
      vs.push_back(d(r["measured_ms"])), vs.push_back(d(r["predicted_ms"]));
    }
  if (rows.empty()) return std::nullopt;
  const Axis m = Axis::fit("measured steady-state p50 (ms, log scale)", vs, true);
  Axis y = m;
  y.label = "predicted (ms, log scale)";
  Chart c(layout, "predictions-chart", "Predicted against measured latency per tier and backend", m,
          y);
  c.add(svg::line(c.x(m.lo), c.y(m.lo), c.x(m.hi), c.y(m.hi), "#59606b", 1,
                  R"(stroke-dasharray="4 3")"));
  std::map<std::string, std::size_t> colors;
  for (const auto* r : rows) colors.emplace((*r)["backend"].get<std::string>(), colors.size());
  for (const auto* r : rows) {
    const double x = d((*r)["measured_ms"]), yy = d((*r)["predicted_ms"]);
    c.add(svg::circle(
        c.x(x), c.y(yy), 5.5, svg::color(colors.at((*r)["backend"])),
        fmt::format("{} on {}: measured {} ms, predicted {} ms",
                    (*r)["workload"].get<std::string>(), (*r)["backend"].get<std::string>(),
                    format_number(x), format_number(yy)),
        fmt::format(R"(class="point" data-x="{}" data-y="{}")", svg::exact(x), svg::exact(yy))));
  }
  std::vector<svg::LegendItem> legend;
  for (const auto& [b, i] : colors)
    legend.push_back({std::string(svg::color(i)), b, svg::LegendItem::dot});
  legend.push_back({"#59606b", "predicted = measured", svg::LegendItem::line});
  c.legend(legend);
  return c;
}

std::string predictions_section(const json& report) {
  if (!report.contains("predictions")) return "";
  const json& p = report["predictions"];
  std::string s = R"(<section id="predictions"><h2>Predicted against measured</h2>)";
  s += "<p>The predictor (<code>profiles/predictor.h</code>) from the store's calibration \"" +
       e(p["calibration"].get<std::string>()) + "\" (" + e(p["calibrated_at"].get<std::string>()) +
       "), against this run's measurements.</p>";
  if (auto w = predictions_chart(p, svg::Layout::wide))
    s += svg::figure(
        "predictions-chart", *w, *predictions_chart(p, svg::Layout::narrow),
        "Points above the dashed line: the predictor expects the tier to be slower than it ran.");
  return s + html_table(predictions_table(p)) + "</section>\n";
}

// --- Decision map -----------------------------------------------------------------------------

// The fill of a placement kind; a cell that misses the objective is drawn paler.
std::string_view kind_color(const std::string& kind) {
  static const std::map<std::string, std::string_view> kColors = {{"local", "#7fc97f"},
                                                                  {"split", "#fdc086"},
                                                                  {"edge", "#80b1d3"},
                                                                  {"cloud", "#beaed4"},
                                                                  {"none", "#d0d7de"}};
  const auto it = kColors.find(kind);
  return it == kColors.end() ? "#d0d7de" : it->second;
}

// Three significant digits in ms, or in s from 1 s up: short enough for a map cell.
std::string short_ms(double ms) {
  return ms >= 1e3 ? fmt::format("{:.3g} s", ms / 1e3) : fmt::format("{:.3g} ms", ms);
}

Chart decision_chart(const json& dm, svg::Layout layout) {
  std::vector<std::string> columns, rows;
  for (const auto& c : dm["columns"]) {
    std::string label = decision_column(c);  // "5g cold": two lines, network above cache state
    label[label.rfind(' ')] = '\n';
    columns.push_back(std::move(label));
  }
  for (const auto& r : dm["rows"]) {  // "mobilenetv2:b1 on onednn": tier, then backend below
    std::string name = r["config"];
    if (const auto on = name.rfind(" on "); on != std::string::npos) name[on] = '\n';
    rows.push_back(std::move(name));
  }
  const json& rq = dm["request"];
  Chart c(layout, "decision-map",
          "Decision map: where the engine places a delay-" + rq["delay"].get<std::string>() +
              " request with a " + format_number(rq["objective_ms"]) + " ms objective",
          "network and cache state (cold: nothing on the device, warm: all compiled)", columns,
          rows);
  for (std::size_t i = 0; i < dm["rows"].size(); ++i) {
    const json& cells = dm["rows"][i]["cells"];
    for (std::size_t j = 0; j < cells.size(); ++j) {
      const json& x = cells[j];
      const std::string kind = x["kind"];
      const std::string dtype = kind == "none"
                                    ? ""
                                    : x["workload"].get<std::string>().substr(
                                          x["workload"].get<std::string>().rfind(':') + 1);
      const double x0 = c.col_left(j) + 1.5, w = c.col_width() - 3, y0 = c.row_top(i);
      std::string tip = dm["rows"][i]["config"].get<std::string>() + ", " +
                        x["network"].get<std::string>() + ", " + x["cache"].get<std::string>() +
                        ": " + kind;
      if (kind != "none")
        tip +=
            " (" + x["target"].get<std::string>() + ", " + x["workload"].get<std::string>() +
            " on " + x["backend"].get<std::string>() +
            (x["split_after"].get<std::string>().empty()
                 ? ""
                 : ", split after " + x["split_after"].get<std::string>()) +
            "), " + format_number(x["latency_ms"]) + " ms" +
            (x["meets_objective"].get<bool>() ? ", meets the objective" : ", misses the objective");
      if (!x["why"].get<std::string>().empty()) tip += "; " + x["why"].get<std::string>();
      if (!x["agrees_with_oracle"].get<bool>())
        tip += "; the oracle: " + x["oracle_kind"].get<std::string>();
      const bool pale = kind != "none" && !x["meets_objective"].get<bool>();
      c.add(svg::rect(
          x0, y0, w, c.row_height(), kind_color(kind), tip,
          fmt::format(R"(class="cell" data-kind="{}" data-x="{}"{})", e(kind),
                      svg::exact(x["latency_ms"].is_number() ? x["latency_ms"].get<double>() : -1),
                      pale ? R"( fill-opacity="0.45")" : "")));
      const std::string mark = x["agrees_with_oracle"].get<bool>() ? "" : "*";
      const double cx = x0 + w / 2;
      if (c.narrow()) {
        c.add(svg::text(cx, y0 + 17, (kind == "local" ? "device" : kind) + mark,
                        R"(text-anchor="middle" font-size="10")"));
      } else {
        c.add(svg::text(cx, y0 + 11, (kind == "local" ? "device" : kind) + mark,
                        R"(text-anchor="middle" font-size="11")"));
        if (kind != "none")
          c.add(svg::text(cx, y0 + 23, dtype + " " + short_ms(x["latency_ms"].get<double>()),
                          R"(text-anchor="middle" font-size="10" fill="#424a53")"));
      }
    }
  }
  c.legend({{std::string(kind_color("local")), "on this device", svg::LegendItem::box},
            {std::string(kind_color("split")), "split: first layers here, rest at a site"},
            {std::string(kind_color("edge")), "edge site"},
            {std::string(kind_color("cloud")), "cloud"},
            {std::string(kind_color("none")), "none: nothing can serve it"},
            {"#e6f1fa", "paler: misses the objective"},
            {"#ffffff", "*: the oracle places it elsewhere"}});
  return c;
}

std::string decisions_section(const json& report) {
  if (!report.contains("decisions")) return "";
  const json& dm = report["decisions"];
  std::string s = R"(<section id="decisions"><h2>Decision map: run here or offload?</h2>)";
  std::string sites;
  for (const auto& x : dm["sites"])
    sites += (sites.empty() ? "" : "; ") + x["name"].get<std::string>() + " (" +
             x["device"].get<std::string>() + ", " + format_number(x["rtt_ms"]) +
             " ms beyond the access link)";
  s += "<p>The decision engine (<code>profiles/decide</code>) for one request per cell: delay-" +
       e(dm["request"]["delay"].get<std::string>()) + ", " +
       e(format_number(dm["request"]["objective_ms"])) +
       " ms objective (cold costs included), data may leave the device, edge " +
       e(dm["request"]["edge_load"].get<std::string>()) +
       ". Figures: " + e(dm["figures"].get<std::string>()) + " Sites: " + e(sites) +
       ". The candidate variants of a row are the tier's dtypes measured on that backend.</p>";
  s += svg::figure("decision-map", decision_chart(dm, svg::Layout::wide),
                   decision_chart(dm, svg::Layout::narrow),
                   "Each cell is the engine's first placement; hover for its variant, latency and "
                   "reason. The table below has the same cells.");
  return s + html_table(decisions_table(dm)) + html_table(networks_table(dm)) + "</section>\n";
}

// --- Device, profile, the rest ----------------------------------------------------------------

std::string device_section(const json& report) {
  const json& d = report["device"];
  std::string s = R"(<section id="device"><h2>Device</h2>)";
  if (!d["available"].get<bool>())
    s += "<p>" + e(d["why"].get<std::string>()) + "</p>";
  else
    s += html_table(probe_table(d)) + "<h3>Measured ceilings</h3>" + html_table(ceilings_table(d));
  s += "<h3>Environment warnings</h3>";
  s += d["warnings"].empty() ? std::string("<p>None.</p>") : html_table(warnings_table(d));
  return s + "</section>\n";
}

std::string profile_section(const json& report) {
  const json& p = report["profile"];
  std::string s = R"(<section id="profile"><h2>Shareable profile</h2>)";
  if (!p["available"].get<bool>())
    return s + "<p>No profile: " + e(p["why"].get<std::string>()) + "</p></section>\n";
  s += "<p>" + e(p["statement"].get<std::string>()) + "</p>";
  s += "<p class=\"note\">Each label states its own edges (\"&lt;100 ms\": one inference "
       "finishes within 100 ms); \"any\" is a class generalised away so that at least k devices "
       "share this profile.</p>";
  s += html_table(profile_device_table(p["shareable"])) +
       html_table(profile_tiers_table(p["shareable"]));
  for (const auto& i : p["inconsistencies"])
    s += "<p class=\"note\">" + e(i.get<std::string>()) + "</p>";
  s += "<details><summary>The profile file, exactly as shared</summary><pre>" +
       e(p["shareable"].dump(2)) + "</pre></details>";
  return s + "</section>\n";
}

std::string left_out_section(const json& report) {
  if (report["left_out"].empty()) return "";
  std::string s = R"(<section id="left-out"><h2>Left out of this report</h2><ul>)";
  for (const auto& l : report["left_out"])
    s += "<li>" + e(l["section"].get<std::string>()) + ": " + e(l["why"].get<std::string>()) +
         "</li>";
  return s + "</ul></section>\n";
}

std::string header(const json& report) {
  const json& run = report["run"];
  std::string title = "tierbench report: run " + run["id"].dump();
  if (report.contains("base_run")) title += " compared with run " + report["base_run"]["id"].dump();
  std::string s = "<h1>" + e(title) + "</h1>";
  s += "<p class=\"meta\">Run " + run["id"].dump() + " (" + e(run["status"].get<std::string>()) +
       "), " + e(run["started_at"].get<std::string>()) + " .. " +
       e(run["finished_at"].get<std::string>()) + ", commit " +
       e(run["git_commit"].get<std::string>()) + ". Rendered from the results store at " +
       e(report["generated_at"].get<std::string>()) + ".</p>";
  s += "<nav><ul><li><a href=\"#device\">device</a></li><li><a href=\"#roofline\">roofline</a></li>"
       "<li><a href=\"#tiers\">model tiers</a></li><li><a href=\"#load\">load costs</a></li>";
  if (report.contains("comparison")) s += "<li><a href=\"#comparison\">comparison</a></li>";
  if (report.contains("predictions")) s += "<li><a href=\"#predictions\">predicted</a></li>";
  if (report.contains("decisions")) s += "<li><a href=\"#decisions\">decision map</a></li>";
  s += "<li><a href=\"#profile\">profile</a></li></ul></nav>\n";
  return s;
}

}  // namespace

std::string render_html(const json& report) {
  const std::string title = "tierbench report: run " + report["run"]["id"].dump();
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
      "<title>" +
      e(title) + "</title><style>" + kCss + "</style></head>\n<body><main>";
  s += header(report) + device_section(report) + roofline_section(report) + tiers_section(report) +
       load_section(report) + comparison_section(report) + predictions_section(report) +
       decisions_section(report) + profile_section(report) + left_out_section(report);
  return s + "</main></body></html>\n";
}

}  // namespace tb::reports

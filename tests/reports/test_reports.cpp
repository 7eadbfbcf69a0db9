// The report from a fixture store of real measurements: every section and chart is there, its
// numbers are the store's, nothing is NaN or empty, the HTML is well formed and self-contained,
// and the Markdown tables are GFM tables.
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "calibrate.h"
#include "compare.h"
#include "compare_format.h"
#include "evaluate.h"
#include "json_schema.h"
#include "models.h"
#include "predictor.h"
#include "profiles.h"
#include "report_fixture.h"
#include "report_tables.h"
#include "reports.h"

namespace tb {
namespace {

using nlohmann::json;

class Report : public ::testing::Test {
 protected:
  // Built by the first test, in SetUp: a fixture that cannot be built fails the tests (in
  // SetUpTestSuite, gtest would report them as skipped).
  void SetUp() override {
    if (!html_) build();
  }
  static void build() {
    fx_ = new test::ReportStore();
    reports::ReportOptions o;
    o.run_id = fx_->current_run;
    o.base_run_id = fx_->base_run;
    auto r = reports::build_report(*fx_->store, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    report_ = new json(std::move(*r));
    html_ = new std::string(reports::render_html(*report_));
    md_ = new std::string(reports::render_markdown(*report_));
    auto results = fx_->store->results(fx_->current_run);
    ASSERT_TRUE(results.ok());
    for (const auto& x : *results) by_id_[x.id] = x;
  }
  static void TearDownTestSuite() {
    delete html_, delete md_, delete report_, delete fx_;
    html_ = md_ = nullptr, report_ = nullptr, fx_ = nullptr;
  }
  static const ResultRecord& stored(const json& id) { return by_id_.at(id.get<std::int64_t>()); }

  static inline test::ReportStore* fx_ = nullptr;
  static inline json* report_ = nullptr;
  static inline std::string *html_ = nullptr, *md_ = nullptr;
  static inline std::map<std::int64_t, ResultRecord> by_id_;
};

// The <figure class="chart" id="..."> ... </figure> blocks of the page, by id.
std::map<std::string, std::string> charts(const std::string& html) {
  std::map<std::string, std::string> out;
  const std::regex open(R"x(<figure class="chart" id="([^"]+)">)x");
  for (std::sregex_iterator it(html.begin(), html.end(), open), end; it != end; ++it) {
    const auto start = static_cast<std::size_t>(it->position(0));
    out[(*it)[1]] = html.substr(start, html.find("</figure>", start) - start);
  }
  return out;
}

// The cells of a table row whose first cells are `key` (HTML, by table id).
std::vector<std::string> table_rows(const std::string& html, const std::string& id) {
  const auto start = html.find("<table id=\"" + id + "\"");
  if (start == std::string::npos) return {};
  const std::string t = html.substr(start, html.find("</table>", start) - start);
  std::vector<std::string> rows;
  const std::regex row("<tr[^>]*>(.*?)</tr>");
  for (std::sregex_iterator it(t.begin(), t.end(), row), end; it != end; ++it)
    rows.push_back((*it)[1]);
  return rows;
}

// Tag balance: every non-void element closed in order, attributes quoted, every & an entity.
std::string well_formed(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta", "br", "hr", "img", "link", "input"};
  std::vector<std::string> stack;
  const std::regex tag(
      R"(<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z][a-zA-Z0-9:-]*="[^"<]*")*)\s*(/?)>)");
  std::size_t pos = html.find("<html");
  while ((pos = html.find('<', pos)) != std::string::npos) {
    std::smatch m;
    const std::string rest = html.substr(pos, 4096);
    if (!std::regex_search(rest, m, tag, std::regex_constants::match_continuous))
      return "malformed tag at " + std::to_string(pos) + ": " + rest.substr(0, 60);
    const std::string name = m[2];
    if (m[1] == "/") {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> closes <" + (stack.empty() ? "" : stack.back()) + ">";
      stack.pop_back();
    } else if (m[4] != "/" && !kVoid.count(name)) {
      stack.push_back(name);
    }
    pos += static_cast<std::size_t>(m.length(0));
  }
  if (!stack.empty()) return "<" + stack.back() + "> never closed";
  const std::regex amp(R"(&(?!(amp|lt|gt|quot|apos|#[0-9]+);))");
  if (std::regex_search(html, amp)) return "a bare &";
  return "";
}

TEST_F(Report, HasEverySection) {
  for (const char* k : {"schema", "run", "base_run", "device", "roofline", "tiers", "comparison",
                        "predictions", "decisions", "profile"})
    EXPECT_TRUE(report_->contains(k)) << k;
  EXPECT_EQ((*report_)["schema"], "tierbench.report/1");
  EXPECT_EQ((*report_)["run"]["id"], fx_->current_run);
  EXPECT_EQ((*report_)["base_run"]["id"], fx_->base_run);
  EXPECT_TRUE((*report_)["device"]["available"].get<bool>());
  for (const char* id :
       {"device", "roofline", "tiers", "load", "comparison", "predictions", "decisions", "profile"})
    EXPECT_NE(html_->find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
}

TEST_F(Report, RooflinePointsAreTheStoresResults) {
  std::set<std::string> plotted, timed_in_store;
  for (const auto& [id, r] : by_id_)
    if (r.kind == "kernel" && r.status == Status::passed)
      timed_in_store.insert(r.name + "@" + r.backend);
  ASSERT_FALSE((*report_)["roofline"].empty());
  for (const auto& ch : (*report_)["roofline"]) {
    for (const auto& p : ch["points"]) {
      const ResultRecord& r = stored(p["result_id"]);
      EXPECT_EQ(r.name, p["problem"]);
      EXPECT_EQ(r.backend, ch["backend"]);
      EXPECT_EQ(r.dtype, ch["dtype"]);
      EXPECT_DOUBLE_EQ(*r.gflops, p["gflops"].get<double>());
      EXPECT_DOUBLE_EQ(*r.gbps, p["gbps"].get<double>());
      EXPECT_NEAR(*r.gflops / *r.gbps, p["intensity"].get<double>(),
                  1e-9 * p["intensity"].get<double>());
      for (const char* k : {"intensity", "gflops", "gbps", "median_ms"})
        EXPECT_TRUE(std::isfinite(p[k].get<double>()) && p[k].get<double>() > 0) << k;
      plotted.insert(r.name + "@" + r.backend);
    }
    for (const auto& p : ch["not_plotted"])
      EXPECT_NE(stored(p["result_id"]).status, Status::passed);
  }
  EXPECT_EQ(plotted, timed_in_store);
  // The CPU devices (oneDNN, PoCL, lavapipe) are drawn under the probed CPU ceilings.
  const json c = profiles::ceilings_from_probe(fx_->store->latest_result("probe")->value().metrics);
  for (const auto& ch : (*report_)["roofline"]) {
    EXPECT_TRUE(ch["device_is_cpu"].get<bool>()) << ch["backend"];
    EXPECT_EQ(ch["bandwidth_ceiling"]["value"], c["memory_bandwidth_gbps"]["value"]);
    const char* key = ch["dtype"] == "s8"     ? "int8_gops"
                      : ch["dtype"] == "bf16" ? "bf16_gflops"
                                              : "f32_gflops";
    EXPECT_EQ(ch["compute_ceiling"]["value"], c[key]["value"]) << ch["dtype"];
  }
}

TEST_F(Report, RooflineSvgPointsAndTablesShowTheStoresNumbers) {
  const auto all = charts(*html_);
  std::size_t i = 0;
  for (const auto& ch : (*report_)["roofline"]) {
    const std::string id = "roofline-" + std::to_string(i++);
    if (ch["points"].empty()) continue;
    ASSERT_TRUE(all.count(id)) << id;
    const std::string& svg = all.at(id);
    const auto rows = table_rows(*html_, id + "-table");
    ASSERT_EQ(rows.size(), ch["points"].size() + 1);  // + the header
    std::size_t k = 0;
    for (const auto& p : ch["points"]) {
      const ResultRecord& r = stored(p["result_id"]);
      // The circle: hover text names the problem; data-y is the stored GFLOP/s.
      const std::regex circle("<circle [^>]*data-problem=\"" +
                              std::regex_replace(r.name, std::regex(R"([+.])"), R"(\$&)") +
                              "\" data-x=\"([^\"]+)\" data-y=\"([^\"]+)\"><title>[^<]*" +
                              std::regex_replace(r.name, std::regex(R"([+.])"), R"(\$&)"));
      std::smatch m;
      ASSERT_TRUE(std::regex_search(svg, m, circle)) << r.name;
      EXPECT_NEAR(std::stod(m[2]), *r.gflops, 1e-7 * *r.gflops);
      const std::string& row = rows[++k];
      EXPECT_NE(row.find(r.name), std::string::npos);
      EXPECT_NE(row.find(">" + reports::format_number(*r.gflops) + "<"), std::string::npos) << row;
      EXPECT_NE(row.find(">" + reports::format_number(*r.median_s * 1e3) + "<"), std::string::npos);
    }
  }
}

TEST_F(Report, TierFiguresAreTheStoresMetrics) {
  const json& rows = (*report_)["tiers"]["rows"];
  ASSERT_FALSE(rows.empty());
  std::set<std::string> keys;
  for (const auto& row : rows) {
    const ResultRecord& r = stored(row["result_id"]);
    keys.insert(r.name + "@" + r.backend);
    EXPECT_EQ(r.name, row["workload"]);
    if (!r.median_s) {
      EXPECT_TRUE(row["latency_ms"].is_null());
      continue;
    }
    EXPECT_DOUBLE_EQ(row["latency_ms"]["p50"].get<double>(), *r.median_s * 1e3);
    EXPECT_DOUBLE_EQ(row["latency_ms"]["p10"].get<double>(), *r.p10_s * 1e3);
    EXPECT_DOUBLE_EQ(row["latency_ms"]["p90"].get<double>(), *r.p90_s * 1e3);
    const json& m = r.metrics;
    EXPECT_EQ(row["peak_memory_bytes"], m["memory"]["peak_rss_added_bytes"]);
    EXPECT_EQ(row["host_round_trips"], m["execution"]["host_round_trips_per_inference"]);
    EXPECT_DOUBLE_EQ(row["transfer_share"].get<double>(),
                     m["breakdown"]["transfer_median_s"].get<double>() / *r.median_s);
    EXPECT_DOUBLE_EQ(row["load_ms"]["read_cold"].get<double>(),
                     m["load"]["read_cold_s"].get<double>() * 1e3);
    EXPECT_DOUBLE_EQ(row["load_ms"]["compile_cached"].get<double>(),
                     m["load"]["prepare_warm_s"].get<double>() * 1e3);
    EXPECT_DOUBLE_EQ(row["load_ms"]["first_inference"].get<double>(),
                     m["load"]["first_inference_s"].get<double>() * 1e3);
    // The tiers table shows the same p50, and the chart has its point.
    bool found = false;
    for (const auto& tr : table_rows(*html_, "tiers-table"))
      found = found ||
              (tr.find(r.name) != std::string::npos &&
               tr.find(">" + r.backend + "<") != std::string::npos &&
               tr.find(">" + reports::format_number(*r.median_s * 1e3) + "<") != std::string::npos);
    EXPECT_TRUE(found) << r.name << " " << r.backend;
    // And the load-cost table its cold read, cold compile and first inference.
    found = false;
    for (const auto& tr : table_rows(*html_, "load-table"))
      found =
          found ||
          (tr.find(r.name) != std::string::npos &&
           tr.find(">" + r.backend + "<") != std::string::npos &&
           tr.find(">" + reports::format_number(m["load"]["read_cold_s"].get<double>() * 1e3) +
                   "<") != std::string::npos &&
           tr.find(">" + reports::format_number(m["load"]["prepare_first_s"].get<double>() * 1e3) +
                   "<") != std::string::npos &&
           tr.find(">" +
                   reports::format_number(m["load"]["first_inference_s"].get<double>() * 1e3) +
                   "<") != std::string::npos);
    EXPECT_TRUE(found) << "load costs of " << r.name << " " << r.backend;
  }
  std::set<std::string> in_store;
  for (const auto& [id, r] : by_id_)
    if (r.kind == "workload") in_store.insert(r.name + "@" + r.backend);
  EXPECT_EQ(keys, in_store);
}

TEST_F(Report, EveryChartHasTitleAxesUnitsLegendAndData) {
  const auto all = charts(*html_);
  for (const char* id : {"tiers-latency", "tiers-memory", "load-costs", "comparison-chart",
                         "predictions-chart", "decision-map"})
    EXPECT_TRUE(all.count(id)) << id;
  std::size_t rooflines = 0;
  for (const auto& ch : (*report_)["roofline"]) rooflines += !ch["points"].empty();
  EXPECT_EQ(all.size(), rooflines + 6);
  // An axis label names its quantity and, in parentheses, its unit (or scale, for a ratio).
  const std::regex unit(R"(<text [^>]*>[^<]*\([^<]*\)</text>)");
  for (const auto& [id, svg] : all) {
    // Two drawings, each scaled by its viewBox: wide, and narrow for a phone.
    EXPECT_NE(svg.find("<svg class=\"wide\" viewBox="), std::string::npos) << id;
    EXPECT_NE(svg.find("<svg class=\"narrow\" viewBox="), std::string::npos) << id;
    EXPECT_NE(svg.find("<title id=\"" + id + "-t\">"), std::string::npos) << id;
    EXPECT_NE(svg.find("<title id=\"" + id + "-n-t\">"), std::string::npos) << id;
    EXPECT_NE(svg.find("font-weight=\"bold\""), std::string::npos) << id << ": no visible title";
    EXPECT_TRUE(std::regex_search(svg, unit)) << id << ": no axis label with a unit";
    EXPECT_NE(svg.find("<line "), std::string::npos) << id << ": no axes";
    EXPECT_TRUE(svg.find("class=\"point\"") != std::string::npos ||
                svg.find("class=\"bar\"") != std::string::npos ||
                svg.find("class=\"cell\"") != std::string::npos)
        << id << ": empty series";
    EXPECT_FALSE(std::regex_search(svg, std::regex("[^a-z](nan|inf)[^a-z]"))) << id;
    // A legend below the plot: swatches with labels.
    EXPECT_NE(svg.find("class=\"legend\""), std::string::npos) << id << ": no legend";
  }
}

TEST_F(Report, HtmlIsWellFormedAndSelfContained) {
  EXPECT_EQ(well_formed(*html_), "");
  EXPECT_EQ(html_->rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* banned : {"http://", "https://", "<script", "<link", "<img", "<iframe",
                             "@import", "src=", "javascript:", "//fonts", "@font-face"})
    EXPECT_EQ(html_->find(banned), std::string::npos) << banned;
  // The only url() references are to clip paths in the same document.
  const std::regex url(R"(url\((?!#))");
  EXPECT_FALSE(std::regex_search(*html_, url));
  EXPECT_NE(html_->find("name=\"viewport\""), std::string::npos);
  EXPECT_EQ(html_->find("NaN"), std::string::npos);
}

TEST_F(Report, ComparisonHighlightsTheInjectedRegression) {
  const json& c = (*report_)["comparison"];
  EXPECT_EQ(c["base_run_id"], fx_->base_run);
  bool seen = false;
  for (const auto& r : c["benchmarks"])
    if (r["key"] == "gemm:m64n1024k512:f32@onednn") {
      seen = true;
      EXPECT_EQ(r["verdict"], "regression");
      EXPECT_GT(r["ratio_ci"][0].get<double>(), 1.05);
    }
  EXPECT_TRUE(seen);
  // Every ratio is the one compare() gives on the two runs' raw samples in the store.
  auto b = fx_->store->results(fx_->base_run, true);
  auto cur = fx_->store->results(fx_->current_run, true);
  ASSERT_TRUE(b.ok() && cur.ok());
  const auto direct = compare::compare(io::sample_set(*b), io::sample_set(*cur));
  ASSERT_EQ(direct.rows.size(), c["benchmarks"].size());
  const auto rows = table_rows(*html_, "comparison-table");
  for (std::size_t i = 0; i < direct.rows.size(); ++i) {
    const auto& d = direct.rows[i];
    EXPECT_EQ(c["benchmarks"][i]["key"], d.key);
    EXPECT_EQ(c["benchmarks"][i]["verdict"], std::string(compare::to_string(d.verdict)));
    EXPECT_DOUBLE_EQ(c["benchmarks"][i]["ratio"].get<double>(), d.ratio);
    EXPECT_NE(rows[i + 1].find(">" + reports::format_number(d.ratio) + "<"), std::string::npos);
  }
  const std::string tbl = html_->substr(html_->find("<table id=\"comparison-table\""));
  const bool highlighted =
      tbl.find(
          "<tr class=\"regression\"><td data-label=\"benchmark\">gemm:m64n1024k512:f32@onednn<") !=
      std::string::npos;
  const bool noisy = c["counts"]["too_noisy"].get<int>() == 0 ||
                     tbl.find("<tr class=\"too_noisy\">") != std::string::npos;
  EXPECT_TRUE(highlighted);
  EXPECT_TRUE(noisy);
  EXPECT_NE(md_->find("| **gemm:m64n1024k512:f32@onednn** |"), std::string::npos);
}

TEST_F(Report, ProfileIsTheValidatedShareableProfileAndSaysSo) {
  const json& p = (*report_)["profile"];
  ASSERT_TRUE(p["available"].get<bool>()) << p.dump();
  EXPECT_TRUE(profiles::validate_profile(p["shareable"]).ok());
  EXPECT_NE(p["statement"].get<std::string>().find("holds nothing else"), std::string::npos);
  EXPECT_NE(html_->find("holds nothing else"), std::string::npos);
  for (const auto& [tier, _] : p["shareable"]["tiers"].items())
    EXPECT_NE(html_->find("<td data-label=\"tier\">" + tier + "</td>"), std::string::npos) << tier;
  // Nothing is left out of this store's report (it holds a probe, tiers and a calibration), so
  // there is no "left out" section.
  EXPECT_TRUE((*report_)["left_out"].empty()) << (*report_)["left_out"].dump();
  EXPECT_EQ(html_->find("id=\"left-out\""), std::string::npos);
}

TEST_F(Report, DeviceShowsTheProbeCeilingsAndWarnings) {
  const json& d = (*report_)["device"];
  const auto probe = fx_->store->latest_result("probe")->value();
  EXPECT_EQ(d["probe"]["result_id"], probe.id);
  const json c = profiles::ceilings_from_probe(probe.metrics);
  for (const auto& row : d["ceilings"]) EXPECT_EQ(row["value"], c[row["name"]]["value"]);
  std::size_t from_probe = 0;
  for (const auto& w : d["warnings"]) from_probe += w["source"] == "probe";
  EXPECT_EQ(from_probe, probe.metrics["warnings"].size());
  EXPECT_NE(html_->find("virtualized"), std::string::npos);
}

TEST_F(Report, PredictionsAreThePredictorsOnTheStoresCalibration) {
  ASSERT_TRUE(report_->contains("predictions")) << (*report_)["left_out"].dump();
  const json& p = (*report_)["predictions"];
  auto cal = profiles::load_calibration(*fx_->store, "");
  ASSERT_TRUE(cal.ok());
  EXPECT_EQ(p["calibration"], cal->label);
  std::size_t predicted = 0;
  const auto rows = table_rows(*html_, "predictions-table");
  ASSERT_EQ(rows.size(), p["rows"].size() + 1);
  std::size_t i = 0;
  for (const auto& r : p["rows"]) {
    const auto w = workloads::parse_workload(r["workload"].get<std::string>());
    ASSERT_TRUE(w.ok());
    workloads::BuildOptions bo;
    bo.variant = w->variant;
    auto g = workloads::build_tier(w->tier, w->dtype, bo);
    ASSERT_TRUE(g.ok());
    const auto e = profiles::predict(*g, *cal, r["backend"].get<std::string>());
    EXPECT_EQ(r["feasible"].get<bool>(), e.feasible) << r.dump();
    const std::string& row = rows[++i];
    if (e.feasible) {
      ++predicted;
      EXPECT_DOUBLE_EQ(r["predicted_ms"].get<double>(), e.latency_ms);
      EXPECT_DOUBLE_EQ(r["ratio"].get<double>(), e.latency_ms / r["measured_ms"].get<double>());
      EXPECT_NE(row.find(">" + reports::format_number(e.latency_ms) + "<"), std::string::npos);
    } else {
      EXPECT_NE(row.find(compare::xml_escape("not predicted: " + e.why)), std::string::npos) << row;
    }
    bool measured = false;
    for (const auto& t : (*report_)["tiers"]["rows"])
      measured = measured || (t["workload"] == r["workload"] && t["backend"] == r["backend"] &&
                              t["latency_ms"]["p50"] == r["measured_ms"]);
    EXPECT_TRUE(measured) << r.dump();
  }
  EXPECT_GT(predicted, 0u);  // the calibration covers oneDNN f32 and int8
}

// The decision map is decision_map() on the local profile of this run's tiers: one row per tier
// configuration the run measured, one cell per network and cache state; a warm placement on the
// device costs exactly the stored median it names; offline, nothing is offloaded; the table and
// the chart show every cell.
TEST_F(Report, DecisionMapIsTheEngineOnThisRunsProfile) {
  ASSERT_TRUE(report_->contains("decisions")) << (*report_)["left_out"].dump();
  const json& d = (*report_)["decisions"];
  profiles::ProfileOptions po;
  po.workload_run = fx_->current_run;
  auto p = profiles::build_profiles(*fx_->store, po);
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto m = profiles::decision_map(p->local, {});
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(d["rows"].size(), m->configs.size());
  ASSERT_EQ(d["columns"].size(), m->networks.size() * 2);
  std::set<std::string> configs, measured;
  for (const auto& [id, r] : by_id_)
    if (r.kind == "workload")
      measured.insert(r.name.substr(0, r.name.rfind(':')) + " on " + r.backend);
  std::size_t k = 0, warm_local = 0;
  for (const auto& row : d["rows"]) {
    configs.insert(row["config"]);
    ASSERT_EQ(row["cells"].size(), d["columns"].size());
    for (std::size_t j = 0; j < row["cells"].size(); ++j) {
      const json& c = row["cells"][j];
      const auto& mc = m->cells.at(k++);
      EXPECT_EQ(row["config"], mc.config);
      EXPECT_EQ(c["network"], d["columns"][j]["network"]);
      EXPECT_EQ(c["cache"], d["columns"][j]["cache"]);
      EXPECT_EQ(c["kind"], mc.kind);
      EXPECT_EQ(c["workload"], mc.workload);
      if (c["network"] == "offline") {
        EXPECT_TRUE(c["kind"] == "local" || c["kind"] == "none") << c;
      }
      if (c["kind"] != "none") {
        EXPECT_TRUE(std::isfinite(c["latency_ms"].get<double>()) && c["latency_ms"] > 0) << c;
      }
      if (c["kind"] == "local" && c["cache"] == "all-compiled") {
        const ResultRecord& r = stored(c["device_result_id"]);
        EXPECT_EQ(r.name, c["workload"]);
        EXPECT_EQ(r.backend, c["backend"]);
        EXPECT_DOUBLE_EQ(c["latency_ms"].get<double>(), *r.median_s * 1e3);
        ++warm_local;
      }
    }
  }
  EXPECT_EQ(configs, measured);
  EXPECT_GT(warm_local, 0u);
  const auto rows = table_rows(*html_, "decisions-table");
  ASSERT_EQ(rows.size(), d["rows"].size() + 1);
  for (std::size_t i = 0; i < d["rows"].size(); ++i)
    for (const auto& c : d["rows"][i]["cells"])
      EXPECT_NE(rows[i + 1].find(">" + compare::xml_escape(reports::decision_cell(c)) + "<"),
                std::string::npos)
          << rows[i + 1];
  const std::string chart = charts(*html_).at("decision-map");
  std::size_t cells = 0;
  for (auto at = chart.find("class=\"cell\""); at != std::string::npos;
       at = chart.find("class=\"cell\"", at + 1))
    ++cells;
  EXPECT_EQ(cells, 2 * k);  // the wide and the narrow drawing
  EXPECT_NE(md_->find("| " + d["rows"][0]["config"].get<std::string>() + " |"), std::string::npos);
}

// GFM: a header row, a rule row with as many cells, then rows of that many cells.
TEST_F(Report, MarkdownTablesAreGfmTables) {
  EXPECT_LT(md_->size(), 1024u * 1024u);  // a GitHub job summary's limit
  for (const char* h : {"## Device", "## Roofline per backend and data type", "## Model tiers",
                        "## Load costs against the steady state", "## Comparison with run",
                        "## Predicted against measured", "## Decision map: run here or offload?",
                        "## Shareable profile"})
    EXPECT_NE(md_->find(h), std::string::npos) << h;
  const auto cells = [](const std::string& line) {  // unescaped pipes
    long n = 0;
    for (std::size_t i = 0; i < line.size(); ++i)
      n += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    return n;
  };
  std::istringstream in(*md_);
  std::string line, prev;
  long width = -1;
  int tables = 0;
  while (std::getline(in, line)) {
    if (line.rfind("|", 0) != 0) {
      width = -1;
      prev = line;
      continue;
    }
    if (width < 0) {
      width = cells(line);
      std::string rule;
      ASSERT_TRUE(std::getline(in, rule));
      EXPECT_TRUE(std::regex_match(rule, std::regex(R"((\| -{3}:? )+\|)"))) << rule;
      EXPECT_EQ(cells(rule), width) << line;
      ++tables;
      continue;
    }
    EXPECT_EQ(cells(line), width) << line;
  }
  EXPECT_GE(tables, 10);
  EXPECT_EQ(md_->find("nan"), std::string::npos);
}

TEST_F(Report, OneRunWithoutComparison) {
  reports::ReportOptions o;
  o.run_id = fx_->base_run;
  auto r = reports::build_report(*fx_->store, o);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->contains("comparison"));
  const std::string html = reports::render_html(*r);
  EXPECT_EQ(well_formed(html), "");
  EXPECT_EQ(html.find("id=\"comparison\""), std::string::npos);
  o.run_id = 999;
  auto bad = reports::build_report(*fx_->store, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "unknown run id 999");
}

// A store without a probe: the device section says so, rooflines have no roof, the profile is
// absent with the reason, and the page is still well formed.
TEST(ReportWithoutProbe, SaysWhatIsMissing) {
  test::TempDir dir;
  auto store = std::move(Store::open((dir.path() / "r.db").string()).value());
  auto doc = io::read_results_file(test::report_data("base.results.json"));
  ASSERT_TRUE(doc.ok());
  const auto run = io::import_run(*store, *doc);
  ASSERT_TRUE(run.ok());
  auto r = reports::build_report(*store, {run.value(), std::nullopt});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE((*r)["device"]["available"].get<bool>());
  EXPECT_FALSE((*r)["profile"]["available"].get<bool>());
  EXPECT_NE((*r)["profile"]["why"].get<std::string>().find("no probe"), std::string::npos);
  for (const auto& ch : (*r)["roofline"]) {
    EXPECT_TRUE(ch["compute_ceiling"]["value"].is_null());
    EXPECT_FALSE(ch["device_is_cpu"].get<bool>() && ch["backend"] != "onednn");
  }
  const std::string html = reports::render_html(*r);
  EXPECT_EQ(well_formed(html), "");
  EXPECT_NE(html.find("No probed ceiling applies"), std::string::npos);
  EXPECT_NE(reports::render_markdown(*r).find("Roof: compute not probed"), std::string::npos);
  // No calibration in this store: the predictions are left out, saying why.
  EXPECT_FALSE(r->contains("predictions"));
  EXPECT_NE((*r)["left_out"].dump().find("no calibration in the store"), std::string::npos);
  // Nor a probe, which the local profile behind the decision map needs.
  EXPECT_FALSE(r->contains("decisions"));
  EXPECT_NE((*r)["left_out"].dump().find("no probe in the store"), std::string::npos);
  EXPECT_NE(html.find("id=\"left-out\""), std::string::npos);
}

}  // namespace
}  // namespace tb

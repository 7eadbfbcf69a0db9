#include "report_tables.h"

#include <cmath>

#include "buckets.h"
#include "compare_format.h"
#include "reports.h"

namespace tb::reports {

namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "-";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}
std::string n(const json& j, const char* key) {
  return j.is_object() && j.contains(key) ? format_number(j[key]) : "-";
}
std::string mib(const json& v) {
  return v.is_number() ? format_number(v.get<double>() / (1024.0 * 1024.0)) : "-";
}
std::string pct(const json& v) {
  return v.is_number() ? format_number(100 * v.get<double>()) : "-";
}
std::string ids(const json& v) {
  std::string s;
  for (const auto& i : v) s += (s.empty() ? "" : ", ") + i.dump();
  return s;
}

Table make(std::string id, std::vector<std::string> head, std::vector<bool> numeric) {
  Table t;
  t.id = std::move(id);
  t.head = std::move(head);
  t.numeric = std::move(numeric);
  return t;
}

}  // namespace

std::string roofline_name(const json& chart) {
  return str(chart, "backend") + " " + str(chart, "dtype");
}

std::string latency_class(const json& classes, double ms) {
  const auto& edges = classes["edges_ms"];
  const auto& labels = classes["labels"];
  std::size_t i = 0;
  while (i < edges.size() && ms >= edges[i].get<double>()) ++i;
  return i < labels.size() ? labels[i].get<std::string>() : "-";
}

double roof_at(const json& chart, double intensity) {
  const json& p = chart["compute_ceiling"]["value"];
  const json& b = chart["bandwidth_ceiling"]["value"];
  double roof = INFINITY;
  if (p.is_number()) roof = p.get<double>();
  if (b.is_number()) roof = std::min(roof, b.get<double>() * intensity);
  return std::isfinite(roof) ? roof : NAN;
}

Table probe_table(const json& d) {
  Table t = make("probe", {"what", "value"}, {false, false});
  const json& p = d["probe"];
  std::string cores = str(p, "cores") + " cores, " + str(p, "threads") + " threads";
  std::string isa;
  for (const auto& i : p["isa"]) isa += (isa.empty() ? "" : " ") + i.get<std::string>();
  t.rows = {{"CPU", str(p, "cpu") + " (" + str(p, "vendor") + ")"},
            {"cores", cores},
            {"best f32 ISA", str(p, "best_f32_isa")},
            {"ISA extensions", isa.empty() ? "-" : isa},
            {"memory (GiB)", p["memory_total_bytes"].is_number()
                                 ? format_number(p["memory_total_bytes"].get<double>() / (1 << 30))
                                 : "-"}};
  for (const auto& a : p["accelerators"])
    t.rows.push_back({str(a, "api"), a.value("available", false)
                                         ? str(a, "name") + " (type " + str(a, "type") + ")"
                                         : "unavailable: " + str(a, "why")});
  t.rows.push_back({"probe", "run " + str(p, "run_id") + ", result " + str(p, "result_id") +
                                 ", measured " + str(p, "measured_at") +
                                 (p.value("quick", false) ? " (quick)" : "")});
  return t;
}

Table ceilings_table(const json& d) {
  Table t =
      make("ceilings", {"ceiling", "value", "unit", "probe field"}, {false, true, false, false});
  for (const auto& c : d["ceilings"])
    t.rows.push_back({str(c, "name"), c["value"].is_boolean() ? c["value"].dump() : n(c, "value"),
                      str(c, "unit"), str(c, "source")});
  return t;
}

Table warnings_table(const json& d) {
  Table t = make("warnings", {"from", "warning", "what it means"}, {false, false, false});
  for (const auto& w : d["warnings"])
    t.rows.push_back({str(w, "source"), str(w, "code"), str(w, "message")});
  return t;
}

Table roofline_table(const json& chart, const std::string& id) {
  Table t = make(
      id,
      {"#", "problem", "status", chart["dtype"] == "s8" ? "intensity (OP/B)" : "intensity (FLOP/B)",
       chart["compute_unit"], "GB/s", "median (ms)", "% of roof", "result ids"},
      {true, false, false, true, true, true, true, true, false});
  int i = 0;
  for (const auto& p : chart["points"]) {
    const double roof = roof_at(chart, p["intensity"].get<double>());
    t.rows.push_back(
        {std::to_string(++i), str(p, "problem"), str(p, "status"), n(p, "intensity"),
         n(p, "gflops"), n(p, "gbps"), n(p, "median_ms"),
         std::isfinite(roof) ? format_number(100 * p["gflops"].get<double>() / roof) : "-",
         ids(p["repetitions"])});
  }
  return t;
}

Table not_plotted_table(const json& chart, const std::string& id) {
  Table t = make(id, {"problem", "status", "why"}, {false, false, false});
  for (const auto& p : chart["not_plotted"])
    t.rows.push_back({str(p, "problem"), str(p, "status"), str(p, "message")});
  return t;
}

Table tiers_table(const json& tiers) {
  Table t =
      make("tiers-table",
           {"tier", "backend", "status", "p10 (ms)", "p50 (ms)", "p90 (ms)", "latency class",
            "peak memory (MiB)", "weights (MiB)", "host round trips", "transfer share (%)",
            "configuration", "result ids"},
           {false, false, false, true, true, true, false, true, true, true, true, false, false});
  for (const auto& r : tiers["rows"]) {
    const json& l = r["latency_ms"];
    std::string status = str(r, "status");
    if (!r["message"].get<std::string>().empty()) status += ": " + str(r, "message");
    t.rows.push_back(
        {str(r, "workload"), str(r, "backend"), status, n(l, "p10"), n(l, "p50"), n(l, "p90"),
         l.is_object() ? latency_class(tiers["latency_classes"], l["p50"].get<double>()) : "-",
         mib(r["peak_memory_bytes"]), mib(r["weight_bytes"]), format_number(r["host_round_trips"]),
         pct(r["transfer_share"]), r["config"].get<std::string>().empty() ? "-" : str(r, "config"),
         ids(r["repetitions"])});
  }
  return t;
}

Table load_table(const json& tiers) {
  Table t =
      make("load-table",
           {"tier", "backend", "read cold (ms)", "read warm (ms)", "compile cold (ms)",
            "compile cached (ms)", "upload (ms)", "first inference (ms)", "steady state p50 (ms)"},
           {false, false, true, true, true, true, true, true, true});
  for (const auto& r : tiers["rows"]) {
    const json& l = r["load_ms"];
    if (!l["first_inference"].is_number()) continue;
    t.rows.push_back({str(r, "workload"), str(r, "backend"), n(l, "read_cold"), n(l, "read_warm"),
                      n(l, "compile_cold"), n(l, "compile_cached"), n(l, "upload"),
                      n(l, "first_inference"), n(r["latency_ms"], "p50")});
  }
  return t;
}

Table comparison_table(const json& c) {
  Table t =
      make("comparison-table",
           {"benchmark", "base median", "current median", "ratio", "CI", "p", "verdict", "note"},
           {false, true, true, true, true, true, false, false});
  for (const auto& r : c["benchmarks"]) {
    const auto side = [&](const char* k) {
      return r[k].is_object() && r[k]["median"].is_number()
                 ? compare::format_value(r[k]["median"].get<double>(), r["unit"].get<std::string>())
                 : std::string("-");
    };
    const std::string verdict = r["verdict"].get<std::string>();
    const json& ci = r["ratio_ci"];
    t.rows.push_back({str(r, "key"), side("base"), side("current"), n(r, "ratio"),
                      ci[0].is_number() && ci[1].is_number()
                          ? format_number(ci[0]) + " .. " + format_number(ci[1])
                          : "-",
                      n(r, "p_value"), verdict == "too_noisy" ? "~ too noisy" : verdict,
                      str(r, "note")});
    t.row_class.push_back(
        verdict == "regression" || verdict == "improvement" || verdict == "too_noisy" ? verdict
                                                                                      : "");
  }
  return t;
}

Table predictions_table(const json& p) {
  Table t = make("predictions-table",
                 {"tier", "backend", "measured p50 (ms)", "predicted (ms)", "predicted / measured",
                  "cold start measured (ms)", "cold start predicted (ms)", "note"},
                 {false, false, true, true, true, true, true, false});
  for (const auto& r : p["rows"])
    t.rows.push_back({str(r, "workload"), str(r, "backend"), n(r, "measured_ms"),
                      n(r, "predicted_ms"), n(r, "ratio"), n(r, "cold_measured_ms"),
                      n(r, "cold_predicted_ms"),
                      r["feasible"].get<bool>() ? "" : "not predicted: " + str(r, "why")});
  return t;
}

std::string decision_column(const json& c) {
  const std::string cache = c["cache"];
  return c["network"].get<std::string>() + " " +
         (cache == "none"           ? "cold"
          : cache == "all-compiled" ? "warm"
                                    : cache);
}

std::string decision_cell(const json& x) {
  const std::string kind = x["kind"];
  std::string s = kind == "local" ? "device" : kind;
  if (kind != "none") {
    const std::string w = x["workload"];
    s += " " + w.substr(w.rfind(':') + 1) + ", " + n(x, "latency_ms") + " ms";
    if (!x["meets_objective"].get<bool>()) s += ", misses";
  }
  return x["agrees_with_oracle"].get<bool>() ? s : s + " *";
}

Table decisions_table(const json& d) {
  Table t = make("decisions-table", {"tier on backend"}, {false});
  for (const auto& c : d["columns"]) {
    t.head.push_back(decision_column(c));
    t.numeric.push_back(false);
  }
  for (const auto& r : d["rows"]) {
    std::vector<std::string> row = {r["config"]};
    for (const auto& c : r["cells"]) row.push_back(decision_cell(c));
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table networks_table(const json& d) {
  Table t = make("networks-table", {"network", "RTT (ms)", "up (Mbit/s)", "down (Mbit/s)"},
                 {false, true, true, true});
  for (const auto& x : d["networks"])
    t.rows.push_back(x.value("offline", false)
                         ? std::vector<std::string>{str(x, "name"), "offline", "-", "-"}
                         : std::vector<std::string>{str(x, "name"), n(x, "rtt_ms"), n(x, "up_mbps"),
                                                    n(x, "down_mbps")});
  return t;
}

Table profile_device_table(const json& s) {
  Table t = make("profile-device", {"device class", "value"}, {false, false});
  for (const auto& [k, v] : s["device"].items())
    t.rows.push_back({k, v.is_string() ? v.get<std::string>() : v.dump()});
  t.rows.push_back({"granularity", str(s, "granularity")});
  return t;
}

Table profile_tiers_table(const json& s) {
  Table t = make("profile-tiers", {"tier", "feasibility", "latency", "cold start", "memory"},
                 {false, false, false, false, false});
  for (const auto& [k, v] : s["tiers"].items())
    t.rows.push_back(
        {k, str(v, "feasibility"), str(v, "latency"), str(v, "cold_start"), str(v, "memory")});
  return t;
}

}  // namespace tb::reports

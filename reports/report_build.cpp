// build_report: the one place a report's figures come from. Everything is read from the store;
// the renderers (report_html.cpp, report_markdown.cpp) only lay this document out.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "buckets.h"
#include "calibrate.h"
#include "compare.h"
#include "compare_format.h"
#include "evaluate.h"
#include "kernels.h"
#include "models.h"
#include "predictor.h"
#include "problem.h"
#include "profiles.h"
#include "reports.h"
#include "results_io.h"
#include "switches.h"

namespace tb::reports {

namespace {

using nlohmann::json;

double num(const json& j, const char* key, double fallback = -1) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}
json ms(const json& j, const char* key) {
  const double s = num(j, key);
  return s >= 0 ? json(s * 1e3) : json();
}

json run_json(const RunRecord& r) {
  return {{"id", r.id},         {"started_at", r.started_at}, {"finished_at", r.finished_at},
          {"status", r.status}, {"command", r.command},       {"git_commit", r.git_commit}};
}

// The probe a run was measured under: the newest probe stored in or before that run, else the
// newest probe in the store (a probe made after the run), else none.
Result<std::optional<ResultRecord>> probe_for(Store& store, std::int64_t run_id) {
  auto runs = store.runs(100000);
  if (!runs) return runs.error();
  for (const auto& run : runs.value()) {
    if (run.id > run_id) continue;
    auto results = store.results(run.id);
    if (!results) return results.error();
    for (auto it = results->rbegin(); it != results->rend(); ++it)
      if (it->kind == "probe") return std::optional<ResultRecord>(*it);
  }
  return store.latest_result("probe");
}

json probe_summary(const ResultRecord& probe) {
  const json& p = probe.metrics;
  const json cpu = p.value("cpu", json::object());
  const json topo = cpu.value("topology", json::object());
  json isa = json::array();
  const json isa_flags = cpu.value("isa", json::object());
  for (const auto& [k, v] : isa_flags.items())
    if (v.is_boolean() && v.get<bool>()) isa.push_back(k);
  json accel = json::array();
  const json apis = p.value("accelerators", json::object());
  for (const auto& [api, a] : apis.items()) {
    if (!a.value("available", false)) {
      accel.push_back({{"api", api}, {"available", false}, {"why", a.value("reason", "")}});
      continue;
    }
    for (const auto& d : a.value("devices", json::array()))
      accel.push_back({{"api", api},
                       {"available", true},
                       {"name", d.value("name", "")},
                       {"type", d.value("type", "")}});
  }
  const json env = p.value("environment", json::object());
  return {{"run_id", probe.run_id},
          {"result_id", probe.id},
          {"measured_at", p.value("timestamp_utc", probe.created_at)},
          {"quick", p.value("options", json::object()).value("quick", false)},
          {"cpu", cpu.value("brand", "unknown")},
          {"vendor", cpu.value("vendor", "unknown")},
          {"cores", topo.value("cores", json())},
          {"threads", topo.value("threads", json())},
          {"best_f32_isa", cpu.value("best_f32_isa", "unknown")},
          {"isa", isa},
          {"memory_total_bytes", env.value("mem_total_bytes", json())},
          {"accelerators", accel}};
}

json ceilings_list(const json& c) {
  static const std::vector<std::pair<const char*, const char*>> kUnits = {
      {"f32_gflops", "GFLOP/s"},
      {"bf16_gflops", "GFLOP/s"},
      {"int8_gops", "GOP/s"},
      {"memory_bandwidth_gbps", "GB/s"},
      {"storage_read_gbps", "GB/s"},
      {"memory_bytes", "B"},
      {"accelerator_f32_gflops", "GFLOP/s"},
      {"accelerator_bandwidth_gbps", "GB/s"}};
  json out = json::array();
  for (const auto& [key, unit] : kUnits)
    if (c.contains(key))
      out.push_back({{"name", key},
                     {"value", c[key]["value"]},
                     {"unit", unit},
                     {"source", c[key].value("source", "")}});
  return out;
}

// What in the run's own environment (captured at its start) makes its timings less trustworthy.
json run_warnings(const RunRecord& run) {
  json w = json::array();
  const json& env = run.env;
  const json cpu = env.value("cpu", json::object());
  if (env.value("virtualization", json::object()).value("is_vm", false))
    w.push_back({{"source", "run"},
                 {"code", "virtualized"},
                 {"message",
                  "the run ran in a virtual machine: vCPUs may share cores, caches "
                  "and memory bandwidth with other guests"}});
  const json load = env.value("loadavg_start", json());
  const double cpus = num(cpu, "logical_cpus", 0);
  if (load.is_array() && !load.empty() && load[0].is_number() && cpus > 0 &&
      load[0].get<double>() >= 0.5 * cpus)
    w.push_back({{"source", "run"},
                 {"code", "high_load"},
                 {"message", "1-minute load average " + format_number(load[0].get<double>()) +
                                 " on " + format_number(cpus) +
                                 " CPUs when the run started: other work competed with it"}});
  const std::string gov = cpu.value("governor", "unknown");
  if (gov != "performance")
    w.push_back({{"source", "run"},
                 {"code", "governor"},
                 {"message", "CPU frequency governor '" + gov +
                                 "' (not 'performance'): the clock may vary with load"}});
  return w;
}

json device_section(const std::optional<ResultRecord>& probe, const RunRecord& run) {
  json d = {{"warnings", run_warnings(run)}};
  if (!probe) {
    d["available"] = false;
    d["why"] = "no probe in the store: run 'tierbench probe'";
    return d;
  }
  d["available"] = true;
  d["probe"] = probe_summary(*probe);
  d["ceilings"] = ceilings_list(profiles::ceilings_from_probe(probe->metrics));
  for (const auto& w : probe->metrics.value("warnings", json::array()))
    d["warnings"].push_back(
        {{"source", "probe"}, {"code", w.value("code", "")}, {"message", w.value("message", "")}});
  return d;
}

// Results of one benchmark repeated within a run: the repetition with the median latency (the
// lower middle for an even count) stands for them, so that every figure shown is one stored
// result's.
template <class Key>
std::map<Key, std::vector<const ResultRecord*>> group(const std::vector<ResultRecord>& results,
                                                      const std::string& kind,
                                                      Key (*key)(const ResultRecord&)) {
  std::map<Key, std::vector<const ResultRecord*>> g;
  for (const auto& r : results)
    if (r.kind == kind) g[key(r)].push_back(&r);
  return g;
}
const ResultRecord& representative(std::vector<const ResultRecord*> v) {
  std::stable_sort(v.begin(), v.end(), [](const ResultRecord* a, const ResultRecord* b) {
    return a->median_s.value_or(INFINITY) < b->median_s.value_or(INFINITY);
  });
  return *v[(v.size() - 1) / 2];
}
json ids(const std::vector<const ResultRecord*>& v) {
  json a = json::array();
  for (const auto* r : v) a.push_back(r->id);
  return a;
}

// The compute ceiling that bounds a kernel of this dtype on this device, with its source.
std::pair<json, json> roofs(const json& c, bool on_cpu, const std::string& dtype) {
  const auto pick = [&](const char* key) -> std::pair<json, json> {
    if (!c.contains(key) || !c[key]["value"].is_number()) return {json(), json()};
    return {c[key]["value"], key};
  };
  if (!on_cpu) return pick("accelerator_f32_gflops");
  std::pair<json, json> p;
  if (dtype == "s8") p = pick("int8_gops");
  if (dtype == "bf16") p = pick("bf16_gflops");
  return p.first.is_null() ? pick("f32_gflops") : p;
}

json roofline_section(const std::vector<ResultRecord>& results, const json& probe) {
  const json c = probe.is_null() ? json::object() : profiles::ceilings_from_probe(probe);
  const auto devices =
      probe.is_null() ? std::map<std::string, bool>() : profiles::probe_devices(probe);
  using Key = std::tuple<std::string, std::string, std::string>;  // backend, dtype, problem
  auto groups = group<Key>(results, "kernel", [](const ResultRecord& r) {
    return Key{r.backend, r.dtype, r.name};
  });
  std::map<std::pair<std::string, std::string>, json> charts;
  for (const auto& [key, v] : groups) {
    const auto& [backend, dtype, name] = key;
    const ResultRecord& r = representative(v);
    json& ch = charts[{backend, dtype}];
    if (ch.is_null()) {
      const auto it = devices.find(r.device);
      // A device the probe does not list is not assumed to be the CPU: it gets no ceiling.
      const bool on_cpu = it != devices.end() && it->second;
      const auto [peak, peak_src] = roofs(c, on_cpu, dtype);
      const char* bw_key = on_cpu ? "memory_bandwidth_gbps" : "accelerator_bandwidth_gbps";
      const bool has_bw = c.contains(bw_key) && c[bw_key]["value"].is_number();
      ch = {{"backend", backend},
            {"dtype", dtype},
            {"device", r.device},
            {"device_is_cpu", on_cpu},
            {"compute_unit", dtype == "s8" ? "GOP/s" : "GFLOP/s"},
            {"compute_ceiling", {{"value", peak}, {"source", peak_src}}},
            {"bandwidth_ceiling",
             {{"value", has_bw ? c[bw_key]["value"] : json()}, {"source", has_bw ? bw_key : ""}}},
            {"points", json::array()},
            {"not_plotted", json::array()}};
    }
    const bool timed = (r.status == Status::passed || r.status == Status::mistrusted) && r.gflops &&
                       r.gbps && *r.gflops > 0 && *r.gbps > 0;
    if (!timed) {
      ch["not_plotted"].push_back(
          {{"problem", name}, {"status", r.status}, {"message", r.message}, {"result_id", r.id}});
      continue;
    }
    double intensity = *r.gflops / *r.gbps;
    if (auto p = Problem::parse(name); p && p->min_bytes() > 0)
      intensity = p->flops() / p->min_bytes();
    ch["points"].push_back({{"problem", name},
                            {"status", r.status},
                            {"result_id", r.id},
                            {"repetitions", ids(v)},
                            {"intensity", intensity},
                            {"gflops", *r.gflops},
                            {"gbps", *r.gbps},
                            {"median_ms", *r.median_s * 1e3}});
  }
  json out = json::array();
  for (auto& [_, ch] : charts) out.push_back(std::move(ch));
  return out;
}

json tier_row(const ResultRecord& r, const std::vector<const ResultRecord*>& reps) {
  const json& m = r.metrics;
  const json load = m.value("load", json::object());
  const json ex = m.value("execution", json::object());
  const json br = m.value("breakdown", json::object());
  const json mem = m.value("memory", json::object());
  json row = {{"workload", r.name}, {"backend", r.backend},    {"dtype", r.dtype},
              {"device", r.device}, {"status", r.status},      {"message", r.message},
              {"result_id", r.id},  {"repetitions", ids(reps)}};
  row["latency_ms"] = r.median_s ? json{{"p10", r.p10_s ? json(*r.p10_s * 1e3) : json()},
                                        {"p50", *r.median_s * 1e3},
                                        {"p90", r.p90_s ? json(*r.p90_s * 1e3) : json()}}
                                 : json();
  row["peak_memory_bytes"] =
      mem.contains("peak_rss_added_bytes") ? mem["peak_rss_added_bytes"] : json();
  row["weight_bytes"] = m.value("figures", json::object()).value("weight_bytes", json());
  row["config"] = ex.value("config", "");
  row["host_round_trips"] = ex.value("host_round_trips_per_inference", json());
  row["bytes_to_device"] = ex.value("bytes_to_device_per_inference", json());
  row["bytes_from_device"] = ex.value("bytes_from_device_per_inference", json());
  const double transfer = num(br, "transfer_median_s");
  row["transfer_share"] =
      transfer >= 0 && r.median_s && *r.median_s > 0 ? json(transfer / *r.median_s) : json();
  row["load_ms"] = {{"read_cold", ms(load, "read_cold_s")},
                    {"read_warm", ms(load, "read_warm_s")},
                    {"compile_cold", ms(load, "prepare_first_s")},
                    {"compile_cached", ms(load, "prepare_warm_s")},
                    {"upload", ms(load, "upload_s")},
                    {"first_inference", ms(load, "first_inference_s")}};
  return row;
}

json tiers_section(const std::vector<ResultRecord>& results) {
  using Key = std::pair<std::string, std::string>;  // workload, backend
  auto groups = group<Key>(results, "workload", [](const ResultRecord& r) {
    return Key{r.name, r.backend};
  });
  const auto& g = profiles::buckets().by_default();
  json rows = json::array();
  for (const auto& [_, v] : groups) rows.push_back(tier_row(representative(v), v));
  return {{"latency_classes",
           {{"granularity", g.name},
            {"edges_ms", g.latency_ms.edges},
            {"labels", g.latency_ms.labels()}}},
          {"rows", rows}};
}

Result<json> comparison_section(Store& store, std::int64_t base, std::int64_t current) {
  auto b = store.results(base, true);
  if (!b) return b.error();
  auto c = store.results(current, true);
  if (!c) return c.error();
  json j = compare::to_json(compare::compare(io::sample_set(*b), io::sample_set(*c)));
  j["base_run_id"] = base;
  j["current_run_id"] = current;
  // The environment switches the two runs set differently, as `tierbench compare` shows them.
  auto br = store.run(base);
  if (!br) return br.error();
  auto cr = store.run(current);
  if (!cr) return cr.error();
  const env::SwitchComparison sw = env::compare_switches(br->env, cr->env);
  j["switches"] = env::to_json(sw);
  json lines = json::array();
  if (!sw.comparable) lines.push_back("switches not compared: " + sw.why_not);
  for (const auto& d : sw.differences) lines.push_back("switch differs: " + env::describe(d));
  j["switches"]["lines"] = lines;
  return j;
}

// The predictor (profiles/predictor.h) from the store's latest calibration against what the run
// measured: steady-state latency and cold start per tier and backend. Unavailable, with the
// reason, when the store holds no calibration.
json predictions_section(Store& store, const json& tier_rows) {
  auto cal = profiles::load_calibration(store, "");
  if (!cal) return {{"available", false}, {"why", cal.error().message}};
  json rows = json::array();
  for (const auto& t : tier_rows) {
    if (!t["latency_ms"].is_object()) continue;
    auto w = workloads::parse_workload(t["workload"].get<std::string>());
    if (!w) continue;
    workloads::BuildOptions bo;
    bo.variant = w->variant;
    auto g = workloads::build_tier(w->tier, w->dtype, bo);
    if (!g) continue;
    const auto e = profiles::predict(*g, *cal, t["backend"].get<std::string>());
    const double measured = t["latency_ms"]["p50"].get<double>();
    double cold = 0;
    for (const char* k : {"read_cold", "compile_cold", "upload", "first_inference"})
      cold += t["load_ms"][k].is_number() ? t["load_ms"][k].get<double>() : 0;
    json row = {{"workload", t["workload"]}, {"backend", t["backend"]},
                {"measured_ms", measured},   {"cold_measured_ms", cold > 0 ? json(cold) : json()},
                {"feasible", e.feasible},    {"why", e.why}};
    if (e.feasible && e.latency_ms > 0) {
      row["predicted_ms"] = e.latency_ms;
      row["ratio"] = e.latency_ms / measured;
      row["cold_predicted_ms"] =
          e.read_ms + e.compile_ms + e.upload_ms + e.latency_ms + e.first_inference_ms;
    }
    rows.push_back(row);
  }
  return {{"available", true},
          {"calibration", cal->label},
          {"calibrated_at", cal->created_utc},
          {"rows", rows}};
}

// The decision map: per tier configuration of the run (its dtype variants on one backend) and
// network condition of the decision engine's scenario grid, where the engine places a request
// (profiles/decide/evaluate.h: decision_map), from the local profile of this run's tiers.
json decisions_section(Store& store, std::int64_t run_id) {
  profiles::ProfileOptions po;
  po.workload_run = run_id;
  auto p = profiles::build_profiles(store, po);
  if (!p) return {{"available", false}, {"why", p.error().message}};
  const profiles::DecisionMapOptions o;
  auto m = profiles::decision_map(p->local, o);
  if (!m) return {{"available", false}, {"why", m.error().message}};
  if (m->configs.empty())
    return {{"available", false}, {"why", "this run has no model tier results to decide with"}};
  std::map<std::pair<std::string, std::string>, json> result_of;  // workload, backend
  for (const auto& t : p->local["tiers"])
    result_of[{t["workload"].get<std::string>(), t["backend"].get<std::string>()}] = t["result_id"];
  json columns = json::array();
  for (const auto& n : m->networks)
    for (const auto& c : o.cache_states) columns.push_back({{"network", n["name"]}, {"cache", c}});
  json rows = json::array();
  std::map<std::string, int> kinds;
  for (const auto& c : m->cells) {
    if (rows.empty() || rows.back()["config"] != c.config)
      rows.push_back({{"config", c.config}, {"cells", json::array()}});
    ++kinds[c.kind];
    json cell = {{"network", c.network},
                 {"cache", c.cache},
                 {"kind", c.kind},
                 {"target", c.target},
                 {"workload", c.workload},
                 {"backend", c.backend},
                 {"split_after", c.split_after},
                 {"latency_ms", c.latency_ms >= 0 ? json(c.latency_ms) : json()},
                 {"meets_objective", c.meets_objective},
                 {"why", c.why},
                 {"oracle_kind", c.oracle_kind},
                 {"agrees_with_oracle", c.agrees}};
    // The measured result the device's figures come from (a local placement or a split).
    const auto r = result_of.find({c.workload, c.backend});
    cell["device_result_id"] = c.kind == "local" || c.kind == "split"
                                   ? (r != result_of.end() ? r->second : json())
                                   : json();
    rows.back()["cells"].push_back(std::move(cell));
  }
  return {{"available", true},
          {"request",
           {{"objective_ms", o.objective_ms},
            {"delay", o.delay_sensitive ? "sensitive" : "tolerant"},
            {"edge_load", o.edge_load},
            {"may_leave_device", o.may_leave_device}}},
          {"cache_states",
           {{"none", "cold: nothing on the device, every variant to download and compile"},
            {"all-compiled", "warm: every variant prepared and resident"}}},
          {"figures",
           "this device: the local profile of this run's tiers (measured latency, cold start and "
           "memory); the sites: their classes at the grid's site granularity, as a scheduler "
           "would see them. The oracle decides from the sites' projected figures."},
          {"networks", m->networks},
          {"sites", m->sites},
          {"columns", columns},
          {"rows", rows},
          {"kinds", kinds},
          {"skipped", m->skipped}};
}

json profile_section(Store& store) {
  auto p = profiles::build_profiles(store);
  if (!p) return {{"available", false}, {"why", p.error().message}};
  json s = {{"available", true},
            {"shareable", p->shareable},
            {"inconsistencies", p->inconsistencies},
            {"statement",
             "This is the whole shareable profile: the classes shown here and the granularity "
             "they were written at. It holds nothing else: no names, identifiers, counts or raw "
             "figures. It is built from the whole store (the latest probe and the latest result "
             "of each tier), k-anonymous over the device catalogue."}};
  if (!p->inconsistencies.empty())
    s["statement"] = s["statement"].get<std::string>() +
                     " 'tierbench profile' would not emit it now: a probed ceiling sits below a "
                     "kernel result (listed).";
  return s;
}

}  // namespace

Result<json> build_report(Store& store, const ReportOptions& o) {
  auto run = store.run(o.run_id);
  if (!run) return make_error("unknown run id " + std::to_string(o.run_id));
  auto results = store.results(o.run_id);
  if (!results) return results.error();
  auto probe = probe_for(store, o.run_id);
  if (!probe) return probe.error();
  json report = {{"schema", "tierbench.report/1"},
                 {"generated_at", utc_now_iso8601()},
                 {"run", run_json(*run)},
                 {"device", device_section(*probe, *run)},
                 {"roofline", roofline_section(*results, *probe ? (*probe)->metrics : json())},
                 {"tiers", tiers_section(*results)}};
  report["left_out"] = json::array();
  if (o.base_run_id) {
    auto base = store.run(*o.base_run_id);
    if (!base) return make_error("unknown run id " + std::to_string(*o.base_run_id));
    report["base_run"] = run_json(*base);
    auto c = comparison_section(store, *o.base_run_id, o.run_id);
    if (!c) return c.error();
    report["comparison"] = *c;
  }
  report["profile"] = profile_section(store);
  const json predicted = predictions_section(store, report["tiers"]["rows"]);
  if (predicted["available"].get<bool>())
    report["predictions"] = predicted;
  else
    report["left_out"].push_back(
        {{"section", "predicted against measured latency per tier"}, {"why", predicted["why"]}});
  const json decisions = decisions_section(store, o.run_id);
  if (decisions["available"].get<bool>())
    report["decisions"] = decisions;
  else
    report["left_out"].push_back(
        {{"section", "decision map (tiers x network conditions -> placement)"},
         {"why", decisions["why"]}});
  return report;
}

std::string format_number(double v) {
  if (!std::isfinite(v)) return "-";
  return compare::format_value(v, "");
}

std::string format_number(const nlohmann::json& v) {
  return v.is_number() ? format_number(v.get<double>()) : std::string("-");
}

}  // namespace tb::reports

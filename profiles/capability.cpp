// The local and shareable profiles from the store; the ceiling cross-check; randomised response.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <fmt/core.h>

#include "calibrate.h"
#include "kernels.h"
#include "predictor.h"
#include "privacy.h"
#include "probe_reader.h"
#include "profiles.h"

namespace tb::profiles {

namespace {

using json = nlohmann::json;

double num(const json& j, const char* key, double fallback = -1) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

json figure(const json& value, std::string source, std::string method = {}) {
  json f = {{"value", value}, {"source", std::move(source)}};
  if (!method.empty()) f["method"] = std::move(method);
  return f;
}

// The best all-thread figure over the supported peaks of a class, as a ceiling with its source.
json best_peak(const ProbeReader& probe, PeakClass c) {
  json best = figure(nullptr, "not measured");
  double v = 0;
  for (const char* n : peak_keys(c)) {
    const auto f = probe.peak(n);
    if (!f || !f->supported) continue;
    const double x = f->all_threads_max.value_or(0);
    if (x > v) {
      v = x;
      best = figure(x, fmt::format("compute.peaks.{}.all_threads.max", n),
                    f->all_threads_method.value_or("wall time from release to last end"));
    }
  }
  return best;
}

bool is_cpu_type(const AcceleratorDevice& device) {
  return device.type.empty() || device.type.find("cpu") != std::string::npos;
}

}  // namespace

std::map<std::string, bool> probe_devices(const json& probe) {
  std::map<std::string, bool> cpu;
  const ProbeReader reader(probe);
  for (const auto& d : reader.accelerator_devices()) cpu[d.name] = is_cpu_type(d);
  const std::string brand = reader.cpu_brand();
  if (!brand.empty()) cpu[brand] = true;
  return cpu;
}

// The ceiling that bounds a dtype on a CPU: int8 tiers by the int8 peak, bf16/f16 by the bf16
// peak, each falling back to f32 (converted on the fly).
double dtype_ceiling(const json& c, const std::string& dtype) {
  const auto v = [&](const char* k) {
    return c.contains(k) && c[k]["value"].is_number() ? c[k]["value"].get<double>() : -1.0;
  };
  double x = -1;
  if (dtype == "int8" || dtype == "s8") x = v("int8_gops");
  if (dtype == "bf16" || dtype == "f16") x = v("bf16_gflops");
  return x > 0 ? x : v("f32_gflops");
}

json ceilings_from_probe(const json& p) {
  json c = json::object();
  const ProbeReader probe(p);
  c["f32_gflops"] = best_peak(probe, PeakClass::f32);
  c["bf16_gflops"] = best_peak(probe, PeakClass::bf16);
  c["int8_gops"] = best_peak(probe, PeakClass::int8);
  const auto measured = [](std::optional<double> v, const char* source) {
    return v ? figure(*v, source) : figure(nullptr, "not measured");
  };
  c["memory_bandwidth_gbps"] =
      measured(probe.memory_read_bandwidth_max(), "memory.bandwidth.read.all_threads.max");
  c["storage_read_gbps"] = measured(probe.storage_cold_read_median(), "storage.cold_read.median");
  c["memory_bytes"] = measured(probe.mem_total_bytes(), "environment.mem_total_bytes");
  bool accel = false;
  double accel_gflops = -1, accel_gbps = -1;
  for (const auto& d : probe.accelerator_devices()) {
    if (is_cpu_type(d)) continue;
    accel = true;
    accel_gflops = std::max(accel_gflops, d.peak_f32_gflops_max.value_or(-1));
    accel_gbps = std::max(accel_gbps, d.global_bw_gbps_max.value_or(-1));
  }
  c["accelerator"] = figure(accel, "accelerators.*.devices[].type not cpu");
  if (accel_gflops > 0)
    c["accelerator_f32_gflops"] =
        figure(accel_gflops, "accelerators.*.devices[].measured.peak_f32_gflops.max");
  if (accel_gbps > 0)
    c["accelerator_bandwidth_gbps"] =
        figure(accel_gbps, "accelerators.*.devices[].measured.global_bw_gbps.max");
  return c;
}

json classify(const DeviceFigures& d, const std::vector<TierFigures>& tiers, const Granularity& g) {
  json mem = kUnknown;
  if (g.memory_gib.values.empty()) {
    mem = kAny;
  } else if (d.memory_gib > 0) {
    const double r = g.memory_gib.round(d.memory_gib);
    mem = r == std::floor(r) ? json(static_cast<std::int64_t>(r)) : json(r);
  }
  json out = {{"schema", "tierbench.profile.shareable"},
              {"version", 1},
              {"granularity", g.name},
              {"device",
               {{"compute", g.compute_gflops.label(d.compute_gflops)},
                {"bandwidth", g.bandwidth_gbps.label(d.bandwidth_gbps)},
                {"memory_gib", mem},
                {"storage", g.storage_gbps.label(d.storage_gbps)},
                {"accelerator", d.accelerator}}}};
  json t = json::object();
  for (const auto& tf : tiers) {
    const bool runs = tf.feasibility == "runs" || tf.feasibility == "too-slow";
    t[tf.workload] = {
        {"feasibility", tf.feasibility},
        {"latency", runs && tf.latency_ms >= 0 ? g.latency_ms.label(tf.latency_ms) : kNone},
        {"cold_start",
         runs && tf.cold_start_ms >= 0 ? g.cold_start_ms.label(tf.cold_start_ms) : kNone},
        {"memory", tf.memory_mib >= 0 ? g.model_memory_mib.label(tf.memory_mib) : kNone}};
  }
  out["tiers"] = t;
  return out;
}

DeviceFigures device_figures(const json& local) {
  const json& c = local.at("ceilings");
  const auto v = [&](const char* k) {
    return c.contains(k) && c[k]["value"].is_number() ? c[k]["value"].get<double>() : -1.0;
  };
  DeviceFigures d;
  d.compute_gflops = std::max(v("f32_gflops"), v("accelerator_f32_gflops"));
  d.bandwidth_gbps = std::max(v("memory_bandwidth_gbps"), v("accelerator_bandwidth_gbps"));
  d.memory_gib = v("memory_bytes") > 0 ? v("memory_bytes") / (1024.0 * 1024 * 1024) : -1;
  d.storage_gbps = v("storage_read_gbps");
  d.accelerator = c.contains("accelerator") && c["accelerator"]["value"] == true;
  return d;
}

std::vector<TierFigures> tier_figures(const json& local) {
  // Per workload: the best entry (marked "best"), else the most telling failure.
  std::map<std::string, TierFigures> by;
  const auto rank = [](const std::string& f) {
    return f == "runs" ? 3 : f == "too-slow" ? 2 : f == "does-not-fit" ? 1 : 0;
  };
  std::map<std::string, bool> chosen_best;
  for (const auto& t : local.at("tiers")) {
    TierFigures f;
    f.workload = t.at("workload").get<std::string>();
    // A user's own model (tierbench run --model) stays in the local profile: its name, a hash of
    // the file's content, would identify the model in a shareable one.
    if (f.workload.rfind("onnx-", 0) == 0) continue;
    f.feasibility = t.at("feasibility").get<std::string>();
    const double lat = num(t["latency_s"], "median"), cold = num(t["cold_start_s"], "total");
    if (lat >= 0) f.latency_ms = lat * 1e3;
    if (cold >= 0) f.cold_start_ms = cold * 1e3;
    if (t["memory_bytes"].is_number())
      f.memory_mib = t["memory_bytes"].get<double>() / (1024.0 * 1024);
    const bool is_best = t.value("best", false);
    auto it = by.find(f.workload);
    if (it == by.end() || (is_best && !chosen_best[f.workload]) ||
        (!chosen_best[f.workload] && rank(f.feasibility) > rank(it->second.feasibility))) {
      by[f.workload] = f;
      chosen_best[f.workload] = chosen_best[f.workload] || is_best;
    }
  }
  std::vector<TierFigures> out;
  for (auto& [_, f] : by) out.push_back(std::move(f));
  return out;
}

namespace {

std::string feasibility_of(const ResultRecord& r, double too_slow_ms) {
  if ((r.status == Status::passed || r.status == Status::mistrusted) && r.median_s)
    return *r.median_s * 1e3 >= too_slow_ms ? "too-slow" : "runs";
  if (r.status == Status::skipped && r.message.rfind("does not fit", 0) == 0) return "does-not-fit";
  return "unsupported";
}

json tier_entry(const ResultRecord& r, const json& ceilings, double too_slow_ms) {
  const json& m = r.metrics;
  const json figs = m.value("figures", json::object());
  const json load = m.value("load", json::object());
  const json mem = m.value("memory", json::object());
  json e = {{"workload", r.name},   {"dtype", r.dtype},
            {"backend", r.backend}, {"device", r.device},
            {"status", r.status},   {"message", r.message},
            {"run_id", r.run_id},   {"result_id", r.id},
            {"best", false},        {"feasibility", feasibility_of(r, too_slow_ms)}};
  e["latency_s"] = r.median_s ? json{{"median", *r.median_s},
                                     {"p10", r.p10_s ? json(*r.p10_s) : json()},
                                     {"p90", r.p90_s ? json(*r.p90_s) : json()}}
                              : json();
  if (load.contains("first_inference_s")) {
    const double read = num(load, "read_cold_s", 0), prep = num(load, "prepare_first_s", 0),
                 up = num(load, "upload_s", 0), first = num(load, "first_inference_s", 0);
    e["cold_start_s"] = {{"read", read},
                         {"prepare", prep},
                         {"upload", up},
                         {"first", first},
                         {"total", read + prep + up + first}};
  } else {
    e["cold_start_s"] = nullptr;
  }
  double mem_bytes = num(mem, "peak_rss_added_bytes");
  if (mem_bytes <= 0)
    mem_bytes = num(figs, "weight_bytes", -1) >= 0
                    ? num(figs, "weight_bytes") + num(figs, "peak_activation_bytes", 0)
                    : -1;
  e["memory_bytes"] = mem_bytes >= 0 ? json(mem_bytes) : json();
  e["macs"] = figs.contains("macs") ? figs["macs"] : json();
  e["weight_bytes"] = figs.contains("weight_bytes") ? figs["weight_bytes"] : json();
  // Roofline time on this device's ceilings; efficiency = roofline / measured calibrates the
  // projection onto other devices (privacy.cpp).
  const double macs = num(figs, "macs"), wb = num(figs, "weight_bytes");
  const double peak = dtype_ceiling(ceilings, r.dtype);
  const double bw = ceilings["memory_bandwidth_gbps"]["value"].is_number()
                        ? ceilings["memory_bandwidth_gbps"]["value"].get<double>()
                        : -1;
  const double bytes = wb >= 0 ? wb + num(figs, "peak_activation_bytes", 0) : -1;
  e["bytes_per_inference"] = bytes >= 0 ? json(bytes) : json();
  if (macs > 0 && bytes >= 0 && peak > 0 && bw > 0 && r.median_s && *r.median_s > 0) {
    const double roof = roofline_s(2 * macs, bytes, peak, bw);
    e["roofline_s"] = roof;
    e["efficiency"] = roof / *r.median_s;
  }
  return e;
}

}  // namespace

Result<Profiles> build_profiles(Store& store, const ProfileOptions& opts) {
  auto probe = store.latest_result("probe");
  if (!probe) return probe.error();
  if (!probe->has_value()) return make_error("no probe in the store: run 'tierbench probe' first");
  json p = (*probe)->metrics;
  if (opts.compute_override) p["compute"] = *opts.compute_override;
  const Buckets& b = buckets();

  Profiles out;
  json local = {
      {"schema", "tierbench.profile.local"}, {"version", 2}, {"created_utc", utc_now_iso8601()}};
  local["ceilings"] = ceilings_from_probe(p);
  for (auto& [k, c] : local["ceilings"].items()) {
    (void)k;
    if (!c.contains("run_id")) c["run_id"] = (*probe)->run_id;
  }
  const json& ceilings = local["ceilings"];

  // The host CPU and the CPU-type devices behind GPU APIs: their kernels are bound by the CPU.
  const std::map<std::string, bool> devices = probe_devices(p);

  // Newest first: for each (workload, backend) the latest result; for each kernel dtype the best.
  std::map<std::pair<std::string, std::string>, json> tiers;
  std::set<std::int64_t> workload_runs, kernel_runs;
  struct Best {
    double gflops = 0;
    ResultRecord r;
  };
  std::map<std::string, Best> best_kernel;
  auto runs = store.runs(500);
  if (!runs) return runs.error();
  for (const auto& run : runs.value()) {
    auto results = store.results(run.id);
    if (!results) return results.error();
    for (const auto& r : results.value()) {
      if (r.kind == "workload") {
        if (opts.workload_run > 0 && run.id != opts.workload_run) continue;
        workload_runs.insert(run.id);
        const auto key = std::make_pair(r.name, r.backend);
        if (!tiers.count(key)) tiers[key] = tier_entry(r, ceilings, b.too_slow_ms);
      } else if (r.kind == "kernel" && r.status == Status::passed && r.gflops && *r.gflops > 0) {
        const auto it = devices.find(r.device);
        if (it == devices.end() || !it->second) continue;
        kernel_runs.insert(run.id);
        auto& bk = best_kernel[r.dtype];
        if (*r.gflops > bk.gflops) bk = {*r.gflops, r};
      }
    }
  }
  // The best backend per workload: the lowest median among those that run.
  std::map<std::string, json*> best;
  for (auto& [key, e] : tiers) {
    if (!e["latency_s"].is_object() ||
        (e["feasibility"] != "runs" && e["feasibility"] != "too-slow"))
      continue;
    json*& cur = best[key.first];
    if (!cur ||
        e["latency_s"]["median"].get<double>() < (*cur)["latency_s"]["median"].get<double>())
      cur = &e;
  }
  for (auto& [_, e] : best) (*e)["best"] = true;
  local["tiers"] = json::array();
  for (auto& [_, e] : tiers) local["tiers"].push_back(std::move(e));

  // Cross-check: no ceiling may sit below what a kernel achieved on this device.
  local["cross_check"] = json::array();
  for (const auto& [dtype, bk] : best_kernel) {
    const char* key = dtype == "f32"    ? "f32_gflops"
                      : dtype == "bf16" ? "bf16_gflops"
                      : dtype == "s8"   ? "int8_gops"
                                        : nullptr;
    if (!key) continue;
    const json& cv = ceilings[key]["value"];
    const bool ok = !cv.is_number() || cv.get<double>() >= bk.gflops * (1 - opts.tolerance);
    local["cross_check"].push_back({{"dtype", dtype},
                                    {"ceiling", cv},
                                    {"best_kernel", bk.gflops},
                                    {"kernel", bk.r.name},
                                    {"backend", bk.r.backend},
                                    {"run_id", bk.r.run_id},
                                    {"result_id", bk.r.id},
                                    {"ok", ok}});
    if (!ok)
      out.inconsistencies.push_back(fmt::format(
          "{} ceiling {:.1f} ({}) is below the {:.1f} that {} reached on {} (run {}, result {})",
          key, cv.get<double>(), ceilings[key]["source"].get<std::string>(), bk.gflops, bk.r.name,
          bk.r.backend, bk.r.run_id, bk.r.id));
  }
  local["provenance"] = {
      {"store", store.path()},
      {"probe_run_id", (*probe)->run_id},
      {"probe_result_id", (*probe)->id},
      {"probe_name", (*probe)->name},
      {"workload_run_ids", std::vector<std::int64_t>(workload_runs.rbegin(), workload_runs.rend())},
      {"kernel_run_ids", std::vector<std::int64_t>(kernel_runs.rbegin(), kernel_runs.rend())},
      {"compute_remeasured", opts.compute_override != nullptr}};

  // The predictor's calibration of this device, when 'tierbench calibrate' stored one.
  local["calibration"] = nullptr;
  if (auto cal = load_calibration(store, ""); cal) local["calibration"] = to_json(*cal);

  const DeviceFigures self_device = device_figures(local);
  const std::vector<TierFigures> self_tiers = tier_figures(local);
  local["classes_at_default"] = classify(self_device, self_tiers, b.by_default());
  const int k = opts.k < 0 ? b.k_anonymity : opts.k;
  if (k <= 1) {
    out.shareable = local["classes_at_default"];
  } else {
    std::vector<Projection> population;
    for (const auto& d : builtin_catalogue()) population.push_back(project(local, d));
    population.push_back({self_device, self_tiers});
    out.shareable = k_anonymise(population, b.default_name, k).back();
  }
  local["shareable"] = out.shareable;
  out.local = std::move(local);
  for (const json* j : {&out.shareable, &out.local})
    if (auto v = validate_profile(*j); !v)
      return make_error("internal error, the profile fails its own schema: " + v.error().message);
  return out;
}

namespace {

// The enum of a class field of the shareable schema, for randomised response.
const json& field_enum(const std::string& section, const std::string& field) {
  const json& s = shareable_schema();
  if (section == "device") return s["properties"]["device"]["properties"][field]["enum"];
  return s["$defs"]["tier"]["properties"][field]["enum"];
}

template <class Visit>
void for_each_class(json& p, Visit&& visit) {
  if (p.contains("device"))
    for (auto& [k, v] : p["device"].items()) visit("device", k, v);
  if (p.contains("tiers"))
    for (auto& [_, t] : p["tiers"].items())
      for (auto& [k, v] : t.items()) visit("tier", k, v);
}

}  // namespace

int class_count(const json& shareable) {
  json p = shareable;
  int n = 0;
  for_each_class(p, [&](const std::string&, const std::string&, json&) { ++n; });
  return n;
}

json randomise(const json& shareable, double epsilon, std::uint64_t seed) {
  json p = shareable;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for_each_class(p, [&](const std::string& section, const std::string& field, json& v) {
    json domain = v.is_boolean() ? json::array({false, true}) : field_enum(section, field);
    const double k = static_cast<double>(domain.size());
    if (k < 2) return;
    const double keep = std::exp(epsilon) / (std::exp(epsilon) + k - 1);
    if (u(rng) < keep) return;
    json others = json::array();
    for (const auto& d : domain)
      if (d != v) others.push_back(d);
    v = others[static_cast<std::size_t>(u(rng) * static_cast<double>(others.size())) %
               others.size()];
  });
  p["randomised_response"] = {{"epsilon", epsilon}};
  return p;
}

}  // namespace tb::profiles

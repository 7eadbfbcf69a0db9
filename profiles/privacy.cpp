#include "privacy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include <fmt/core.h>

#include "predictor.h"

namespace tb::profiles {

namespace {

using json = nlohmann::json;
using Flat = std::map<std::string, std::string>;

void flatten(const json& j, const std::string& at, Flat& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (at.empty() && (k == "schema" || k == "version" || k == "randomised_response")) continue;
      flatten(v, at.empty() ? k : at + "." + k, out);
    }
  } else {
    out[at] = j.dump();
  }
}

// Entropy in bits and the smallest group, over the rows projected onto `fields` (all if empty).
std::pair<double, int> entropy(const std::vector<Flat>& rows, const std::vector<std::string>& keep,
                               const std::string& drop) {
  std::map<std::string, int> groups;
  for (const auto& r : rows) {
    std::string key;
    for (const auto& f : keep) {
      if (f == drop) continue;
      const auto it = r.find(f);
      key += f + "=" + (it == r.end() ? "-" : it->second) + "\x1f";
    }
    ++groups[key];
  }
  double h = 0;
  int k = static_cast<int>(rows.size());
  const double n = static_cast<double>(rows.size());
  for (const auto& [_, c] : groups) {
    const double p = c / n;
    h -= p * std::log2(p);
    k = std::min(k, c);
  }
  return {h, k};
}

// The predictor's projection of a workload onto a catalogue device, when the calibration has
// its backend and dtype (memory feasibility stays with the measured figure).
std::optional<ModelEstimate> predicted(const std::optional<Calibration>& cal,
                                       const std::string& workload, const std::string& backend,
                                       const CatalogueDevice& d) {
  if (!cal) return std::nullopt;
  auto w = workloads::parse_workload(workload);
  if (!w || !cal->find(backend, w->dtype)) return std::nullopt;
  workloads::BuildOptions bo;
  bo.variant = w->variant;
  auto g = workloads::build_tier(w->tier, w->dtype, bo);
  if (!g) return std::nullopt;
  PredictOptions o;
  o.target =
      DeviceSpec{d.f32_gflops, d.f16_gflops, d.int8_gops, d.bandwidth_gbps, d.storage_gbps, 0};
  ModelEstimate e = predict(*g, *cal, backend, o);
  if (!e.feasible || e.latency_ms <= 0) return std::nullopt;
  return e;
}

}  // namespace

PopulationStats measure_population(const std::vector<json>& profiles) {
  PopulationStats s;
  s.n = static_cast<int>(profiles.size());
  if (profiles.empty()) return s;
  std::vector<Flat> rows;
  std::map<std::string, int> names;
  for (const auto& p : profiles) {
    Flat f;
    flatten(p, "", f);
    for (const auto& [k, _] : f) ++names[k];
    rows.push_back(std::move(f));
  }
  std::vector<std::string> fields;
  for (const auto& [k, _] : names) fields.push_back(k);
  const auto [h, k] = entropy(rows, fields, "");
  s.bits = h;
  s.k = k;
  std::map<std::string, int> distinct;
  for (const auto& r : rows) {
    std::string key;
    for (const auto& [f, v] : r) key += f + "=" + v + "\x1f";
    ++distinct[key];
  }
  s.distinct = static_cast<int>(distinct.size());
  for (const auto& f : fields) {
    FieldShare fs;
    fs.field = f;
    fs.entropy_bits = entropy(rows, {f}, "").first;
    fs.removal_bits = h - entropy(rows, fields, f).first;
    std::map<std::string, int> values;
    for (const auto& r : rows) ++values[r.count(f) ? r.at(f) : "-"];
    fs.distinct = static_cast<int>(values.size());
    s.fields.push_back(fs);
  }
  std::stable_sort(s.fields.begin(), s.fields.end(), [](const FieldShare& a, const FieldShare& b) {
    return a.removal_bits != b.removal_bits ? a.removal_bits > b.removal_bits
                                            : a.entropy_bits > b.entropy_bits;
  });
  return s;
}

Result<std::vector<CatalogueDevice>> parse_catalogue(std::string_view text) {
  auto j = parse_limited(text, {.max_bytes = 4 << 20, .max_depth = 8});
  if (!j) return j.error();
  if (!j->is_object() || !(*j).contains("devices") || !(*j)["devices"].is_array())
    return make_error("catalogue: /devices: expected an array of devices");
  std::vector<CatalogueDevice> out;
  for (std::size_t i = 0; i < (*j)["devices"].size(); ++i) {
    const json& d = (*j)["devices"][i];
    const std::string at = "catalogue: /devices/" + std::to_string(i);
    if (!d.is_object()) return make_error(at + ": expected an object");
    CatalogueDevice c;
    for (const char* s : {"name", "category", "source"})
      if (!d.contains(s) || !d[s].is_string() || d[s].get<std::string>().empty())
        return make_error(at + "/" + s + ": missing or not a non-empty string");
    c.name = d["name"];
    c.category = d["category"];
    c.source = d["source"];
    const auto pos = [&](const char* k, double& v, bool required) -> Result<void> {
      if (!d.contains(k) || d[k].is_null()) {
        if (required) return make_error(at + "/" + k + ": missing");
        return {};
      }
      if (!d[k].is_number() || d[k].get<double>() <= 0)
        return make_error(at + "/" + k + ": expected a positive number");
      v = d[k].get<double>();
      return {};
    };
    for (auto [k, v, req] : {std::tuple{"f32_gflops", &c.f32_gflops, true},
                             std::tuple{"f16_gflops", &c.f16_gflops, false},
                             std::tuple{"int8_gops", &c.int8_gops, false},
                             std::tuple{"bandwidth_gbps", &c.bandwidth_gbps, true},
                             std::tuple{"memory_gib", &c.memory_gib, true},
                             std::tuple{"storage_gbps", &c.storage_gbps, true}})
      if (auto r = pos(k, *v, req); !r) return r.error();
    if (!d.contains("accelerator") || !d["accelerator"].is_boolean())
      return make_error(at + "/accelerator: expected true or false");
    c.accelerator = d["accelerator"];
    out.push_back(std::move(c));
  }
  return out;
}

const std::vector<CatalogueDevice>& builtin_catalogue() {
  static const std::vector<CatalogueDevice> c = [] {
    auto r = parse_catalogue(embedded("devices.json"));
    if (!r) throw std::logic_error("built-in catalogue: " + r.error().message);
    return std::move(r).value();
  }();
  return c;
}

Projection project(const json& local, const CatalogueDevice& d) {
  const Buckets& b = buckets();
  Projection p;
  p.device.compute_gflops = d.f32_gflops;
  p.device.bandwidth_gbps = d.bandwidth_gbps;
  p.device.memory_gib = d.memory_gib;
  p.device.storage_gbps = d.storage_gbps;
  p.device.accelerator = d.accelerator;

  std::optional<Calibration> cal;
  if (local.contains("calibration") && local["calibration"].is_object())
    if (auto c = calibration_from_json(local["calibration"]); c) cal = std::move(*c);
  // The best local entry per workload, and the median efficiency for tiers without one.
  std::map<std::string, const json*> best;
  std::vector<double> effs;
  for (const auto& t : local.at("tiers")) {
    const std::string w = t.at("workload");
    if (t.value("best", false) || !best.count(w)) best[w] = &t;
    if (t.value("best", false) && t.contains("efficiency") && t["efficiency"].is_number())
      effs.push_back(t["efficiency"].get<double>());
  }
  std::sort(effs.begin(), effs.end());
  const double median_eff = effs.empty() ? 0.3 : effs[effs.size() / 2];
  const auto v = [](const json& j, const char* k) {
    return j.contains(k) && j[k].is_number() ? j[k].get<double>() : -1.0;
  };
  for (const auto& [w, tp] : best) {
    const json& t = *tp;
    TierFigures f;
    f.workload = w;
    const double mem = v(t, "memory_bytes");
    f.memory_mib = mem >= 0 ? mem / (1024.0 * 1024) : -1;
    const double macs = v(t, "macs"), bytes = v(t, "bytes_per_inference");
    const std::string local_feas = t.at("feasibility");
    if (local_feas == "unsupported" || macs <= 0 || bytes < 0) {
      f.feasibility = "unsupported";
      p.tiers.push_back(f);
      continue;
    }
    if (mem >= 0 && mem > b.fit_fraction * d.memory_gib * 1024 * 1024 * 1024) {
      f.feasibility = "does-not-fit";
      p.tiers.push_back(f);
      continue;
    }
    const std::string dtype = t.value("dtype", "f32");
    // With a calibration of this tier's backend and dtype: the predictor's projection.
    if (const auto e = predicted(cal, w, t.value("backend", ""), d)) {
      f.latency_ms = e->latency_ms;
      f.feasibility = f.latency_ms >= b.too_slow_ms ? "too-slow" : "runs";
      f.cold_start_ms =
          e->read_ms + e->compile_ms + e->upload_ms + e->latency_ms + e->first_inference_ms;
      p.tiers.push_back(f);
      continue;
    }
    double peak = d.f32_gflops;
    if ((dtype == "int8" || dtype == "s8") && d.int8_gops > 0) peak = d.int8_gops;
    if ((dtype == "bf16" || dtype == "f16") && d.f16_gflops > 0) peak = d.f16_gflops;
    const double eff = v(t, "efficiency") > 0 ? v(t, "efficiency") : median_eff;
    const double roof = roofline_s(2 * macs, bytes, peak, d.bandwidth_gbps);
    const double lat_s = roof / eff;
    f.latency_ms = lat_s * 1e3;
    f.feasibility = f.latency_ms >= b.too_slow_ms ? "too-slow" : "runs";
    // Cold start: the weights read at the device's storage speed, this device's compile and
    // upload, and a first inference as much slower than steady state as it was here.
    const json cold = t.value("cold_start_s", json());
    const double med = t["latency_s"].is_object() ? v(t["latency_s"], "median") : -1;
    const double first_ratio =
        cold.is_object() && med > 0 ? std::max(1.0, v(cold, "first") / med) : 1.0;
    const double wb = std::max(0.0, v(t, "weight_bytes"));
    const double fixed = cold.is_object()
                             ? std::max(0.0, v(cold, "prepare")) + std::max(0.0, v(cold, "upload"))
                             : 0.0;
    f.cold_start_ms = (wb / (d.storage_gbps * 1e9) + fixed + lat_s * first_ratio) * 1e3;
    p.tiers.push_back(f);
  }
  return p;
}

std::vector<json> k_anonymise(const std::vector<Projection>& pop, const std::string& start, int k) {
  const Buckets& b = buckets();
  std::vector<json> out(pop.size());
  if (k <= 1) {
    for (std::size_t i = 0; i < pop.size(); ++i)
      out[i] = classify(pop[i].device, pop[i].tiers, b.granularity(start));
    return out;
  }
  auto first = std::find(b.ladder.begin(), b.ladder.end(), start);
  if (first == b.ladder.end()) first = b.ladder.begin();
  std::vector<std::size_t> remaining(pop.size());
  for (std::size_t i = 0; i < pop.size(); ++i) remaining[i] = i;
  // Groups finalised at each step, the latest step's last.
  std::vector<std::vector<std::vector<std::size_t>>> steps;
  for (auto it = first; it != b.ladder.end() && !remaining.empty(); ++it) {
    const Granularity& g = b.granularity(*it);
    std::map<std::string, std::vector<std::size_t>> groups;
    std::map<std::size_t, json> prof;
    for (const std::size_t i : remaining) {
      prof[i] = classify(pop[i].device, pop[i].tiers, g);
      groups[prof[i].dump()].push_back(i);
    }
    std::vector<std::size_t> next;
    steps.emplace_back();
    for (auto& [_, members] : groups) {
      if (static_cast<int>(members.size()) >= k) {
        for (const std::size_t i : members) out[i] = prof[i];
        steps.back().push_back(members);
      } else {
        next.insert(next.end(), members.begin(), members.end());
      }
    }
    remaining = std::move(next);
  }
  if (remaining.empty()) return out;
  // Too few left to hide among themselves: add the smallest groups of the latest steps.
  for (auto st = steps.rbegin(); st != steps.rend() && static_cast<int>(remaining.size()) < k;
       ++st) {
    std::sort(st->begin(), st->end(),
              [](const auto& x, const auto& y) { return x.size() < y.size(); });
    for (std::size_t gi = 0; static_cast<int>(remaining.size()) < k && gi < st->size(); ++gi)
      remaining.insert(remaining.end(), (*st)[gi].begin(), (*st)[gi].end());
  }
  // The rest, in order of their tiers' latency (the sum of its logarithms; a tier that does not
  // run counts as 1e9 ms), then of compute, in consecutive chunks of k to 2k - 1 devices: the
  // neighbours that differ least in the tier classes decisions rest on. Each chunk shares one
  // profile in which every field takes the finest class of the ladder (from `start`) that all
  // its members agree on; when none, a tier's latency, cold start and memory take the range of
  // consecutive `start` classes that covers every member ("16-1000 ms"), other fields "any".
  std::vector<double> order(pop.size(), 0);
  for (const std::size_t i : remaining)
    for (const auto& t : pop[i].tiers)
      order[i] +=
          std::log((t.feasibility == "runs" || t.feasibility == "too-slow") && t.latency_ms > 0
                       ? t.latency_ms
                       : 1e9);
  std::sort(remaining.begin(), remaining.end(), [&](std::size_t x, std::size_t y) {
    if (order[x] != order[y]) return order[x] < order[y];
    return pop[x].device.compute_gflops < pop[y].device.compute_gflops;
  });
  const Granularity& at_start = b.granularity(*first);
  const std::map<std::string, const Scale*> tier_scales = {{"latency", &at_start.latency_ms},
                                                           {"cold_start", &at_start.cold_start_ms},
                                                           {"memory", &at_start.model_memory_mib}};
  std::vector<std::vector<json>> by_step(pop.size());
  for (const std::size_t i : remaining)
    for (auto it = first; it != b.ladder.end(); ++it)
      by_step[i].push_back(classify(pop[i].device, pop[i].tiers, b.granularity(*it)));
  const std::size_t chunks =
      std::max<std::size_t>(1, remaining.size() / static_cast<std::size_t>(k));
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t lo = c * remaining.size() / chunks, hi = (c + 1) * remaining.size() / chunks;
    // The finest step whose class of (section, tier, field) is the same for every member.
    const auto common = [&](const std::string& section, const std::string& tier,
                            const std::string& field) -> json {
      for (std::size_t st = 0; st < by_step[remaining[lo]].size(); ++st) {
        const auto value = [&](std::size_t i) -> json {
          const json& p = by_step[i][st];
          if (section == "device") return p["device"][field];
          return p["tiers"].contains(tier) ? p["tiers"][tier][field] : json();
        };
        const json v = value(remaining[lo]);
        bool same = !v.is_null();
        for (std::size_t m = lo + 1; m < hi && same; ++m) same = value(remaining[m]) == v;
        if (same) return v;
      }
      const auto sc = tier_scales.find(field);
      if (section != "tier" || sc == tier_scales.end()) return kAny;
      const auto labels = sc->second->labels();
      int from = static_cast<int>(labels.size()), to = -1;
      for (std::size_t m = lo; m < hi; ++m) {
        const json& p = by_step[remaining[m]].front()["tiers"];
        if (!p.contains(tier) || !p[tier][field].is_string()) return kAny;
        const auto it = std::find(labels.begin(), labels.end(), p[tier][field].get<std::string>());
        if (it == labels.end()) return kAny;  // "none": a member does not run it
        const int i = static_cast<int>(it - labels.begin());
        from = std::min(from, i), to = std::max(to, i);
      }
      return sc->second->span(from, to);
    };
    json merged = by_step[remaining[lo]].front();
    merged["granularity"] = "withheld";
    for (auto& [f, v] : merged["device"].items()) v = common("device", "", f);
    for (auto& [t, fields] : merged["tiers"].items())
      for (auto& [f, v] : fields.items()) v = common("tier", t, f);
    for (std::size_t m = lo; m < hi; ++m) out[remaining[m]] = merged;
  }
  return out;
}

double decision_agreement(const std::vector<Projection>& population,
                          const std::vector<json>& profiles) {
  const Buckets& b = buckets();
  std::int64_t agree = 0, total = 0;
  for (std::size_t i = 0; i < population.size(); ++i) {
    const auto& p = population[i];
    const json& share = profiles.at(i);
    for (const auto& t : p.tiers) {
      const bool runs = t.feasibility == "runs" || t.feasibility == "too-slow";
      const json c = share["tiers"].contains(t.workload) ? share["tiers"][t.workload] : json();
      const bool class_runs =
          c.is_object() && (c["feasibility"] == "runs" || c["feasibility"] == "too-slow");
      const double upper = class_runs ? label_upper(c["latency"].get<std::string>())
                                      : std::numeric_limits<double>::infinity();
      for (const double budget : b.decision_budgets_ms) {
        const bool exact = runs && t.latency_ms <= budget;
        const bool by_class = class_runs && upper <= budget;
        agree += exact == by_class;
        ++total;
      }
    }
  }
  return total ? static_cast<double>(agree) / static_cast<double>(total) : 1.0;
}

double decision_agreement(const std::vector<Projection>& population, const Granularity& g) {
  std::vector<json> profiles;
  for (const auto& p : population) profiles.push_back(classify(p.device, p.tiers, g));
  return decision_agreement(population, profiles);
}

std::vector<GranularityReport> catalogue_tradeoff(const json& local,
                                                  const std::vector<CatalogueDevice>& catalogue) {
  const Buckets& b = buckets();
  std::vector<Projection> population;
  for (const auto& d : catalogue) population.push_back(project(local, d));
  std::vector<GranularityReport> out;
  const auto add = [&](std::string name, std::vector<json> profiles, bool is_default) {
    GranularityReport r;
    r.name = std::move(name);
    r.is_default = is_default;
    r.stats = measure_population(profiles);
    r.agreement = decision_agreement(population, profiles);
    for (const auto& p : profiles) ++r.levels[p.value("granularity", std::string("?"))];
    out.push_back(std::move(r));
  };
  for (const auto& name : b.ladder) {
    add(name, k_anonymise(population, name, 1), false);
    add(fmt::format("k>={} from {}", b.k_anonymity, name),
        k_anonymise(population, name, b.k_anonymity), name == b.default_name);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& x, const auto& y) { return x.stats.bits > y.stats.bits; });
  return out;
}

}  // namespace tb::profiles

// The scenario grid and the oracle (evaluate.h).
#include "evaluate.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "json_schema.h"
#include "models.h"
#include "predictor.h"
#include "privacy.h"
#include "profiles.h"

namespace tb::profiles {

namespace {

using json = nlohmann::json;
using decide::Inputs;
using decide::ModelEstimate;

const json& embedded_json(const char* name) {
  static std::map<std::string, json> cache;  // filled once per name, read-only after
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, json::parse(embedded(name))).first;
  return it->second;
}

Result<workloads::Graph> graph_of(const std::string& workload) {
  auto w = workloads::parse_workload(workload);
  if (!w) return w.error();
  workloads::BuildOptions bo;
  bo.variant = w->variant;
  return workloads::build_tier(w->tier, w->dtype, bo);
}

// Per layer: roofline seconds on (peak, bandwidth), and the bytes crossing a split after it.
struct LayerShape {
  std::string name;
  double roof_s = 0;
  std::uint64_t crossing = 0;
};

std::vector<LayerShape> layer_shapes(const workloads::Graph& g, double peak, double bw) {
  using workloads::ValueKind;
  const int n = static_cast<int>(g.layers.size());
  std::vector<int> first(g.values.size(), n), last(g.values.size(), -1);
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].kind == ValueKind::input) first[v] = -1;
  std::vector<LayerShape> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto& l = g.layers[static_cast<std::size_t>(i)];
    double bytes = 0;
    for (const auto& o : l.in)
      if (o.kind == workloads::Operand::value) {
        last[static_cast<std::size_t>(o.index)] = i;
        bytes += static_cast<double>(g.values[static_cast<std::size_t>(o.index)].bytes());
      }
    const auto o = static_cast<std::size_t>(l.out);
    first[o] = std::min(first[o], i);
    bytes += static_cast<double>(g.values[o].bytes());
    auto& s = out[static_cast<std::size_t>(i)];
    s.name = l.name;
    s.roof_s =
        l.problem ? std::max(l.problem->flops() / peak, l.problem->min_bytes() / bw) : bytes / bw;
  }
  if (g.output >= 0) last[static_cast<std::size_t>(g.output)] = n;
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const auto k = g.values[v].kind;
    if (k != ValueKind::activation && k != ValueKind::input) continue;
    for (int i = std::max(first[v], 0); i < last[v] && i < n; ++i)
      out[static_cast<std::size_t>(i)].crossing += static_cast<std::uint64_t>(g.values[v].bytes());
  }
  return out;
}

double ceiling(const json& ceilings, const char* key) {
  return ceilings.contains(key) && ceilings[key]["value"].is_number()
             ? ceilings[key]["value"].get<double>()
             : -1;
}

std::string group_of(const std::string& workload) {
  return workload.substr(0, workload.rfind(':'));
}
std::string dtype_of(const std::string& workload) {
  return workload.substr(workload.rfind(':') + 1);
}

bool runs(const ModelEstimate& e) {
  return e.feasible && e.latency_ms >= 0;
}

// The layers of `from` scaled to `to`'s latency (the shares are the graph's, on this device).
void attach_layers(ModelEstimate& to, const ModelEstimate& from) {
  if (!to.layers.empty() || from.layers.empty() || from.latency_ms <= 0 || to.latency_ms < 0)
    return;
  to.layers = from.layers;
  for (auto& l : to.layers) l.latency_ms *= to.latency_ms / from.latency_ms;
}

struct Site {
  json spec;
  std::vector<ModelEstimate> truth, engine;
};

Result<std::vector<Site>> sites_of(const json& local, const json& grid) {
  std::vector<Site> out;
  const Granularity& g = buckets().granularity(grid.value("site_granularity", "fine"));
  for (const auto& s : grid.at("sites")) {
    const std::string dev = s.at("device");
    const CatalogueDevice* d = nullptr;
    for (const auto& c : builtin_catalogue())
      if (c.name == dev) d = &c;
    if (!d) return make_error("scenario grid: /sites: no catalogue device named '" + dev + "'");
    const Projection p = project(local, *d);
    Site site{s, {}, {}};
    for (const auto& t : p.tiers) {
      ModelEstimate e;
      e.workload = t.workload;
      e.source = "projected";
      e.feasible = t.feasibility == "runs" || t.feasibility == "too-slow";
      e.why = e.feasible ? "" : t.feasibility;
      e.latency_ms = t.latency_ms;
      site.truth.push_back(e);
    }
    site.engine = decide::estimates_from_profile(classify(p.device, p.tiers, g));
    out.push_back(std::move(site));
  }
  return out;
}

struct Config {
  std::string name;  // "mobilenetv2:b1 on onednn"
  std::vector<ModelEstimate> truth, engine;
};

// Per tier variant group and backend (or the best backend): the truth and the engine's figures.
std::vector<Config> configs_of(const std::vector<ModelEstimate>& measured,
                               const EngineFigures& engine) {
  std::map<std::string, Config> by;
  if (engine.per_backend) {
    for (const auto& e : measured) {
      Config& c = by[group_of(e.workload) + " on " + e.backend];
      c.truth.push_back(e);
      for (const auto& x : engine.device)
        if (x.workload == e.workload && x.backend == e.backend) c.engine.push_back(x);
    }
  } else {
    std::map<std::string, ModelEstimate> best;  // the fastest backend per workload
    for (const auto& e : measured) {
      auto it = best.find(e.workload);
      if (it == best.end() ||
          (runs(e) && (!runs(it->second) || e.latency_ms < it->second.latency_ms)))
        best[e.workload] = e;
    }
    for (const auto& [w, e] : best) {
      Config& c = by[group_of(w) + " on its best backend"];
      c.truth.push_back(e);
      for (auto x : engine.device)
        if (x.workload == w) {
          attach_layers(x, e);
          c.engine.push_back(x);
        }
    }
  }
  std::vector<Config> out;
  for (auto& [name, c] : by) {
    c.name = name;
    out.push_back(std::move(c));
  }
  return out;
}

struct Axis {
  json network, load;
  double objective = 0;
  std::string delay, cache;
  bool may_leave = true;
};

Inputs inputs_for(const Config& c, const std::vector<ModelEstimate>& device,
                  const std::vector<Site>& sites, bool engine, const Axis& a, const json& grid,
                  const std::map<std::string, WorkloadIo>& io) {
  Inputs in;
  in.local = device;
  std::set<std::string> workloads;
  for (const auto& e : c.truth) workloads.insert(e.workload);
  std::string smallest;
  for (const auto& w : workloads)
    if (smallest.empty() || io.at(w).weight_bytes < io.at(smallest).weight_bytes) smallest = w;
  double best_fidelity = -1;
  for (const auto& w : workloads) {
    decide::Variant v;
    v.workload = w;
    v.fidelity = grid.at("fidelity").value(dtype_of(w), 1.0);
    v.download_bytes = io.at(w).weight_bytes;
    v.compiled = a.cache == "all-compiled" || (a.cache == "smallest-compiled" && w == smallest);
    v.cached = v.compiled || a.cache == "all-cached";
    in.variants.push_back(v);
    if (v.fidelity > best_fidelity) {  // the request is the highest-fidelity variant's
      best_fidelity = v.fidelity;
      in.request.input_bytes = io.at(w).input_bytes;
      in.request.output_bytes = io.at(w).output_bytes;
    }
  }
  in.request.objective_ms = a.objective;
  in.request.delay_sensitive = a.delay == "sensitive";
  in.request.may_leave_device = a.may_leave;
  in.network.offline = a.network.value("offline", false);
  in.network.rtt_ms = a.network.value("rtt_ms", 0.0);
  in.network.up_mbps = a.network.value("up_mbps", 0.0);
  in.network.down_mbps = a.network.value("down_mbps", 0.0);
  for (const auto& s : sites) {
    decide::Remote r;
    r.name = s.spec.at("name");
    r.kind = s.spec.at("kind");
    r.rtt_ms = s.spec.at("rtt_ms");
    r.queue_ms = s.spec.value("loaded", false) ? a.load.at("queue_ms").get<double>()
                                               : s.spec.value("queue_ms", 0.0);
    r.estimates = engine ? s.engine : s.truth;
    in.remotes.push_back(std::move(r));
  }
  return in;
}

std::string describe(const decide::Decision& d) {
  if (d.ranked.empty()) return "none";
  const auto& p = d.ranked[0];
  return p.workload + " @ " + p.target + (p.split ? " split after " + p.split->layer : "");
}

void score(DecisionEvaluation& ev, const std::string& name, const std::string& network,
           const Inputs& truth_in, const decide::Decision& de, const decide::Decision& dt) {
  ++ev.scenarios;
  auto& net = ev.by_network[network];
  ++net.second;
  ++ev.oracle_kinds[dt.ranked.empty() ? "none" : dt.ranked[0].kind];
  ++ev.engine_kinds[de.ranked.empty() ? "none" : de.ranked[0].kind];
  bool agree = false, priced_ok = false;
  double regret = 0;
  if (de.ranked.empty() || dt.ranked.empty()) {
    agree = de.ranked.empty() && dt.ranked.empty();
    ev.both_none += agree;
    ev.engine_none_oracle_runs += de.ranked.empty() && !dt.ranked.empty();
    ev.infeasible_choices += !de.ranked.empty() && dt.ranked.empty();
  } else {
    const auto& choice = de.ranked[0];
    if ((!truth_in.request.may_leave_device || truth_in.network.offline) && choice.kind != "local")
      ++ev.constraint_violations;
    const auto priced = decide::price(truth_in, choice);
    if (!priced) {
      ++ev.infeasible_choices;
    } else {
      const double best = dt.ranked[0].latency.total();
      regret = std::max(0.0, (priced->latency.total() - best) / best);
      ev.regrets.push_back(regret);
      priced_ok = true;
      ev.fidelity_lost += priced->fidelity < dt.ranked[0].fidelity;
      agree = choice.same_choice(dt.ranked[0]);
    }
  }
  ev.agree += agree;
  net.first += agree;
  std::set<std::string> targets;
  for (const auto& p : dt.ranked) targets.insert(p.target);
  if (targets.size() > 1) {
    ++ev.contested;
    ev.contested_agree += agree;
    if (priced_ok) ev.contested_regrets.push_back(regret);
  }
  if (!agree && ev.examples.size() < 12)
    ev.examples.push_back({name, describe(de), describe(dt), regret});
}

}  // namespace

const json& decide_scenario_grid() {
  return embedded_json("decide_scenarios.json");
}
const json& decide_request_schema() {
  return embedded_json("decide.request.schema.json");
}
const json& decide_response_schema() {
  return embedded_json("decide.response.schema.json");
}

double DecisionEvaluation::quantile(std::vector<double> r, double q) {
  if (r.empty()) return 0;
  std::sort(r.begin(), r.end());
  return r[static_cast<std::size_t>(
      std::min<double>(q * static_cast<double>(r.size()), static_cast<double>(r.size() - 1)))];
}

Result<std::vector<decide::LayerEstimate>> split_points(const std::string& workload,
                                                        double latency_ms, const json& ceilings) {
  auto g = graph_of(workload);
  if (!g) return g.error();
  const double peak = dtype_ceiling(ceilings, dtype_of(workload)) * 1e9;
  const double bw = ceiling(ceilings, "memory_bandwidth_gbps") * 1e9;
  if (peak <= 0 || bw <= 0)
    return make_error("split points of " + workload +
                      ": the profile has no compute or "
                      "bandwidth ceiling");
  const auto shapes = layer_shapes(*g, peak, bw);
  double total = 0;
  for (const auto& s : shapes) total += s.roof_s;
  std::vector<decide::LayerEstimate> out;
  for (const auto& s : shapes)
    out.push_back({s.name, total > 0 ? latency_ms * s.roof_s / total : 0, s.crossing});
  return out;
}

Result<WorkloadIo> workload_io(const std::string& workload) {
  auto g = graph_of(workload);
  if (!g) return g.error();
  WorkloadIo io;
  io.input_bytes =
      static_cast<std::uint64_t>(g->values[static_cast<std::size_t>(g->input)].bytes());
  io.output_bytes =
      static_cast<std::uint64_t>(g->values[static_cast<std::size_t>(g->output)].bytes());
  io.weight_bytes = static_cast<std::uint64_t>(g->figures().weight_bytes);
  return io;
}

// The measured estimates whose graph tierbench can rebuild (their request and response sizes go
// into `io`); a workload whose graph it cannot rebuild (an imported model) has no request size:
// it stays out of the grid and is named in `skipped`.
std::vector<ModelEstimate> in_grid(const std::vector<ModelEstimate>& measured,
                                   std::map<std::string, WorkloadIo>& io,
                                   std::set<std::string>& skipped) {
  std::vector<ModelEstimate> out;
  for (const auto& e : measured) {
    if (!io.count(e.workload)) {
      auto x = workload_io(e.workload);
      if (!x) {
        skipped.insert(e.workload);
        continue;
      }
      io[e.workload] = *x;
    }
    out.push_back(e);
  }
  return out;
}

Result<std::vector<ModelEstimate>> measured_estimates(const json& local) {
  std::vector<ModelEstimate> out;
  try {
    out = decide::estimates_from_profile(local);
  } catch (const std::invalid_argument& e) {
    return make_error(std::string("local profile: ") + e.what());
  }
  std::map<std::string, std::vector<decide::LayerEstimate>> shapes;  // per workload, for 1 ms
  for (auto& e : out) {
    if (!runs(e)) continue;
    auto it = shapes.find(e.workload);
    if (it == shapes.end()) {
      // A user's imported model (tierbench run --model) is a candidate as a whole: its graph is
      // not rebuilt from the profile, so it offers no split points.
      if (e.workload.rfind("onnx-", 0) == 0) continue;
      auto s = split_points(e.workload, 1.0, local.at("ceilings"));
      if (!s) return s.error();
      it = shapes.emplace(e.workload, std::move(*s)).first;
    }
    e.layers = it->second;
    for (auto& l : e.layers) l.latency_ms *= e.latency_ms;
  }
  return out;
}

Result<std::vector<ModelEstimate>> predicted_estimates(const json& local) {
  if (!local.contains("calibration") || local["calibration"].is_null())
    return make_error("the local profile holds no calibration: run 'tierbench calibrate' first");
  auto cal = calibration_from_json(local["calibration"]);
  if (!cal) return make_error("local profile: /calibration: " + cal.error().message);
  std::vector<ModelEstimate> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& t : local.at("tiers")) {
    const std::string w = t.at("workload"), b = t.at("backend");
    if (!seen.insert({w, b}).second) continue;
    auto g = graph_of(w);
    if (!g) continue;  // an imported model: the predictor needs the graph
    out.push_back(predict(*g, *cal, b));
  }
  return out;
}

Result<DecisionEvaluation> evaluate_decisions(const json& local, const EngineFigures& engine,
                                              const json* grid_in) {
  const json& grid = grid_in ? *grid_in : decide_scenario_grid();
  auto measured = measured_estimates(local);
  if (!measured) return measured.error();
  DecisionEvaluation ev;
  ev.name = engine.name;
  try {
    auto sites = sites_of(local, grid);
    if (!sites) return sites.error();
    std::map<std::string, WorkloadIo> io;
    const auto grid_estimates = in_grid(*measured, io, ev.skipped);
    for (const auto& c : configs_of(grid_estimates, engine))
      for (const auto& net : grid.at("networks"))
        for (const auto& obj : grid.at("objectives_ms"))
          for (const auto& delay : grid.at("delays"))
            for (const auto& cache : grid.at("cache_states"))
              for (const auto& load : grid.at("edge_loads"))
                for (const auto& leave : grid.at("may_leave_device")) {
                  const Axis a{net, load, obj.get<double>(), delay, cache, leave.get<bool>()};
                  const Inputs ei = inputs_for(c, c.engine, *sites, true, a, grid, io);
                  const Inputs ti = inputs_for(c, c.truth, *sites, false, a, grid, io);
                  const std::string name =
                      c.name + " | " + net.at("name").get<std::string>() + " | " + obj.dump() +
                      " ms | " + a.delay + " | " + a.cache + " | edge " +
                      load.at("name").get<std::string>() + (a.may_leave ? "" : " | private");
                  score(ev, name, net.at("name"), ti, decide::decide(ei), decide::decide(ti));
                }
  } catch (const json::exception& e) {
    return make_error(std::string("scenario grid: ") + e.what());
  }
  return ev;
}

Result<DecisionMap> decision_map(const json& local, const DecisionMapOptions& o,
                                 const json* grid_in) {
  const json& grid = grid_in ? *grid_in : decide_scenario_grid();
  auto measured = measured_estimates(local);
  if (!measured) return measured.error();
  DecisionMap map;
  try {
    auto sites = sites_of(local, grid);
    if (!sites) return sites.error();
    const json* load = nullptr;
    for (const auto& l : grid.at("edge_loads"))
      if (l.at("name") == o.edge_load) load = &l;
    if (!load) return make_error("scenario grid: /edge_loads: no load named '" + o.edge_load + "'");
    std::map<std::string, WorkloadIo> io;
    const auto grid_estimates = in_grid(*measured, io, map.skipped);
    map.networks = grid.at("networks");
    map.sites = grid.at("sites");
    for (const auto& c : configs_of(grid_estimates, {"local profile", *measured, true})) {
      map.configs.push_back(c.name);
      for (const auto& net : grid.at("networks"))
        for (const auto& cache : o.cache_states) {
          const Axis a{net,
                       *load,
                       o.objective_ms,
                       o.delay_sensitive ? "sensitive" : "tolerant",
                       cache,
                       o.may_leave_device};
          const auto de = decide::decide(inputs_for(c, c.engine, *sites, true, a, grid, io));
          const auto dt = decide::decide(inputs_for(c, c.truth, *sites, false, a, grid, io));
          DecisionMapCell cell;
          cell.config = c.name;
          cell.network = net.at("name");
          cell.cache = cache;
          cell.oracle_kind = dt.ranked.empty() ? "none" : dt.ranked[0].kind;
          if (de.ranked.empty()) {
            cell.why = de.reason;
            cell.agrees = dt.ranked.empty();
          } else {
            const auto& p = de.ranked[0];
            cell.kind = p.kind;
            cell.target = p.target;
            cell.workload = p.workload;
            cell.backend = p.backend;
            cell.split_after = p.split ? p.split->layer : "";
            cell.latency_ms = p.latency.total();
            cell.meets_objective = p.meets_objective;
            cell.why = p.reasons.empty() ? "" : p.reasons[0];
            cell.agrees = !dt.ranked.empty() && p.same_choice(dt.ranked[0]);
          }
          map.cells.push_back(std::move(cell));
        }
    }
  } catch (const json::exception& e) {
    return make_error(std::string("scenario grid: ") + e.what());
  }
  return map;
}

}  // namespace tb::profiles

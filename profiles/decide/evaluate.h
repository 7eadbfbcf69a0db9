// The proof of the decision engine (part of tb_profiles: it needs the model graphs and the
// catalogue): the figures of a local profile with the graph's split points, the scenario grid
// of data/decide_scenarios.json over every measured configuration, and the oracle, which decides
// every scenario from the measured figures. Agreement: the engine's first placement is the
// oracle's (same target, variant and split point); regret: the extra measured latency of the
// engine's choice over the oracle's.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "decide.h"
#include "result.h"

namespace tb::profiles {

// The layer boundaries of a workload's graph, in execution order: per layer, its share of
// `latency_ms` by its roofline time on the ceilings (a local profile's "ceilings"), and the
// activation bytes that cross a split placed after it (every value written at or before the
// layer and read after it). The measured figures are whole-model: the shares are apportioned.
Result<std::vector<decide::LayerEstimate>> split_points(const std::string& workload,
                                                        double latency_ms,
                                                        const nlohmann::json& ceilings);

// A workload's request and download sizes, from its graph.
struct WorkloadIo {
  std::uint64_t input_bytes = 0, output_bytes = 0, weight_bytes = 0;
};
Result<WorkloadIo> workload_io(const std::string& workload);

// The measured figures of a local profile (decide::estimates_from_profile) with split points.
Result<std::vector<decide::ModelEstimate>> measured_estimates(const nlohmann::json& local);

// The predictor's figures (predictor.h) for every tier and backend of a local profile, from the
// calibration it holds, without the measured latencies; each with its per-layer figures. An error
// when the profile holds no calibration ('tierbench calibrate' first).
Result<std::vector<decide::ModelEstimate>> predicted_estimates(const nlohmann::json& local);

// The engine's figures for one evaluation: for this device, and whether they name a backend
// (a local profile) or only the best (a shareable profile).
struct EngineFigures {
  std::string name;  // "local profile", "shareable profile"
  std::vector<decide::ModelEstimate> device;
  bool per_backend = true;
};

struct Disagreement {
  std::string scenario, engine, oracle;
  double regret = 0;
};

struct DecisionEvaluation {
  std::string name;
  int scenarios = 0, agree = 0, both_none = 0;
  int engine_none_oracle_runs = 0;  // the engine found nothing, the oracle did
  int infeasible_choices = 0;       // the engine's choice cannot run by the measured figures
  int constraint_violations = 0;    // a private request offloaded, or offline and remote
  int fidelity_lost = 0;            // the engine's choice has a lower fidelity than the oracle's
  std::vector<double> regrets;      // relative, >= 0, where both ran and the choice is feasible
  // The scenarios where the oracle could place the request on more than one target (the device
  // and a site, or two sites): the decisions that are not forced by a constraint.
  int contested = 0, contested_agree = 0;
  std::vector<double> contested_regrets;
  double agreement() const { return scenarios ? static_cast<double>(agree) / scenarios : 0; }
  double regret_quantile(double q) const { return quantile(regrets, q); }
  static double quantile(std::vector<double> v, double q);
  std::map<std::string, std::pair<int, int>> by_network;  // agree, scenarios
  // How often the oracle's first placement is of each kind ("local", "edge", "cloud", "split",
  // "none"): whether the grid exercises every kind of decision.
  std::map<std::string, int> oracle_kinds, engine_kinds;
  std::vector<Disagreement> examples;  // the first few, for the report
  std::set<std::string> skipped;       // measured workloads whose graph does not build (imported)
};

// The grid (data/decide_scenarios.json unless given) over the local profile's measured
// configurations, decided by the engine from `engine` and by the oracle from the measured
// figures. An error names a grid field or a workload that does not build.
Result<DecisionEvaluation> evaluate_decisions(const nlohmann::json& local,
                                              const EngineFigures& engine,
                                              const nlohmann::json* grid = nullptr);

// The decision map of a report: the engine's first placement for every measured configuration
// of a local profile (a tier's dtype variants on one backend, as in the grid) under every network
// of the grid and each cache state asked for, for one request (the other axes of the grid fixed).
// The engine sees this device's measured figures and the sites' classes, as evaluate_decisions'
// "local profile" row; each cell also says whether the oracle (the sites' projected figures)
// places the request the same way.
struct DecisionMapOptions {
  double objective_ms = 100;
  bool delay_sensitive = true;
  std::vector<std::string> cache_states = {"none", "all-compiled"};  // of the grid's
  std::string edge_load = "idle";                                    // a grid edge_loads name
  bool may_leave_device = true;
};
struct DecisionMapCell {
  std::string config, network, cache;
  std::string kind = "none";  // of the engine's first placement: local, edge, cloud, split, none
  std::string target, workload, backend, split_after;
  double latency_ms = -1;  // the engine's priced total, cold costs included; -1 for none
  bool meets_objective = false;
  std::string why;          // for none: the engine's reason; else its first reason
  std::string oracle_kind;  // the oracle's first placement's kind
  bool agrees = false;      // same target, variant and split point as the oracle's
};
struct DecisionMap {
  std::vector<std::string> configs;    // rows: "mobilenetv2:b1 on onednn"
  nlohmann::json networks, sites;      // the grid's, as written there
  std::vector<DecisionMapCell> cells;  // configs x networks x cache states, in that order
  std::set<std::string> skipped;       // measured workloads whose graph does not build
};
Result<DecisionMap> decision_map(const nlohmann::json& local, const DecisionMapOptions& options,
                                 const nlohmann::json* grid = nullptr);

const nlohmann::json& decide_scenario_grid();  // data/decide_scenarios.json
const nlohmann::json& decide_request_schema();
const nlohmann::json& decide_response_schema();

}  // namespace tb::profiles

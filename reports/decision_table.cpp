#include "decision_table.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace tb::reports {

using json = nlohmann::json;

json decision_evaluation_json(const profiles::DecisionEvaluation& ev) {
  json nets = json::object();
  for (const auto& [n, c] : ev.by_network) nets[n] = {{"agree", c.first}, {"scenarios", c.second}};
  json ex = json::array();
  for (const auto& x : ev.examples)
    ex.push_back({{"scenario", x.scenario},
                  {"engine", x.engine},
                  {"oracle", x.oracle},
                  {"regret", x.regret}});
  return {
      {"profile", ev.name},
      {"scenarios", ev.scenarios},
      {"agreement", ev.agreement()},
      {"median_regret", ev.regret_quantile(0.5)},
      {"p90_regret", ev.regret_quantile(0.9)},
      {"max_regret", ev.regret_quantile(1.0)},
      {"both_none", ev.both_none},
      {"engine_none_oracle_runs", ev.engine_none_oracle_runs},
      {"infeasible_choices", ev.infeasible_choices},
      {"constraint_violations", ev.constraint_violations},
      {"fidelity_lost", ev.fidelity_lost},
      {"by_network", nets},
      {"contested",
       {{"scenarios", ev.contested},
        {"agreement", ev.contested ? static_cast<double>(ev.contested_agree) / ev.contested : 0},
        {"median_regret", profiles::DecisionEvaluation::quantile(ev.contested_regrets, 0.5)},
        {"p90_regret", profiles::DecisionEvaluation::quantile(ev.contested_regrets, 0.9)}}},
      {"oracle_kinds", ev.oracle_kinds},
      {"engine_kinds", ev.engine_kinds},
      {"disagreements", ex}};
}

std::string format_decision_evaluation(const profiles::DecisionEvaluation& ev) {
  std::string out;
  out += fmt::format(
      "{}: {} scenarios, agreement {:.1f}% (target >= 95%: {}), regret median {:.2f}% "
      "(target < 5%: {}), p90 {:.1f}%, max {:.0f}%\n",
      ev.name, ev.scenarios, 100 * ev.agreement(), ev.agreement() >= 0.95 ? "met" : "NOT met",
      100 * ev.regret_quantile(0.5), ev.regret_quantile(0.5) < 0.05 ? "met" : "NOT met",
      100 * ev.regret_quantile(0.9), 100 * ev.regret_quantile(1.0));
  out += fmt::format(
      "  hard constraints broken: {}; choices the measured figures cannot run: {}; engine "
      "found nothing where the oracle ran: {}; lower fidelity than the oracle: {}\n",
      ev.constraint_violations, ev.infeasible_choices, ev.engine_none_oracle_runs,
      ev.fidelity_lost);
  const auto kinds = [](const std::map<std::string, int>& m) {
    std::string s;
    for (const auto& [k, n] : m) s += fmt::format(" {} {}", k == "local" ? "device" : k, n);
    return s;
  };
  out += fmt::format("  first placement, oracle:{}; engine:{}\n", kinds(ev.oracle_kinds),
                     kinds(ev.engine_kinds));
  out += fmt::format(
      "  contested (the oracle could use more than one target): {} scenarios, agreement "
      "{:.1f}%, regret median {:.2f}%, p90 {:.1f}%\n",
      ev.contested, ev.contested ? 100.0 * ev.contested_agree / ev.contested : 0.0,
      100 * profiles::DecisionEvaluation::quantile(ev.contested_regrets, 0.5),
      100 * profiles::DecisionEvaluation::quantile(ev.contested_regrets, 0.9));
  for (const auto& w : ev.skipped)
    out += fmt::format("  not in the grid: {} (its graph is not rebuilt, so no request size)\n", w);
  out += "  by network:";
  for (const auto& [n, c] : ev.by_network)
    out += fmt::format(" {} {:.1f}%", n, c.second ? 100.0 * c.first / c.second : 0.0);
  out += "\n";
  for (std::size_t i = 0; i < std::min<std::size_t>(ev.examples.size(), 5); ++i)
    out += fmt::format("  differs: {}: engine {}, oracle {} (regret {:.1f}%)\n",
                       ev.examples[i].scenario, ev.examples[i].engine, ev.examples[i].oracle,
                       100 * ev.examples[i].regret);
  return out;
}

}  // namespace tb::reports

// tierbench decide: where a request should run (this device, an edge site, the cloud, or split),
// with which variant, and what to run while the best variant loads (profiles/decide/decide.h).
// tierbench validate-decisions: the engine against the oracle over the scenario grid
// (profiles/data/decide_scenarios.json), from the local and from the shareable profile.
#include <algorithm>
#include <iostream>

#include <fmt/core.h>

#include "cli.h"
#include "decide.h"
#include "evaluate.h"
#include "json_schema.h"
#include "profiles.h"
#include "reporter.h"
#include "store.h"

namespace tb::cli {

namespace {

using json = nlohmann::json;

constexpr profiles::ParseLimits kRequestLimits{4u << 20, 32};

// A JSON file, parsed with limits and, when a schema is given, validated (first violation).
Result<json> read_json(const std::string& path, const json* schema, const char* what) {
  auto text = read_text_file(path, kRequestLimits.max_bytes, what);
  if (!text) return text.error();
  auto j = profiles::parse_limited(*text, kRequestLimits);
  if (!j) return make_error(path + ": " + j.error().message);
  if (schema)
    if (auto v = profiles::validate(*j, *schema); !v.empty()) return make_error(path + ": " + v[0]);
  return j;
}

Result<void> check_profile(const std::string& where, const json& p) {
  if (auto v = profiles::validate_profile(p); !v)
    return make_error(where + ": " + v.error().message);
  return {};
}

struct DecideArgs {
  std::string request, profile;
};

int do_decide(const Context& ctx, const DecideArgs& a) {
  auto req = read_json(a.request, &profiles::decide_request_schema(), "a request");
  if (!req) return usage_error(req.error().message);
  json profile;
  if (!a.profile.empty()) {
    auto p = read_json(a.profile, nullptr, "a profile");
    if (!p) return usage_error(p.error().message);
    if (auto c = check_profile(a.profile, *p); !c) return usage_error(c.error().message);
    profile = std::move(*p);
  } else if (req->contains("profile")) {
    if (auto c = check_profile(a.request + ": /profile", (*req)["profile"]); !c)
      return usage_error(c.error().message);
  }
  if (req->contains("remotes"))
    for (std::size_t i = 0; i < (*req)["remotes"].size(); ++i)
      if ((*req)["remotes"][i].contains("profile"))
        if (auto c = check_profile(a.request + ": /remotes/" + std::to_string(i) + "/profile",
                                   (*req)["remotes"][i]["profile"]);
            !c)
          return usage_error(c.error().message);
  decide::Inputs in;
  try {
    in = decide::parse_request(*req, a.profile.empty() ? nullptr : &profile);
  } catch (const std::invalid_argument& e) {
    return usage_error(a.request + ": " + e.what());
  }
  const decide::Decision d = decide::decide(in);
  const json out = decide::to_json(d);
  if (auto v = profiles::validate(out, profiles::decide_response_schema()); !v.empty())
    throw std::logic_error("the response fails its own schema: " + v[0]);
  std::cout << out.dump(2) << "\n";
  if (!ctx.json) {
    std::cerr << "tierbench: " << (d.ranked.empty() ? "" : "run ") << d.reason << "\n";
    if (d.plan) std::cerr << "tierbench: plan: " << d.plan->summary << "\n";
  }
  return kOk;
}

struct DecideValidateArgs {
  std::string local, shareable, grid;
};

int do_validate(const Context& ctx, const DecideValidateArgs& a) {
  json local, shareable, grid;
  if (!a.local.empty()) {
    auto p = read_json(a.local, nullptr, "a profile");
    if (!p) return usage_error(p.error().message);
    if (auto c = check_profile(a.local, *p); !c) return usage_error(c.error().message);
    local = std::move(*p);
  } else {
    const std::string db = ctx.db_path.empty() ? Store::default_path() : ctx.db_path;
    auto store = Store::open(db);
    if (!store) return usage_error(store.error().message);
    auto p = profiles::build_profiles(**store);
    if (!p) return usage_error(p.error().message);
    local = std::move(p->local);
  }
  if (local.value("schema", "") != "tierbench.profile.local")
    return usage_error(a.local + ": a local profile is needed (the oracle uses its figures)");
  shareable = local["shareable"];
  if (!a.shareable.empty()) {
    auto p = read_json(a.shareable, nullptr, "a profile");
    if (!p) return usage_error(p.error().message);
    if (auto c = check_profile(a.shareable, *p); !c) return usage_error(c.error().message);
    shareable = std::move(*p);
  }
  if (!a.grid.empty()) {
    auto g = read_json(a.grid, nullptr, "a scenario grid");
    if (!g) return usage_error(g.error().message);
    grid = std::move(*g);
  }
  auto measured = profiles::measured_estimates(local);
  if (!measured) return usage_error(measured.error().message);
  // From the local profile: the predictor's figures when it holds a calibration; the measured
  // figures (the oracle's own on this device: only the sites' classes can disagree) as well.
  std::vector<profiles::EngineFigures> engines;
  if (auto predicted = profiles::predicted_estimates(local); predicted)
    engines.push_back({"local profile (predictor)", *predicted, true});
  else
    std::cerr << "tierbench: no predictor row: " << predicted.error().message << "\n";
  engines.push_back({"local profile (measured figures)", *measured, true});
  engines.push_back({"shareable profile", decide::estimates_from_profile(shareable), false});
  // The same device classified plainly at each granularity of the ladder: what the classes cost
  // decisions before k-anonymity generalises them.
  const auto device = profiles::device_figures(local);
  const auto tiers = profiles::tier_figures(local);
  for (const auto& g : profiles::buckets().ladder)
    engines.push_back({"shareable classes at " + g,
                       decide::estimates_from_profile(
                           profiles::classify(device, tiers, profiles::buckets().granularity(g))),
                       false});
  // The table streams an engine at a time (each evaluation takes a while); JSON is one array.
  reports::DecisionEvaluations all;
  bool broken = false;
  for (const auto& e : engines) {
    auto ev = profiles::evaluate_decisions(local, e, a.grid.empty() ? nullptr : &grid);
    if (!ev) return usage_error(ev.error().message);
    broken = broken || ev->constraint_violations > 0;
    if (ctx.json)
      all.push_back(std::move(*ev));
    else
      (void)reports::decision_reporter("table")->report(std::cout, {std::move(*ev)});
  }
  if (ctx.json) (void)reports::decision_reporter("json")->report(std::cout, all);
  return broken ? kJobFailed : kOk;
}

}  // namespace

void add_decide_commands(CLI::App& app, Context& ctx, Action& action) {
  auto d = std::make_shared<DecideArgs>();
  auto* cmd = app.add_subcommand(
      "decide",
      "Where should a request run (device, edge, cloud, split), with which model variant, and "
      "what to run while the best one loads (JSON request in, JSON response on stdout)");
  cmd->add_option("--request", d->request, "Request file (tierbench.decide.request)")->required();
  cmd->add_option("--profile", d->profile,
                  "The device's profile (local or shareable), replacing the request's");
  cmd->callback([&ctx, &action, d] { action = [&ctx, d] { return do_decide(ctx, *d); }; });

  auto v = std::make_shared<DecideValidateArgs>();
  auto* val = app.add_subcommand(
      "validate-decisions",
      "The decision engine against the oracle (measured figures) over the scenario grid: "
      "agreement and regret from the local and from the shareable profile");
  val->add_option("--local", v->local, "Local profile (default: built from the store)");
  val->add_option("--shareable", v->shareable,
                  "Shareable profile (default: the local profile's own)");
  val->add_option("--grid", v->grid, "Scenario grid (default: the built-in one)");
  val->callback([&ctx, &action, v] { action = [&ctx, v] { return do_validate(ctx, *v); }; });
}

}  // namespace tb::cli

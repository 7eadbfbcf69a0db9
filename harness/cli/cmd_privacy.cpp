// tierbench privacy: how identifying the shareable profile is over a population, in bits of
// entropy, the smallest anonymity set k and the fields that contribute most; over the device
// catalogue (profiles/data/devices.json, projected from this device's measured efficiencies),
// with the bits/agreement trade-off of every bucket granularity, or over profile files.
#include <cmath>
#include <iostream>

#include <fmt/core.h>

#include "cli.h"
#include "privacy.h"
#include "store.h"

namespace tb::cli {

namespace {

struct PrivacyArgs {
  std::vector<std::string> files;
  std::string catalogue;
  int top = 6;
};

constexpr double kMaxBits = 4;
constexpr int kMinK = 5;

nlohmann::json stats_json(const profiles::PopulationStats& s, int top) {
  nlohmann::json fields = nlohmann::json::array();
  for (int i = 0; i < std::min<int>(top, static_cast<int>(s.fields.size())); ++i) {
    const auto& f = s.fields[static_cast<std::size_t>(i)];
    fields.push_back({{"field", f.field},
                      {"removal_bits", f.removal_bits},
                      {"entropy_bits", f.entropy_bits},
                      {"distinct", f.distinct}});
  }
  return {{"n", s.n},
          {"bits", s.bits},
          {"max_bits", s.n > 0 ? std::log2(s.n) : 0.0},
          {"k", s.k},
          {"distinct", s.distinct},
          {"meets_targets", s.bits <= kMaxBits && s.k >= kMinK},
          {"top_fields", fields}};
}

std::string stats_text(const profiles::PopulationStats& s, int top) {
  std::string o = fmt::format(
      "{:.2f} bits of identifying information (at most log2 {} = {:.2f}), smallest anonymity "
      "set k = {}, {} distinct profiles\ntargets (<= {} bits, k >= {}): {}\nfields contributing "
      "most (bits lost without the field / bits of the field alone, distinct values):\n",
      s.bits, s.n, s.n > 0 ? std::log2(s.n) : 0.0, s.k, s.distinct, kMaxBits, kMinK,
      s.bits <= kMaxBits && s.k >= kMinK ? "met" : "NOT met");
  for (int i = 0; i < std::min<int>(top, static_cast<int>(s.fields.size())); ++i) {
    const auto& f = s.fields[static_cast<std::size_t>(i)];
    o += fmt::format("  {:<44} {:5.2f} / {:5.2f}  ({})\n", f.field, f.removal_bits, f.entropy_bits,
                     f.distinct);
  }
  return o;
}

int over_files(const Context& ctx, const PrivacyArgs& a) {
  std::vector<nlohmann::json> population;
  for (const auto& path : a.files) {
    auto text = read_text_file(path, profiles::ParseLimits{}.max_bytes, "a profile");
    if (!text) return usage_error(text.error().message);
    auto j = profiles::parse_limited(*text);
    if (!j) return usage_error(path + ": " + j.error().message);
    if (auto v = profiles::validate_profile(*j); !v)
      return usage_error(path + ": " + v.error().message);
    if ((*j)["schema"] != "tierbench.profile.shareable")
      return usage_error(path + ": /schema: a local profile; give shareable profiles");
    population.push_back(std::move(*j));
  }
  const auto s = profiles::measure_population(population);
  if (ctx.json)
    std::cout << stats_json(s, a.top).dump(2) << "\n";
  else
    std::cout << "population: " << s.n << " shareable profiles\n" << stats_text(s, a.top);
  return kOk;
}

int over_catalogue(const Context& ctx, const PrivacyArgs& a) {
  std::vector<profiles::CatalogueDevice> cat;
  if (a.catalogue.empty()) {
    cat = profiles::builtin_catalogue();
  } else {
    auto text = read_text_file(a.catalogue, 4 << 20, "a catalogue");
    if (!text) return usage_error(text.error().message);
    auto c = profiles::parse_catalogue(*text);
    if (!c) return usage_error(a.catalogue + ": " + c.error().message);
    cat = std::move(*c);
  }
  if (cat.empty()) return usage_error("--catalogue: no devices");
  auto store = Store::open(ctx.db_path.empty() ? Store::default_path() : ctx.db_path);
  if (!store) return usage_error(store.error().message);
  auto p = profiles::build_profiles(**store);
  if (!p) return usage_error(p.error().message);
  for (const auto& s : p->inconsistencies)
    std::cerr << "tierbench: warning: " << s << " (run 'tierbench profile')\n";
  const auto curve = profiles::catalogue_tradeoff(p->local, cat);
  const std::size_t tiers = p->local["tiers"].size();

  nlohmann::json out = {
      {"population", a.catalogue.empty() ? "profiles/data/devices.json" : a.catalogue},
      {"devices", cat.size()},
      {"targets", {{"max_bits", kMaxBits}, {"min_k", kMinK}}},
      {"agreement_decisions",
       "finishes within B ms, for every budget of "
       "profiles/data/buckets.json"},
      {"granularities", nlohmann::json::array()}};
  std::string text = fmt::format(
      "population: {} devices of the catalogue ({}), projected by roofline from this device's "
      "measured efficiencies ({} tier results, probe run {})\n\n{:<26} {:>6} {:>4} {:>9} {:>10}  "
      "{}\n",
      cat.size(), out["population"].get<std::string>(), tiers,
      p->local["provenance"]["probe_run_id"].get<std::int64_t>(), "granularity", "bits", "k",
      "distinct", "agreement", "targets");
  const profiles::GranularityReport* def = nullptr;
  for (const auto& g : curve) {
    if (g.is_default) def = &g;
    auto j = stats_json(g.stats, a.top);
    j["granularity"] = g.name;
    j["default"] = g.is_default;
    j["agreement"] = g.agreement;
    j["devices_per_granularity"] = g.levels;
    out["granularities"].push_back(j);
    text += fmt::format("{:<26} {:6.2f} {:4} {:9} {:9.1f}%  {}\n",
                        g.name + (g.is_default ? " (default)" : ""), g.stats.bits, g.stats.k,
                        g.stats.distinct, 100 * g.agreement,
                        g.stats.bits <= kMaxBits && g.stats.k >= kMinK ? "met" : "not met");
  }
  if (ctx.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << text;
    if (def) {
      std::string levels;
      for (const auto& [name, n] : def->levels)
        levels += fmt::format("{}{} {}", levels.empty() ? "" : ", ", n, name);
      std::cout << "\ndefault granularity '" << def->name << "' (devices per step: " << levels
                << "): " << stats_text(def->stats, a.top);
    }
  }
  return kOk;
}

}  // namespace

void add_privacy_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<PrivacyArgs>();
  auto* cmd = app.add_subcommand(
      "privacy",
      "How identifying the shareable profile is: bits, anonymity set k, top fields; over the "
      "device catalogue (with the bits/agreement trade-off per granularity) or profile files");
  cmd->add_option("profiles", a->files, "Shareable profile files (the population)");
  cmd->add_option("--catalogue", a->catalogue,
                  "A device catalogue file (default: the built-in profiles/data/devices.json)");
  cmd->add_option("--top", a->top, "How many contributing fields to list")->check(kPositive);
  cmd->callback([&ctx, &action, a] {
    action = [&ctx, a] { return a->files.empty() ? over_catalogue(ctx, *a) : over_files(ctx, *a); };
  });
}

}  // namespace tb::cli

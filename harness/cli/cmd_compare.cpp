// tierbench compare / export / import / baseline: measure once, gate anywhere.
//
//   tierbench compare BASE CURRENT      each side a run id, "latest", or an exported results file;
//                                       the environment switches the two runs set differently
//                                       are listed above the table ("switches" in the JSON)
//   tierbench export [--run ID] --format json|gbench [-o FILE]
//   tierbench import FILE
//   tierbench baseline save NAME [--run ID] | check NAME [--run ID] | list
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/core.h>

#include "cli.h"
#include "compare.h"
#include "compare_format.h"
#include "gbench_export.h"
#include "reporter.h"
#include "results_io.h"
#include "store.h"
#include "switches.h"

namespace tb::cli {

Result<std::unique_ptr<Store>> open_store(const Context& ctx) {
  return Store::open(ctx.db_path.empty() ? Store::default_path() : ctx.db_path);
}

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

Result<std::int64_t> resolve_run(Store& store, const std::string& spec) {
  if (spec.empty() || spec == "latest") return store.latest_run_id();
  if (!all_digits(spec)) return make_error("'" + spec + "' is not a run id");
  const std::int64_t id = std::stoll(spec);
  if (auto r = store.run(id); !r) return make_error("unknown run id " + spec);
  return id;
}

namespace {

struct GateArgs {
  double threshold = 0.05;
  double alpha = 0.05;
  std::vector<std::string> rules;  // PATTERN=THRESHOLD[,ALPHA]
  std::string format = "terminal";
  std::string output;
  bool fail_on_noisy = false, fail_on_missing = false;
};

// A side of a comparison: a run id in the store, "latest", or an exported results file; its
// samples and the environment its run recorded (for the switches).
struct LoadedSide {
  compare::SampleSet samples;
  nlohmann::json env = nlohmann::json::object();
};

Result<LoadedSide> load_side(Store& store, const std::string& spec) {
  if (std::filesystem::exists(spec) && !all_digits(spec)) {
    auto doc = io::read_results_file(spec);
    if (!doc) return doc.error();
    auto results = io::results_from_json(doc.value());
    if (!results) return results.error();
    const auto& run = doc->value("run", nlohmann::json::object());
    return LoadedSide{
        io::sample_set(results.value()),
        run.is_object() ? run.value("env", nlohmann::json::object()) : nlohmann::json::object()};
  }
  if (!all_digits(spec) && spec != "latest")
    return make_error("'" + spec + "' is neither a run id nor a readable results file");
  auto id = resolve_run(store, spec);
  if (!id) return id.error();
  auto results = store.results(id.value(), true);
  if (!results) return results.error();
  auto run = store.run(id.value());
  if (!run) return run.error();
  return LoadedSide{io::sample_set(results.value()), run->env};
}

Result<compare::Options> gate_options(const GateArgs& g) {
  compare::Options o;
  o.fallback = {g.threshold, g.alpha};
  o.fail_on_noisy = g.fail_on_noisy;
  o.fail_on_missing = g.fail_on_missing;
  for (const auto& rule : g.rules) {
    const auto eq = rule.rfind('=');
    if (eq == std::string::npos || eq == 0)
      return make_error("--rule: expected PATTERN=THRESHOLD[,ALPHA], got '" + rule + "'");
    compare::ThresholdRule r;
    r.pattern = rule.substr(0, eq);
    const std::string vals = rule.substr(eq + 1);
    const auto comma = vals.find(',');
    try {
      std::size_t used = 0;
      r.threshold.threshold = std::stod(vals.substr(0, comma), &used);
      r.threshold.alpha = comma == std::string::npos ? g.alpha : std::stod(vals.substr(comma + 1));
    } catch (...) {
      return make_error("--rule: bad numbers in '" + rule + "'");
    }
    if (r.threshold.threshold <= 0 || r.threshold.alpha <= 0 || r.threshold.alpha >= 1)
      return make_error("--rule: threshold must be > 0 and alpha in (0, 1) in '" + rule + "'");
    o.rules.push_back(r);
  }
  return o;
}

int emit(const Context& ctx, const GateArgs& g, const compare::Comparison& c,
         const env::SwitchComparison& sw) {
  const std::string fmt_name = ctx.json ? "json" : g.format;
  const auto [text, aside] = compare::format_with_switches(fmt_name, c, sw);
  std::cerr << aside;
  if (!g.output.empty()) {
    std::ofstream f(g.output);
    if (!(f << text)) return usage_error("--output: cannot write " + g.output);
    // The terminal still gets the human view.
    if (fmt_name != "terminal" && !ctx.json)
      std::cout << compare::format_with_switches("terminal", c, sw).text;
  } else {
    std::cout << text;
  }
  return c.exit_code() ? kJobFailed : kOk;
}

int do_compare(const Context& ctx, const std::string& base, const std::string& current,
               const GateArgs& g) {
  auto store = open_store(ctx);
  if (!store) return usage_error(store.error().message);
  auto opts = gate_options(g);
  if (!opts) return usage_error(opts.error().message);
  auto b = load_side(**store, base);
  if (!b) return usage_error("BASE: " + b.error().message);
  auto c = load_side(**store, current);
  if (!c) return usage_error("CURRENT: " + c.error().message);
  if (b->samples.empty() && c->samples.empty())
    return usage_error("neither side has timed results to compare");
  return emit(ctx, g, compare::compare(b->samples, c->samples, opts.value()),
              env::compare_switches(b->env, c->env));
}

void add_gate_options(CLI::App* cmd, GateArgs& g) {
  cmd->add_option("--threshold", g.threshold, "Relative change that counts (default 0.05 = 5%)")
      ->check(kPositive);
  cmd->add_option("--alpha", g.alpha, "Significance level of the Mann-Whitney U test")
      ->check(CLI::Range(1e-6, 0.5));
  cmd->add_option("--rule", g.rules,
                  "Per-benchmark PATTERN=THRESHOLD[,ALPHA] (glob over '<problem>@<backend>'); "
                  "first match wins");
  cmd->add_option("--format", g.format, "terminal, markdown, junit or json")
      ->check(CLI::IsMember({"terminal", "markdown", "junit", "json"}));
  cmd->add_option("-o,--output", g.output, "Write the formatted comparison to this file");
  cmd->add_flag("--fail-on-noisy", g.fail_on_noisy, "A too-noisy benchmark fails the gate");
  cmd->add_flag("--fail-on-missing", g.fail_on_missing,
                "A benchmark missing from CURRENT fails the gate");
}

}  // namespace

void add_compare_commands(CLI::App& app, Context& ctx, Action& action) {
  // compare
  {
    auto base = std::make_shared<std::string>(), current = std::make_shared<std::string>();
    auto g = std::make_shared<GateArgs>();
    auto* cmd = app.add_subcommand(
        "compare", "Compare two runs (ids, 'latest', or exported files) and gate on regressions");
    cmd->add_option("BASE", *base, "Baseline: run id, 'latest', or results file")->required();
    cmd->add_option("CURRENT", *current, "Current: run id, 'latest', or results file")->required();
    add_gate_options(cmd, *g);
    cmd->callback([&ctx, &action, base, current, g] {
      action = [&ctx, base, current, g] { return do_compare(ctx, *base, *current, *g); };
    });
  }
  // export
  {
    auto run = std::make_shared<std::string>("latest");
    auto format = std::make_shared<std::string>("json");
    auto out = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("export", "Write a run's results (with raw samples) to a file");
    cmd->add_option("--run", *run, "Run id or 'latest'");
    cmd->add_option("--format", *format,
                    "json (full fidelity, read by compare/import), gbench, csv, or table")
        ->check(CLI::IsMember(reports::run_formats()));
    cmd->add_option("-o,--output", *out, "File to write (default: stdout)");
    cmd->callback([&ctx, &action, run, format, out] {
      action = [&ctx, run, format, out] {
        auto store = open_store(ctx);
        if (!store) return usage_error(store.error().message);
        auto id = resolve_run(**store, *run);
        if (!id) return usage_error("--run: " + id.error().message);
        std::ostringstream text;
        if (auto r = reports::run_reporter(*format)->report(text, {**store, id.value()}); !r)
          return usage_error(r.error().message);
        if (out->empty()) {
          std::cout << text.str();
        } else {
          std::ofstream f(*out);
          if (!(f << text.str())) return usage_error("--output: cannot write " + *out);
        }
        return static_cast<int>(kOk);
      };
    });
  }
  // import
  {
    auto file = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("import", "Store an exported results file as a new run");
    cmd->add_option("FILE", *file, "A file written by 'tierbench export --format json'")
        ->required();
    cmd->callback([&ctx, &action, file] {
      action = [&ctx, file] {
        auto store = open_store(ctx);
        if (!store) return usage_error(store.error().message);
        auto doc = io::read_results_file(*file);
        if (!doc) return usage_error(doc.error().message);
        auto id = io::import_run(**store, doc.value());
        if (!id) return usage_error(id.error().message);
        if (ctx.json)
          std::cout << nlohmann::json{{"run_id", id.value()}}.dump() << "\n";
        else
          fmt::print("imported as run {}\n", id.value());
        return static_cast<int>(kOk);
      };
    });
  }
  // baseline save|check|list
  {
    auto* cmd = app.add_subcommand("baseline", "Named baselines kept in the store");
    cmd->require_subcommand(1);
    auto name = std::make_shared<std::string>();
    auto run = std::make_shared<std::string>("latest");
    auto* save = cmd->add_subcommand("save", "Remember a run (default: the latest) as NAME");
    save->add_option("NAME", *name)->required();
    save->add_option("--run", *run, "Run id or 'latest'");
    save->callback([&ctx, &action, name, run] {
      action = [&ctx, name, run] {
        auto store = open_store(ctx);
        if (!store) return usage_error(store.error().message);
        auto id = resolve_run(**store, *run);
        if (!id) return usage_error("--run: " + id.error().message);
        if (auto p = (*store)->put("baseline", *name, std::to_string(id.value())); !p)
          return usage_error(p.error().message);
        fmt::print("baseline '{}' = run {}\n", *name, id.value());
        return static_cast<int>(kOk);
      };
    });
    auto g = std::make_shared<GateArgs>();
    auto cname = std::make_shared<std::string>();
    auto crun = std::make_shared<std::string>("latest");
    auto* check = cmd->add_subcommand("check", "Compare a run (default: the latest) with NAME");
    check->add_option("NAME", *cname)->required();
    check->add_option("--run", *crun, "Run id or 'latest'");
    add_gate_options(check, *g);
    check->callback([&ctx, &action, cname, crun, g] {
      action = [&ctx, cname, crun, g] {
        auto store = open_store(ctx);
        if (!store) return usage_error(store.error().message);
        auto v = (*store)->get("baseline", *cname);
        if (!v) return usage_error(v.error().message);
        if (!v->has_value()) return usage_error("no baseline named '" + *cname + "'");
        return do_compare(ctx, **v, *crun, *g);
      };
    });
    auto* list = cmd->add_subcommand("list", "List named baselines");
    list->callback([&ctx, &action] {
      action = [&ctx] {
        auto store = open_store(ctx);
        if (!store) return usage_error(store.error().message);
        auto all = (*store)->list("baseline");
        if (!all) return usage_error(all.error().message);
        for (const auto& [k, v] : all.value()) fmt::print("{:<24} run {}\n", k, v);
        return static_cast<int>(kOk);
      };
    });
  }
}

}  // namespace tb::cli

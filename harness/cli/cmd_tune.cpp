// tierbench tune: the bounded, validated tuners of every backend that has one (OpenCL's packed
// GEMM on CPU devices, Vulkan's GEMM shaders) behind one command. Each candidate is checked
// against the reference before it is timed. Winners go to the results store's tuning table per
// backend, device, driver, kernel and shape class (kernels/tuning.h); `run` and the model tiers'
// graphs use them. A shape class that already has a winner is reused, never re-tuned, unless
// --force.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "kernels.h"
#include "selection.h"
#include "store.h"
#include "store_tune.h"

namespace tb::cli {

namespace {

struct TuneArgs {
  SelectionArgs sel;
  std::vector<std::string> backends;
  double budget_s = 120;
  bool list = false;
  bool force = false;
};

// One shape class of one backend, tuned on the largest selected problem that maps to it.
struct Item {
  Backend* backend = nullptr;
  TuneKey key;
  Problem problem;
  double weight = 1;  // share of the budget
};

// Budget shares: a winner for every shape ("*", OpenCL) or a large problem gets up to 8 times a
// small one's, since its candidates take longer to build and time.
double weight_of(const TuneKey& k, const Problem& p) {
  if (k.shape_class == "*") return 8;
  return std::clamp(p.flops() / 2.5e8, 1.0, 8.0);
}

// The kernel problems of the selection and of every layer of its workloads.
Result<std::vector<Problem>> problems_of(const Selection& sel) {
  std::vector<Problem> v = sel.problems;
  for (const auto& w : sel.workloads) {
    auto g = workloads::build_tier(w.tier, w.dtype, {w.variant, false});
    if (!g) return make_error("--workload " + w.str() + ": " + g.error().message);
    for (const auto& l : g->layers)
      if (l.problem) v.push_back(*l.problem);
  }
  return v;
}

// Shape classes of the selected backends, in the order first met.
std::vector<Item> collect(const std::vector<std::unique_ptr<Backend>>& backends,
                          const std::vector<Problem>& problems) {
  std::vector<Item> items;
  for (const auto& b : backends) {
    if (!b->availability().available) continue;
    for (const auto& p : problems) {
      const auto key = b->tune_key(p, 0);
      if (!key) continue;
      auto it = std::find_if(items.begin(), items.end(),
                             [&](const Item& i) { return i.backend == b.get() && i.key == *key; });
      if (it == items.end())
        items.push_back({b.get(), *key, p, weight_of(*key, p)});
      else if (p.flops() > it->problem.flops())
        it->problem = p, it->weight = weight_of(*key, p);
    }
  }
  return items;
}

std::string gflops(double g) {
  return g > 0 ? fmt::format("{:.1f}", g) : "-";
}

nlohmann::json winner_json(const TuneWinner& w) {
  return {{"backend", w.key.backend},
          {"device", w.key.device},
          {"driver", w.key.driver},
          {"kernel", w.key.kernel},
          {"shape_class", w.key.shape_class},
          {"config", w.config},
          {"gflops", w.gflops},
          {"default_config", w.default_config},
          {"default_gflops", w.default_gflops},
          {"problem", w.problem},
          {"tune_s", w.tune_s},
          {"tuned_at", w.tuned_at}};
}

constexpr auto kRow = "{:<7} {:<22} {:<22} {:>8} {:<22} {:>8} {:>7}  {}\n";

void print_header() {
  fmt::print(kRow, "backend", "shape class", "config", "GFLOP/s", "default", "GFLOP/s", "tune s",
             "");
}

void print_winner(const TuneWinner& w, const std::string& note) {
  fmt::print(kRow, w.key.backend, w.key.shape_class, w.config, gflops(w.gflops), w.default_config,
             gflops(w.default_gflops), fmt::format("{:.1f}", w.tune_s), note);
}

int do_list(const Context& ctx, const TuneArgs& a, Store& store) {
  auto all = store.list_tuning();
  if (!all) return usage_error(all.error().message);
  std::vector<TuneWinner> v;
  for (const auto& w : all.value())
    if (a.backends.empty() ||
        std::find(a.backends.begin(), a.backends.end(), w.key.backend) != a.backends.end())
      v.push_back(w);
  if (ctx.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& w : v) j.push_back(winner_json(w));
    std::cout << j.dump(2) << "\n";
    return kOk;
  }
  if (v.empty()) {
    fmt::print("no tuned winners in {} (run 'tierbench tune')\n", store.path());
    return kOk;
  }
  std::string device;
  for (const auto& w : v) {
    const std::string d =
        w.key.backend + " | " + w.key.device + " | " + w.key.driver + " | " + w.key.kernel;
    if (d != device) {
      fmt::print("{}{}\n", device.empty() ? "" : "\n", d);
      print_header();
      device = d;
    }
    print_winner(w, "tuned " + w.tuned_at + " on " + w.problem);
  }
  return kOk;
}

int do_tune(const Context& ctx, const TuneArgs& a) {
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<std::string> names;
  for (auto& b : make_backends()) {
    names.emplace_back(b->name());
    if (a.backends.empty() ||
        std::find(a.backends.begin(), a.backends.end(), b->name()) != a.backends.end())
      backends.push_back(std::move(b));
  }
  for (const auto& b : a.backends)
    if (std::find(names.begin(), names.end(), b) == names.end())
      return usage_error("--backend: unknown backend '" + b + "' (valid: " + join(names) + ")");

  const std::string db = ctx.db_path.empty() ? Store::default_path() : ctx.db_path;
  auto store = Store::open(db);
  if (!store) return usage_error(store.error().message);
  if (a.list) return do_list(ctx, a, **store);
  auto sel = select_work(a.sel);
  if (!sel) return usage_error(sel.error().message);
  auto problems = problems_of(sel.value());
  if (!problems) return usage_error(problems.error().message);
  auto ts = StoreTuneStore::open(db);
  if (!ts) return usage_error("cannot open the results store " + db + " for tuning");
  set_tune_store(ts);

  std::vector<Item> items = collect(backends, problems.value());
  nlohmann::json out = {{"db", db},
                        {"budget_s", a.budget_s},
                        {"tuned", nlohmann::json::array()},
                        {"reused", nlohmann::json::array()},
                        {"not_tuned", nlohmann::json::array()}};
  std::vector<Item> pending;
  if (!ctx.json) print_header();
  for (const auto& it : items) {
    const auto w = a.force ? std::nullopt : ts->get(it.key);
    if (!w) {
      pending.push_back(it);
      continue;
    }
    out["reused"].push_back(winner_json(*w));
    if (!ctx.json) print_winner(*w, "stored " + w->tuned_at + ": reused");
  }
  // The budget is for tuning: it starts once the devices are open and the store was read.
  const auto t0 = std::chrono::steady_clock::now();
  const auto spent = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  double weight_left = 0;
  for (const auto& it : pending) weight_left += it.weight;
  int errors = 0;
  // A class starts only when the quickest class tuned so far on its backend would still end
  // within the budget (each class measures at least one configuration, so a class started just
  // before the end would overrun it by that much).
  std::map<std::string, double> quickest;
  for (const auto& it : pending) {
    const double left = a.budget_s - spent();
    TuneRequest req;
    req.budget_s = left * it.weight / weight_left;
    weight_left -= it.weight;
    nlohmann::json nt = {{"backend", it.key.backend},
                         {"shape_class", it.key.shape_class},
                         {"problem", it.problem.str()}};
    const auto q = quickest.find(it.key.backend);
    if (left <= 0 || (q != quickest.end() && q->second > left)) {
      nt["reason"] = "time budget spent";
      out["not_tuned"].push_back(nt);
      if (!ctx.json)
        fmt::print(kRow, it.key.backend, it.key.shape_class, "-", "-", "-", "-", "-",
                   "not tuned: time budget spent");
      continue;
    }
    const double class_t0 = spent();
    auto r = it.backend->tune(it.problem, req);
    const double took = spent() - class_t0;
    if (auto [pos, fresh] = quickest.try_emplace(it.key.backend, took); !fresh)
      pos->second = std::min(pos->second, took);
    if (!r) {
      ++errors;
      nt["reason"] = r.error().message;
      out["not_tuned"].push_back(nt);
      if (!ctx.json)
        fmt::print(kRow, it.key.backend, it.key.shape_class, "-", "-", "-", "-", "-",
                   "error: " + r.error().message);
      continue;
    }
    auto tj = winner_json(r->winner);
    for (const auto& c : r->candidates)
      tj["candidates"].push_back({{"config", c.config},
                                  {"status", status_name(c.status)},
                                  {"gflops", c.gflops},
                                  {"message", c.message}});
    out["tuned"].push_back(tj);
    if (!ctx.json) print_winner(r->winner, "tuned on " + r->winner.problem);
  }
  out["seconds"] = spent();
  if (ctx.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    fmt::print(
        "\n{} shape classes: {} tuned, {} reused, {} not tuned, in {:.1f} s (budget {:.0f} "
        "s); winners in {}\n",
        items.size(), out["tuned"].size(), out["reused"].size(), out["not_tuned"].size(), spent(),
        a.budget_s, db);
    if (items.empty()) fmt::print("nothing tunable in the selection on the selected backends\n");
  }
  return errors ? kJobFailed : kOk;
}

}  // namespace

void add_tune_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<TuneArgs>();
  auto* cmd = app.add_subcommand(
      "tune", "Tune the tunable kernels (OpenCL, Vulkan GEMM) for a selection; keep the winners");
  cmd->add_option("-b,--backend", a->backends,
                  "Backends to tune, repeated or comma-separated (default: all with a tuner)")
      ->delimiter(',');
  std::vector<CLI::Option*> selection;
  selection.push_back(
      cmd->add_option("-p,--problem", a->sel.problems,
                      "Problems as canonical strings, e.g. gemm:m1024n1024k1024:f32"));
  selection.push_back(
      cmd->add_option("-s,--suite", a->sel.suite,
                      "Suite whose problems and model tiers to tune (default: quick, when no "
                      "--problem/--workload)"));
  selection.push_back(
      cmd->add_option("-w,--workload", a->sel.workloads,
                      "Model tiers whose GEMM / pointwise-conv layers to tune: tier or "
                      "tier:variant:dtype"));
  selection.push_back(
      cmd->add_option("--budget", a->budget_s,
                      "Seconds for the whole command; no candidate starts past it (default 120)")
          ->check(kPositive));
  selection.push_back(
      cmd->add_flag("--force", a->force, "Re-tune shape classes that already have a winner"));
  auto* list = cmd->add_flag("--list", a->list,
                             "List the stored winners (of --backend, default all) and exit");
  for (auto* o : selection) list->excludes(o);
  cmd->callback([&ctx, &action, a] { action = [&ctx, a] { return do_tune(ctx, *a); }; });
}

}  // namespace tb::cli

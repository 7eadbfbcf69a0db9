// tierbench tune: the bounded, validated tuners of every backend that has one (OpenCL's packed
// GEMM on CPU devices and tiled GEMM on GPUs, Vulkan's GEMM shaders) behind one command. Each
// candidate is checked against the reference before it is timed. Winners go to the results
// store's tuning table per backend, device, driver, kernel and shape class (kernels/tuning.h);
// `run` and the model tiers' graphs use them. A shape class that already has a winner is reused,
// never re-tuned, unless --force.
//
// The budget holds: each backend's tuner runs in a child process (this executable, --child-report)
// that no candidate starts past its share of the budget, and the parent stops it when that share
// has ended, so that a candidate in flight (a shader compile of minutes on a CPU driver, a driver
// that hangs or crashes) costs at most the share. The child reports each class it starts, each
// candidate, the best candidate so far and each class it ends, one JSON line at a time, into a
// file the parent reads: a class cut short keeps its best validated, timed candidate.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "isolation.h"
#include "kernels.h"
#include "reporter.h"
#include "runner.h"
#include "selection.h"
#include "store.h"
#include "store_tune.h"
#include "tune_table.h"

namespace tb::cli {

namespace {

struct TuneArgs {
  SelectionArgs sel;
  std::vector<std::string> backends;
  double budget_s = 120;
  bool list = false;
  bool force = false;
  bool no_isolate = false;
  double timeout_s = 120;    // a child that has not started tuning after this long is stopped
  std::string child_report;  // internal: tune in this process, report progress to this file
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

int do_list(const Context& ctx, const TuneArgs& a, Store& store) {
  auto all = store.list_tuning();
  if (!all) return usage_error(all.error().message);
  std::vector<TuneWinner> v;
  for (const auto& w : all.value())
    if (a.backends.empty() ||
        std::find(a.backends.begin(), a.backends.end(), w.key.backend) != a.backends.end())
      v.push_back(w);
  (void)reports::tuning_reporter(ctx.json ? "json" : "table")
      ->report(std::cout, {std::move(v), store.path()});
  return kOk;
}

TuneWinner winner_from_json(const nlohmann::json& j) {
  TuneWinner w;
  w.key = {j.value("backend", ""), j.value("device", ""), j.value("driver", ""),
           j.value("kernel", ""), j.value("shape_class", "")};
  w.config = j.value("config", "");
  w.gflops = j.value("gflops", 0.0);
  w.default_config = j.value("default_config", "");
  w.default_gflops = j.value("default_gflops", 0.0);
  w.problem = j.value("problem", "");
  w.tune_s = j.value("tune_s", 0.0);
  return w;
}

void print_not_tuned(const Item& it, const std::string& why) {
  std::cout << reports::tune_table_untuned_row(it.key, why);
}

void print_winner(const TuneWinner& w, const std::string& note) {
  std::cout << reports::tune_table_row(w, note);
}

nlohmann::json not_tuned_json(const Item& it, const std::string& reason) {
  return {{"backend", it.key.backend},
          {"shape_class", it.key.shape_class},
          {"problem", it.problem.str()},
          {"reason", reason}};
}

// A child's progress file: one JSON object per line, flushed at once (the parent may stop the
// child at any moment). Writes nothing when the path is empty (tuning in the parent's process).
class ChildReport {
 public:
  explicit ChildReport(const std::string& path) {
    if (!path.empty()) f_.open(path, std::ios::app);
  }
  void write(const nlohmann::json& j) {
    if (f_.is_open()) f_ << j.dump() << '\n' << std::flush;
  }

 private:
  std::ofstream f_;
};

// Test-only (TB_TEST_FAULT=hang:tune-<backend> | crash:tune-<backend>): the tuner child of that
// backend hangs or crashes when its second candidate starts, for the budget and crash tests.
void inject_tune_fault(const std::string& backend) {
  static int started = 0;
  const char* f = std::getenv("TB_TEST_FAULT");
  if (!f || ++started != 2) return;
  if (std::string(f) == "crash:tune-" + backend) crash_for_test();
  if (std::string(f) == "hang:tune-" + backend)
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// A class that kept its default configuration: measured (validated and timed) in the first
// pass, with no budget left for its other candidates.
nlohmann::json default_kept_json(const TuneWinner& w, const std::string& why) {
  auto j = reports::winner_json(w);
  j["default_kept"] = why;
  return j;
}

// A tuned class: its winner and every candidate the tuner tried (or skipped), with why.
nlohmann::json tuned_json(const TuneOutcome& r) {
  auto tj = reports::winner_json(r.winner);
  for (const auto& c : r.candidates)
    tj["candidates"].push_back({{"config", c.config},
                                {"status", status_name(c.status)},
                                {"gflops", c.gflops},
                                {"message", c.message}});
  return tj;
}

// Tunes `pending` in this process within budget_s, adding to `out` and printing rows (no header).
// Two passes: first every class measures its default configuration (the tuner's first candidate,
// with no budget for more), so that each class ends with a validated, timed winner even when the
// budget cannot cover every class's candidates, and a second tune of the same selection reuses
// them all; then the rest of the budget goes to the candidates, class by class by weight.
// Returns the number of classes that ended in an error.
int tune_here(const Context& ctx, const std::vector<Item>& pending, double budget_s,
              ChildReport& report, nlohmann::json& out) {
  // The budget is for tuning: it starts once the devices are open and the store was read.
  const auto t0 = std::chrono::steady_clock::now();
  const auto spent = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  report.write({{"e", "start"}});
  int errors = 0;
  const auto done = [&](const char* list, const nlohmann::json& entry, bool error) {
    report.write({{"e", "done"}, {"list", list}, {"entry", entry}, {"error", error}});
    out[list].push_back(entry);
    if (error) ++errors;
  };
  const auto not_reached = [&](const Item& it) {
    auto nt = not_tuned_json(it, "time budget spent");
    done("not_tuned", nt, false);
    if (!ctx.json) print_not_tuned(it, "not tuned: time budget spent");
  };

  // Pass 1: the defaults.
  std::vector<std::pair<const Item*, TuneWinner>> second;
  for (const auto& it : pending) {
    if (spent() >= budget_s) {
      not_reached(it);
      continue;
    }
    report.write({{"e", "class"}, {"shape_class", it.key.shape_class}});
    TuneRequest req;
    req.budget_s = 0;  // the first candidate (the default) only
    auto r = it.backend->tune(it.problem, req);
    if (!r) {
      done("not_tuned", not_tuned_json(it, r.error().message), true);
      if (!ctx.json) print_not_tuned(it, "error: " + r.error().message);
      continue;
    }
    const bool more =
        std::any_of(r->candidates.begin(), r->candidates.end(),
                    [](const TuneCandidate& c) { return c.status == Status::skipped; });
    if (!more) {  // nothing else to try: this class is tuned
      done("tuned", tuned_json(*r), false);
      if (!ctx.json) print_winner(r->winner, "tuned on " + r->winner.problem);
      continue;
    }
    report.write({{"e", "baseline"}, {"winner", reports::winner_json(r->winner)}});
    second.emplace_back(&it, r->winner);
  }

  // Pass 2: the candidates. A class starts only when the quickest class tuned so far on its
  // backend would still end within the budget (a class started just before the end would overrun
  // it by that much; the isolated parent stops such a class at the end of the budget).
  double weight_left = 0;
  for (const auto& [it, _] : second) weight_left += it->weight;
  std::map<std::string, double> quickest;
  for (const auto& [item, baseline] : second) {
    const Item& it = *item;
    const double left = budget_s - spent();
    TuneRequest req;
    req.budget_s = left * it.weight / weight_left;
    weight_left -= it.weight;
    const auto q = quickest.find(it.key.backend);
    if (left <= 0 || (q != quickest.end() && q->second > left)) {
      const std::string why = "the budget ended before its other candidates";
      done("tuned", default_kept_json(baseline, why), false);
      if (!ctx.json) print_winner(baseline, "default kept: " + why);
      continue;
    }
    report.write({{"e", "class"}, {"shape_class", it.key.shape_class}});
    req.on_candidate = [&](const std::string& config) {
      report.write({{"e", "candidate"}, {"config", config}, {"at_s", spent()}});
      inject_tune_fault(it.key.backend);
    };
    req.on_best = [&](const TuneWinner& w) {
      report.write({{"e", "best"}, {"winner", reports::winner_json(w)}});
    };
    const double class_t0 = spent();
    auto r = it.backend->tune(it.problem, req);
    const double took = spent() - class_t0;
    if (auto [pos, fresh] = quickest.try_emplace(it.key.backend, took); !fresh)
      pos->second = std::min(pos->second, took);
    if (!r) {
      done("not_tuned", not_tuned_json(it, r.error().message), true);
      if (!ctx.json) print_not_tuned(it, "error: " + r.error().message);
      continue;
    }
    done("tuned", tuned_json(*r), false);
    if (!ctx.json) print_winner(r->winner, "tuned on " + r->winner.problem);
  }
  return errors;
}

// What a child reported: its lines in order (a line cut by a kill is dropped).
std::vector<nlohmann::json> read_report(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) v.push_back(std::move(j));
  }
  return v;
}

// One backend's classes, tuned by a child process within `share` seconds of tuning. Classes the
// child did not end are recorded from its report: the class in flight keeps its best candidate
// so far (stored as its winner) or says which candidate was running; the rest were not reached.
int tune_in_child(const Context& ctx, const TuneArgs& a, const std::string& db,
                  const std::vector<Item>& items, double share, TuneStore& ts,
                  nlohmann::json& out) {
  namespace fs = std::filesystem;
  std::string path = (fs::temp_directory_path() / "tierbench-tune-XXXXXX").string();
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    for (const auto& it : items) {
      out["not_tuned"].push_back(not_tuned_json(it, "cannot create a temporary file"));
      if (!ctx.json) print_not_tuned(it, "error: cannot create a temporary file");
    }
    return 1;
  }
  close(fd);
  std::vector<std::string> args = {ctx.argv0, "--db", db};
  if (ctx.json) args.push_back("--json");
  args.insert(args.end(), {"tune", "--child-report", path, "--backend", items[0].key.backend,
                           "--budget", fmt::format("{}", std::max(share, 1e-3))});
  if (a.force) args.push_back("--force");
  for (const auto& it : items) args.insert(args.end(), {"--problem", it.problem.str()});

  // The child's budget clock starts when it reports "start" (its devices open); it is stopped
  // half a second after its share ends (once it has measured a configuration), or when it has not
  // started, or not measured anything, after --timeout.
  using Clock = std::chrono::steady_clock;
  const auto spawned = Clock::now();
  std::optional<Clock::time_point> started;
  bool measured = false;
  std::string stop_reason;
  const auto stop = [&] {
    const auto now = Clock::now();
    if (!started) {
      std::ifstream f(path);
      std::string first;
      if (std::getline(f, first) && first.find("\"start\"") != std::string::npos)
        started = now;
      else if (now - spawned > std::chrono::duration<double>(a.timeout_s)) {
        stop_reason = fmt::format("the tuner did not start within {:.0f} s; stopped", a.timeout_s);
        return true;
      }
      return false;
    }
    if (now - *started <= std::chrono::duration<double>(share + 0.5)) return false;
    // Every tune measures at least one configuration: until the child has measured one (a best
    // candidate or an ended class), only --timeout stops it (a first candidate that hangs).
    if (!measured) {
      std::ifstream f(path);
      std::string line;
      while (!measured && std::getline(f, line))
        measured = line.find("\"e\":\"best\"") != std::string::npos ||
                   line.find("\"e\":\"baseline\"") != std::string::npos ||
                   line.find("\"e\":\"done\"") != std::string::npos;
      if (!measured) {
        if (now - *started <= std::chrono::duration<double>(a.timeout_s)) return false;
        stop_reason =
            fmt::format("no configuration measured within {:.0f} s; stopped", a.timeout_s);
        return true;
      }
    }
    stop_reason = "budget";
    return true;
  };
  std::fflush(stdout);
  const std::string why = run_child_until(std::move(args), stop);
  std::fflush(stdout);
  const auto lines = read_report(path);
  fs::remove(path);

  int errors = 0;
  std::set<std::string> ended;
  std::string in_flight, candidate;
  double candidate_at = 0;
  std::optional<TuneWinner> best;
  std::map<std::string, TuneWinner> baseline;  // defaults measured in the first pass
  for (const auto& l : lines) {
    const std::string e = l.value("e", "");
    if (e == "class") {
      in_flight = l.value("shape_class", ""), candidate.clear(), best.reset();
    } else if (e == "candidate") {
      candidate = l.value("config", ""), candidate_at = l.value("at_s", 0.0);
    } else if (e == "best" && l.contains("winner")) {
      best = winner_from_json(l["winner"]);
    } else if (e == "baseline" && l.contains("winner")) {
      const auto w = winner_from_json(l["winner"]);
      baseline[w.key.shape_class] = w;
    } else if (e == "done" && l.contains("entry")) {
      const auto& entry = l["entry"];
      ended.insert(entry.value("shape_class", ""));
      if (entry.value("shape_class", "") == in_flight) in_flight.clear();
      out[l.value("list", "not_tuned")].push_back(entry);
      if (l.value("error", false)) ++errors;
    }
  }
  if (why.empty()) return errors;  // the child ended every class itself

  const bool budget = stop_reason == "budget";
  if (!budget) ++errors;  // a crash, a hang before tuning, a child that could not start
  const std::string what = budget ? "the budget ended" : (stop_reason.empty() ? why : stop_reason);
  for (const auto& it : items) {
    if (ended.count(it.key.shape_class)) continue;
    const auto base = baseline.find(it.key.shape_class);
    const bool cut_with_best = it.key.shape_class == in_flight && best;
    if (base != baseline.end() && !cut_with_best) {
      // Its default was measured (and stored) in the first pass; its candidates never ended.
      const std::string why = what + " before its other candidates";
      out["tuned"].push_back(default_kept_json(base->second, why));
      if (!ctx.json) print_winner(base->second, "default kept: " + why);
      continue;
    }
    if (it.key.shape_class != in_flight) {
      const std::string reason = budget ? "time budget spent" : "not reached: " + what;
      out["not_tuned"].push_back(not_tuned_json(it, reason));
      if (!ctx.json) print_not_tuned(it, "not tuned: " + reason);
      continue;
    }
    const std::string cut = fmt::format(
        "{} while candidate {} was in flight (started {:.1f} s into the {:.1f} s share)", what,
        candidate.empty() ? "-" : candidate, candidate_at, share);
    if (best) {  // validated and timed: kept, and said to be cut short
      if (auto r = ts.put(*best); !r) {
        ++errors;
        out["not_tuned"].push_back(not_tuned_json(it, r.error().message));
        continue;
      }
      auto tj = reports::winner_json(*best);
      tj["cut_short"] = cut;
      out["tuned"].push_back(tj);
      if (!ctx.json) print_winner(*best, "best so far kept: " + cut);
    } else {
      out["not_tuned"].push_back(not_tuned_json(it, cut));
      if (!ctx.json) print_not_tuned(it, "not tuned: " + cut);
    }
  }
  return errors;
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
  const bool child = !a.child_report.empty();
  // A child's rows reach the parent's stdout as they are printed: it may be stopped any time.
  if (child) std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::vector<Item> pending;
  if (!ctx.json && !child) std::cout << reports::tune_table_header();
  for (const auto& it : items) {
    const auto w = a.force ? std::nullopt : ts->get(it.key);
    if (!w) {
      pending.push_back(it);
      continue;
    }
    out["reused"].push_back(reports::winner_json(*w));
    if (!ctx.json) print_winner(*w, "stored " + w->tuned_at + ": reused");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto spent = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  int errors = 0;
  if (child || a.no_isolate) {
    ChildReport report(a.child_report);
    errors = tune_here(ctx, pending, a.budget_s, report, out);
    if (child) return errors ? kJobFailed : kOk;  // the parent reports
  } else {
    // Each backend's share of the budget follows its classes' weights, as within a backend.
    std::vector<std::vector<Item>> groups;
    for (const auto& it : pending) {
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const auto& v) { return v[0].backend == it.backend; });
      if (g == groups.end())
        groups.push_back({it});
      else
        g->push_back(it);
    }
    double weight_left = 0;
    for (const auto& it : pending) weight_left += it.weight;
    for (const auto& g : groups) {
      double w = 0;
      for (const auto& it : g) w += it.weight;
      const double left = a.budget_s - spent();
      const double share = left * w / weight_left;
      weight_left -= w;
      if (left <= 0) {
        for (const auto& it : g) {
          out["not_tuned"].push_back(not_tuned_json(it, "time budget spent"));
          if (!ctx.json) print_not_tuned(it, "not tuned: time budget spent");
        }
        continue;
      }
      errors += tune_in_child(ctx, a, db, g, share, *ts, out);
    }
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
  selection.push_back(cmd->add_flag(
      "--no-isolate", a->no_isolate,
      "Tune in this process (default: each backend in a child process, stopped when its share "
      "of the budget ends, so that a candidate in flight cannot overrun it)"));
  selection.push_back(
      cmd->add_option("--timeout", a->timeout_s,
                      "Seconds a backend's child may take to open its device, or to measure "
                      "its first configuration, before it is stopped (default 120)")
          ->check(kPositive));
  selection.push_back(cmd->add_option("--child-report", a->child_report)->group(""));
  auto* list = cmd->add_flag("--list", a->list,
                             "List the stored winners (of --backend, default all) and exit");
  for (auto* o : selection) list->excludes(o);
  cmd->callback([&ctx, &action, a] { action = [&ctx, a] { return do_tune(ctx, *a); }; });
}

}  // namespace tb::cli

// tierbench probe: what this device can really do, measured (probes/), shown as a table or JSON
// and stored in the results store as a run of its own (kind "probe", the report in metrics).
#include <unistd.h>

#include <iostream>

#include <fmt/core.h>

#include "cli.h"
#include "environment.h"
#include "probes.h"
#include "reporter.h"
#include "store.h"
#include "version.h"

namespace tb::cli {

namespace {

struct ProbeArgs {
  ProbeOptions opts;
  std::string sections = "all";
  double storage_mib = 0;
  bool no_pin = false;
  bool no_store = false;
};

int do_probe(const Context& ctx, ProbeArgs a) {
  std::string err;
  if (!set_probe_sections(a.opts, a.sections, &err)) return usage_error("--sections: " + err);
  a.opts.storage_bytes = static_cast<std::uint64_t>(a.storage_mib * 1024 * 1024);
  a.opts.pin_threads = !a.no_pin;

  std::unique_ptr<Store> store;
  std::int64_t run_id = 0;
  if (!a.no_store) {
    const std::string db = ctx.db_path.empty() ? Store::default_path() : ctx.db_path;
    auto s = Store::open(db);
    if (!s) return usage_error(s.error().message);
    store = std::move(s.value());
    env::EnvironmentInputs ein;
    ein.git_commit = git_commit();
    ein.git_dirty = git_dirty();
    ein.compiler_flags = cxx_flags();
    ein.build_type = build_type();
    auto id = store->begin_run(ctx.command_line, git_commit(), env::capture_environment(ein));
    if (!id) return usage_error(id.error().message);
    run_id = id.value();
  }
  if (isatty(2) && !ctx.json)
    std::cerr << (a.opts.quick ? "probing (quick, ~15 s) ...\n" : "probing (~60 s) ...\n");

  const nlohmann::json report = run_probe(a.opts);

  if (store) {
    ResultRecord r;
    r.run_id = run_id;
    r.kind = "probe";
    r.name = a.opts.quick ? "probe:quick" : "probe:full";
    r.status = Status::passed;
    r.metrics = report;
    if (auto id = store->add_result(r); !id)
      std::cerr << "tierbench: warning: probe not stored: " << id.error().message << "\n";
    (void)store->finish_run(run_id, "ok");
  }
  (void)reports::probe_reporter(ctx.json ? "json" : "table")->report(std::cout, report);
  if (!ctx.json && store)
    std::cout << fmt::format("\nprobe stored as run {} in {}\n", run_id, store->path());
  return kOk;
}

}  // namespace

void add_probe_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<ProbeArgs>();
  auto* cmd = app.add_subcommand(
      "probe", "Measure this device: CPU ISA and caches, peak FLOP/s, memory, storage, GPUs");
  cmd->add_flag("--quick", a->opts.quick, "Short trials (< 15 s), for tests and CI");
  cmd->add_option("--sections", a->sections,
                  "Comma-separated: compute, memory, storage, accelerators, or all");
  cmd->add_option("--threads", a->opts.threads,
                  "Threads for the all-core figures (0: one per core)")
      ->check(kNonNegative);
  cmd->add_option("--storage-size", a->storage_mib, "Storage test file size in MiB")
      ->check(kPositive);
  cmd->add_option("--storage-dir", a->opts.storage_dir, "Directory for the storage test file");
  cmd->add_flag("--no-pin", a->no_pin, "Do not pin measurement threads to cores");
  cmd->add_flag("--no-store", a->no_store, "Do not write the report to the results store");
  cmd->callback([&ctx, &action, a] { action = [&ctx, a] { return do_probe(ctx, *a); }; });
}

}  // namespace tb::cli

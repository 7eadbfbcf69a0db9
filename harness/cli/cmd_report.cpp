// tierbench report: the store rendered for people (one self-contained HTML page, or Markdown for a
// CI job summary) and for tools (--json / --format json).
//
//   tierbench report [--run ID|latest] [--format html|md|json] [-o FILE]
//   tierbench report --compare BASE CURRENT [--format ...] [-o FILE]
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli.h"
#include "reports.h"
#include "store.h"

namespace tb::cli {

namespace {

struct ReportArgs {
  std::string run;
  std::vector<std::string> compare;  // BASE CURRENT
  std::string format;                // html, md, json; "" = from -o's extension, else html
  std::string output;
};

std::string format_of(const Context& ctx, const ReportArgs& a) {
  if (ctx.json) return "json";
  if (!a.format.empty()) return a.format;
  const std::string ext = std::filesystem::path(a.output).extension().string();
  return ext == ".md" ? "md" : ext == ".json" ? "json" : "html";
}

int do_report(const Context& ctx, const ReportArgs& a) {
  if (!a.run.empty() && !a.compare.empty())
    return usage_error("--run and --compare exclude each other (--compare names both runs)");
  auto store = open_store(ctx);
  if (!store) return usage_error(store.error().message);
  reports::ReportOptions o;
  if (a.compare.empty()) {
    auto id = resolve_run(**store, a.run);
    if (!id) return usage_error("--run: " + id.error().message);
    o.run_id = *id;
  } else {
    auto base = resolve_run(**store, a.compare[0]);
    if (!base) return usage_error("--compare BASE: " + base.error().message);
    auto current = resolve_run(**store, a.compare[1]);
    if (!current) return usage_error("--compare CURRENT: " + current.error().message);
    o.base_run_id = *base;
    o.run_id = *current;
  }
  auto report = reports::build_report(**store, o);
  if (!report) return usage_error(report.error().message);
  const std::string f = format_of(ctx, a);
  const std::string text = f == "json" ? report->dump(2) + "\n"
                           : f == "md" ? reports::render_markdown(*report)
                                       : reports::render_html(*report);
  if (a.output.empty()) {
    std::cout << text;
    return kOk;
  }
  std::ofstream out(a.output, std::ios::binary);
  if (!(out << text)) return usage_error("-o: cannot write " + a.output);
  std::cerr << "tierbench: report written to " << a.output << "\n";
  return kOk;
}

}  // namespace

void add_report_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report",
      "Render the store: one self-contained HTML page (charts), Markdown (CI job summary) or JSON");
  cmd->add_option("--run", a->run, "Run id or 'latest' (default: latest)");
  cmd->add_option("--compare", a->compare, "Compare two runs: BASE CURRENT (ids or 'latest')")
      ->expected(2);
  cmd->add_option("--format", a->format,
                  "html, md or json (default: from -o's extension, else html)")
      ->check(CLI::IsMember({"html", "md", "json"}));
  cmd->add_option("-o,--output", a->output, "Write to this file (default: stdout)");
  cmd->callback([&ctx, &action, a] { action = [&ctx, a] { return do_report(ctx, *a); }; });
}

}  // namespace tb::cli

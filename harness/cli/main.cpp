#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli.h"
#include "version.h"

namespace tb::cli {

Result<std::string> read_text_file(const std::string& path, std::size_t limit, const char* what) {
  const auto too_large = [&](std::uintmax_t size, bool at_least) {
    return make_error(path + ": " + (at_least ? "over " : "") + std::to_string(size) +
                      " bytes, more than the " + std::to_string(limit) + " " + what + " may have");
  };
  // Refused by its size before a byte is read (a 1 GiB file costs a stat, not a read).
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(path + ": cannot read: " + ec.message());
  if (size > limit) return too_large(size, false);
  // Read at most limit + 1 bytes: a file that grew since (or whose size the stat does not tell,
  // as in /proc) is refused the same way, never read whole.
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(path + ": cannot read");
  std::string text(limit + 1, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (f.bad()) return make_error(path + ": cannot read");
  text.resize(static_cast<std::size_t>(f.gcount()));
  if (text.size() > limit) return too_large(limit + 1, true);
  return text;
}

int usage_error(const std::string& message) {
  std::cerr << "tierbench: error: " << message << "\n";
  return kUsage;
}

std::string version_string() {
  return std::string("tierbench ") + version() + " (commit " + git_commit() +
         (git_dirty() ? "-dirty" : "") + ", " + build_type() + ", " + compiler() + ")";
}

}  // namespace tb::cli

int main(int argc, char** argv) {
  using namespace tb::cli;
  CLI::App app{
      "tierbench: which AI models can run on this device, how fast, at what memory and "
      "load cost, and should a request run here or be offloaded."};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  Context ctx;
  ctx.argv0 = argv[0];
  for (int i = 0; i < argc; ++i) ctx.command_line += (i ? " " : "") + std::string(argv[i]);
  app.add_option("--db", ctx.db_path,
                 "Results store (default: $XDG_DATA_HOME/tierbench/results.db)");
  app.add_flag("--json", ctx.json, "Machine-readable JSON on stdout");

  Action action;
  add_list_command(app, ctx, action);
  add_probe_command(app, ctx, action);
  add_run_command(app, ctx, action);
  add_tune_command(app, ctx, action);
  add_compare_commands(app, ctx, action);
  add_report_command(app, ctx, action);
  add_profile_command(app, ctx, action);
  add_privacy_command(app, ctx, action);
  add_export_model_command(app, ctx, action);
  add_decide_commands(app, ctx, action);
  add_calibrate_command(app, ctx, action);
  add_predict_command(app, ctx, action);
  add_validate_predictor_command(app, ctx, action);

  // The first word that is not a global option must name a command: say so plainly, instead of
  // CLI11's "a subcommand is required".
  for (int i = 1; i < argc; ++i) {
    const std::string w = argv[i];
    if (w == "--db") {
      ++i;
      continue;
    }
    if (w.rfind("-", 0) == 0) continue;
    std::string valid;
    bool known = false;
    for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      valid += (valid.empty() ? "" : ", ") + sub->get_name();
      known = known || sub->get_name() == w;
    }
    if (!known) return usage_error("unknown command '" + w + "' (valid: " + valid + ")");
    break;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.rfind("A subcommand is required", 0) == 0)
      msg = "a command is required; see 'tierbench --help' (or 'tierbench COMMAND --help')";
    return usage_error(msg);
  }
  if (!action) return usage_error("no command given; see 'tierbench --help'");
  try {
    return action();
  } catch (const std::exception& e) {
    std::cerr << "tierbench: internal error: " << e.what() << "\n";
    return kJobFailed;
  }
}

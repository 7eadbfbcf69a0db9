// The tierbench CLI: one file per subcommand, registered explicitly in main.cpp.
// Exit codes: 0 ok, 1 the job found a failure or regression, 2 usage or input error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "result.h"

namespace tb {
class Store;
}

namespace tb::cli {

enum ExitCode { kOk = 0, kJobFailed = 1, kUsage = 2 };

struct Context {
  std::string db_path;  // --db; empty = Store::default_path()
  bool json = false;    // --json: machine-readable output on stdout
  std::string argv0;    // path of this executable, for isolated child runs
  std::string command_line;
};

// A subcommand's action, set by its parse callback and run by main after parsing succeeded.
using Action = std::function<int()>;

void add_list_command(CLI::App& app, Context& ctx, Action& action);
void add_probe_command(CLI::App& app, Context& ctx, Action& action);
void add_profile_command(CLI::App& app, Context& ctx, Action& action);
void add_privacy_command(CLI::App& app, Context& ctx, Action& action);
void add_run_command(CLI::App& app, Context& ctx, Action& action);
void add_decide_commands(CLI::App& app, Context& ctx,
                         Action& action);                            // decide, validate-decisions
void add_tune_command(CLI::App& app, Context& ctx, Action& action);  // kernel tuners
void add_export_model_command(CLI::App& app, Context& ctx, Action& action);  // ONNX
void add_calibrate_command(CLI::App& app, Context& ctx, Action& action);     // the predictor
void add_predict_command(CLI::App& app, Context& ctx, Action& action);
void add_validate_predictor_command(CLI::App& app, Context& ctx, Action& action);
void add_compare_commands(CLI::App& app, Context& ctx,
                          Action& action);  // compare, export, import, baseline
void add_report_command(CLI::App& app, Context& ctx, Action& action);  // HTML, Markdown, JSON

// The store named by --db (default: Store::default_path()).
Result<std::unique_ptr<Store>> open_store(const Context& ctx);
bool all_digits(const std::string& s);
// A run id or "latest" (also ""): an error names an id that is not one or not in the store.
Result<std::int64_t> resolve_run(Store& store, const std::string& spec);

// Validators with messages that name the value: "must be a positive integer, got '-3'".
extern const CLI::Validator kPositive;
extern const CLI::Validator kNonNegative;

// The text of a file of at most `limit` bytes, refused by its size before it is read; the error
// names the file and the limit ("PATH: N bytes, more than the LIMIT WHAT may have").
Result<std::string> read_text_file(const std::string& path, std::size_t limit, const char* what);

// "tierbench: error: <message>" on stderr; returns kUsage.
int usage_error(const std::string& message);
std::string version_string();

}  // namespace tb::cli

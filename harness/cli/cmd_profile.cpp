// tierbench profile: the local profile (every figure, with provenance; stays on the device) and
// the shareable profile (classes only) from the store, both validated against their schemas
// (profiles/schema/); --validate checks a profile file a scheduler was given.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "cli.h"
#include "probes.h"
#include "profiles.h"
#include "store.h"

namespace tb::cli {

namespace {

struct ProfileArgs {
  std::string local, shareable, output, validate;
  double tolerance = 0.05;
  double epsilon = -1;
  bool no_remeasure = false;
};

Result<void> write_file(const std::string& path, const nlohmann::json& j) {
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::ofstream f(path);
  if (!(f << j.dump(2) << "\n")) return make_error("cannot write " + path);
  return {};
}

int do_validate(const std::string& path) {
  auto text = read_text_file(path, profiles::ParseLimits{}.max_bytes, "a profile");
  if (!text) return usage_error(text.error().message);
  auto j = profiles::parse_limited(*text);
  if (!j) return usage_error(path + ": " + j.error().message);
  if (auto v = profiles::validate_profile(*j); !v)
    return usage_error(path + ": " + v.error().message);
  std::cout << path << ": valid " << (*j)["schema"].get<std::string>() << " version "
            << (*j)["version"].dump() << "\n";
  return kOk;
}

int do_profile(const Context& ctx, const ProfileArgs& a) {
  if (!a.validate.empty()) return do_validate(a.validate);
  const std::string db = ctx.db_path.empty() ? Store::default_path() : ctx.db_path;
  auto store = Store::open(db);
  if (!store) return usage_error(store.error().message);
  profiles::ProfileOptions po;
  po.tolerance = a.tolerance;
  auto p = profiles::build_profiles(**store, po);
  if (!p) return usage_error(p.error().message);

  // A ceiling below what a kernel achieved is a probe error: re-measure the compute peaks once
  // (full-length trials), then flag what still contradicts the store.
  nlohmann::json remeasured;
  if (!p->inconsistencies.empty() && !a.no_remeasure) {
    for (const auto& s : p->inconsistencies) std::cerr << "tierbench: " << s << "\n";
    std::cerr << "tierbench: re-measuring the compute peaks (about a minute) ...\n";
    ProbeOptions o;
    o.memory = o.storage = o.accelerators = false;
    remeasured = run_probe(o).value("compute", nlohmann::json());
    po.compute_override = &remeasured;
    p = profiles::build_profiles(**store, po);
    if (!p) return usage_error(p.error().message);
  }
  if (!p->inconsistencies.empty()) {
    std::cerr
        << "tierbench: error: profile not emitted: a probed ceiling contradicts this "
           "device's own results (a probe error; run 'tierbench probe' on a quiet machine):\n";
    for (const auto& s : p->inconsistencies) std::cerr << "  " << s << "\n";
    return kJobFailed;
  }

  const auto dir = std::filesystem::path(db).parent_path();
  const std::string local = a.local.empty() ? (dir / "profile.local.json").string() : a.local;
  std::string shareable = !a.output.empty()      ? a.output
                          : !a.shareable.empty() ? a.shareable
                                                 : (dir / "profile.shareable.json").string();
  nlohmann::json share = p->shareable;
  if (a.epsilon >= 0) {
    share = profiles::randomise(share, a.epsilon, std::random_device{}());
    if (auto v = profiles::validate_profile(share); !v) return usage_error(v.error().message);
    std::cerr << "tierbench: randomised response on " << profiles::class_count(share)
              << " classes, epsilon " << a.epsilon << " each ("
              << a.epsilon * profiles::class_count(share) << " for the whole profile)\n";
  }
  if (auto w = write_file(local, p->local); !w) return usage_error("--local: " + w.error().message);
  if (auto w = write_file(shareable, share); !w)
    return usage_error("--shareable: " + w.error().message);
  if (a.output.empty()) std::cout << share.dump(2) << "\n";
  std::cerr << "tierbench: local profile (stays on this device): " << local
            << "\ntierbench: shareable profile (classes only): " << shareable << "\n";
  return kOk;
}

}  // namespace

void add_profile_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<ProfileArgs>();
  auto* cmd = app.add_subcommand(
      "profile",
      "Capability profiles from the store: local (every figure, stays here) and shareable "
      "(classes only, printed)");
  cmd->add_option("--local", a->local,
                  "Local profile file (default: profile.local.json beside the store)");
  cmd->add_option("--shareable", a->shareable,
                  "Shareable profile file (default: profile.shareable.json beside the store)");
  cmd->add_option("-o,--output", a->output,
                  "Write the shareable profile to this file instead of printing it");
  cmd->add_option("--validate", a->validate,
                  "Only validate this profile file against its schema (exit 2 naming the field)");
  cmd->add_option("--tolerance", a->tolerance,
                  "How far a ceiling may sit below an achieved kernel figure (fraction)")
      ->check(kNonNegative);
  cmd->add_option("--randomise", a->epsilon,
                  "Randomised response on each class with this epsilon (for telemetry)")
      ->check(kNonNegative);
  cmd->add_flag("--no-remeasure", a->no_remeasure,
                "Fail instead of re-measuring the compute peaks when a ceiling is inconsistent");
  cmd->callback([&ctx, &action, a] { action = [&ctx, a] { return do_profile(ctx, *a); }; });
}

}  // namespace tb::cli

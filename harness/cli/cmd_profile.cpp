// tierbench profile: the privacy-preserving capability profile (profiles/) from the store, as
// JSON on stdout or in a file meant to leave the device: buckets only, no identifiers.
#include <fstream>
#include <iostream>

#include "cli.h"
#include "profiles.h"
#include "store.h"

namespace tb::cli {

void add_profile_command(CLI::App& app, Context& ctx, Action& action) {
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "profile",
      "Coarse capability profile (buckets, no identifiers) from the latest probe and run");
  cmd->add_option("-o,--output", *out, "Write the profile to this file (default: stdout)");
  cmd->callback([&ctx, &action, out] {
    action = [&ctx, out] {
      auto store = Store::open(ctx.db_path.empty() ? Store::default_path() : ctx.db_path);
      if (!store) return usage_error(store.error().message);
      auto p = profiles::capability_profile(**store);
      if (!p) return usage_error(p.error().message);
      if (out->empty()) {
        std::cout << p->dump(2) << "\n";
      } else {
        std::ofstream f(*out);
        if (!(f << p->dump(2) << "\n")) return usage_error("--output: cannot write " + *out);
      }
      return static_cast<int>(kOk);
    };
  });
}

}  // namespace tb::cli

// Environment switches: the one registry of the variables that change what a run does, which
// ones are recorded with a run (runs.env_json "switches"), and how two runs' switches differ.
//
// Recorded: every set TB_* variable (known to the registry or not: an unknown one is still a
// difference between two runs), and every set variable of the libraries and drivers tierbench
// runs on, by prefix (library_prefixes(): ONEDNN_, DNNL_, OMP_, POCL_, VK_, MESA_, LP_, ...).
// Values under $HOME are recorded as "~/..." (no user names in the store).
//
// The table in harness/README.md ("Environment switches") lists every entry of known_switches()
// with the same default; tests/harness/test_switches.cpp checks that the table, the registry and
// every getenv("TB_...") in the tree agree.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tb::env {

// Who a switch is for: what a run executes, what it checks or prints, test machinery.
enum class SwitchScope {
  kernel,      // chooses a kernel, a path or a configuration: part of the repro line
  diagnostic,  // adds checks or output (validation layers, per-node profiles): changes timings
  test,        // test-only fault or slowdown injection, read by tierbench itself
  test_suite,  // read by the test binaries only, never by tierbench
  script,      // read by scripts/ only
};
std::string_view to_string(SwitchScope s);

struct Switch {
  std::string_view name;           // "TB_ONEDNN_ATTENTION"
  SwitchScope scope;               //
  std::string_view read_by;        // the folder or file that reads it
  std::string_view values;         // "auto|fused|composed"
  std::string_view default_value;  // what happens when unset
  std::string_view changes;        // one sentence
};

// Every TB_* variable tierbench, its tests and its scripts read, sorted by name.
std::span<const Switch> known_switches();
const Switch* find_switch(std::string_view name);

// Library and driver variable prefixes recorded with a run (each with what it steers).
struct LibraryPrefix {
  std::string_view prefix;  // "ONEDNN_"
  std::string_view steers;  // "oneDNN: ISA cap (ONEDNN_MAX_CPU_ISA), verbose, JIT dumps"
};
std::span<const LibraryPrefix> library_prefixes();

// Whether a variable of this name is recorded: TB_*, or a library prefix.
bool is_recorded(std::string_view name);

// {NAME: value} of every recorded variable set in `envp` (default: this process's environment),
// values under `home` (default $HOME) shortened to "~/...".
nlohmann::json capture_switches(char** envp = nullptr,
                                std::optional<std::string> home = std::nullopt);

// One variable set differently (or on one side only) in two runs' "switches".
struct SwitchDifference {
  std::string name;
  std::optional<std::string> base, current;  // nullopt: unset on that side
  bool known = false;                        // in known_switches()
};

// Differences between two runs' environments (their "switches" objects), sorted by name.
// `comparable` is false with a reason when a side recorded no switches (a store from before
// they were recorded, or a hand-written file): nothing can be said about that side.
struct SwitchComparison {
  bool comparable = true;
  std::string why_not;
  std::vector<SwitchDifference> differences;
};
SwitchComparison compare_switches(const nlohmann::json& base_env,
                                  const nlohmann::json& current_env);

// "TB_ONEDNN_ATTENTION: base fused, current unset"; "(not a known switch)" appended for an
// unknown TB_* name.
std::string describe(const SwitchDifference& d);
// {"comparable": .., "why_not": .., "differ": .., "differences": [{name, base, current, known}]}
nlohmann::json to_json(const SwitchComparison& c);

}  // namespace tb::env

// The probe report: runs the sections (CPU identity and topology, compute peaks, memory,
// storage, accelerators, environment) and assembles one JSON document whose schema is
// probes/probe_schema.json (described in probes/README.md). Its text table is a reporter
// (reports/probe_table.h).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace tb {

struct ProbeOptions {
  bool quick = false;  // quick: < 15 s on a 2-core machine; full: < 60 s
  // Sections. "cpu" and "environment" always run (they cost milliseconds).
  bool compute = true, memory = true, storage = true, accelerators = true;
  bool pin_threads = true;          // pin measurement threads to distinct cores
  int threads = 0;                  // "all_threads" figures: 0 = one per usable core
  std::uint64_t storage_bytes = 0;  // 0: 64 MiB quick, 256 MiB full
  std::string storage_dir;          // "": $TMPDIR, else /var/tmp, else /tmp
};

// Sets the sections from a comma-separated list of compute, memory, storage, accelerators
// ("all" for every one; cpu and environment are accepted and always on). False and a message
// in *error for an unknown name.
bool set_probe_sections(ProbeOptions& opts, const std::string& list, std::string* error);

inline constexpr int kProbeSchemaVersion = 1;

// Never throws for a missing device, driver or file system: each section reports what it could.
nlohmann::json run_probe(const ProbeOptions& opts);

}  // namespace tb

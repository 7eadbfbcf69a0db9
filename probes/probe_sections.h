// The probe's sections, each a function that measures one thing and returns its JSON object
// (schema: probes/README.md). run_probe() in probe_report.cpp calls them in order; they are
// public so that tests and tools can run one section alone.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cpu_topology.h"

namespace tb::probe {

struct SectionOptions {
  bool quick = false;  // fewer, shorter trials
  bool pin = true;     // pin measurement threads to distinct cores
  int threads = 0;     // threads for "all_threads" figures; 0: one per usable core
};

// Identity (cpuid), ISA flags (tb::cpu_features) and hwloc topology.
nlohmann::json probe_cpu(const Topology& topo);
// Effective clock and compute peaks, single thread and all threads.
nlohmann::json probe_compute(const SectionOptions& opts, const Topology& topo);
// Stream bandwidth (read, copy, non-temporal copy, triad) and pointer-chase latency per cache
// level. clock_ghz > 0 adds latencies in cycles.
nlohmann::json probe_memory(const SectionOptions& opts, const Topology& topo, double clock_ghz);

struct StorageOptions {
  bool quick = false;
  std::uint64_t file_bytes = 0;  // 0: 64 MiB quick, 256 MiB full
  std::string dir;               // "": $TMPDIR if set, else /var/tmp, else /tmp
  int trials = 0;                // 0: 3 quick, 5 full
};
// Sequential read throughput of a temporary file, cold (evicted) and warm; write + fsync.
nlohmann::json probe_storage(const StorageOptions& opts);

// A /proc/meminfo value ("MemAvailable", "MemTotal") in bytes; -1 when absent.
long long meminfo_bytes(const std::string& key);

// Governor, virtualisation, boost, load, memory, cgroup quota. Appends
// {"code","message"} objects to *warnings.
nlohmann::json probe_environment(const Topology& topo, nlohmann::json* warnings);

}  // namespace tb::probe

// CPU topology from hwloc: packages, cores, hardware threads, caches per level, NUMA nodes,
// and one CPU per core to pin measurement threads on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tb::probe {

struct CacheLevel {
  int level = 0;                 // 1, 2, 3, ...
  std::string type;              // "data", "instruction", "unified"
  std::uint64_t size_bytes = 0;  // one instance
  int line_bytes = 0;
  int instances = 0;      // how many of them in the machine
  int cores_sharing = 0;  // cores served by one instance
};

struct Topology {
  bool ok = false;
  std::string error;                         // why detection failed, when !ok
  int packages = 0, cores = 0, threads = 0;  // threads: hardware threads (PUs)
  int numa_nodes = 0;
  std::vector<std::uint64_t> numa_memory_bytes;  // per node, local memory
  std::vector<CacheLevel> caches;                // sorted by level, data/unified before instr.
  std::vector<int> core_cpus;  // OS index of the first allowed PU of each core, for pinning
  // The data (or unified) cache of a level; nullptr when absent.
  const CacheLevel* data_cache(int level) const;
};

// Loads the topology with hwloc; ok = false and the reason when hwloc cannot.
Topology detect_topology();
nlohmann::json to_json(const Topology& t);

}  // namespace tb::probe

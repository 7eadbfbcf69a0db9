#include "cpu_topology.h"

#include <hwloc.h>

#include <algorithm>

#include "cpu_features.h"
#include "measure.h"
#include "probe_sections.h"

namespace tb::probe {

namespace {

std::string cache_type(hwloc_obj_cache_type_t t) {
  switch (t) {
    case HWLOC_OBJ_CACHE_DATA:
      return "data";
    case HWLOC_OBJ_CACHE_INSTRUCTION:
      return "instruction";
    default:
      return "unified";
  }
}

// Owns a loaded hwloc topology for the length of one detection.
class HwlocTopology {
 public:
  HwlocTopology() {
    if (hwloc_topology_init(&topo_) != 0) return;
    initialised_ = true;
    // Instruction caches are filtered out by default; the report lists them too.
    hwloc_topology_set_icache_types_filter(topo_, HWLOC_TYPE_FILTER_KEEP_ALL);
    loaded_ = hwloc_topology_load(topo_) == 0;
  }
  ~HwlocTopology() {
    if (initialised_) hwloc_topology_destroy(topo_);
  }
  HwlocTopology(const HwlocTopology&) = delete;
  HwlocTopology& operator=(const HwlocTopology&) = delete;
  bool ok() const { return loaded_; }
  hwloc_topology_t get() const { return topo_; }

 private:
  hwloc_topology_t topo_{};
  bool initialised_ = false, loaded_ = false;
};

}  // namespace

const CacheLevel* Topology::data_cache(int level) const {
  for (const auto& c : caches)
    if (c.level == level && c.type != "instruction") return &c;
  return nullptr;
}

Topology detect_topology() {
  Topology t;
  HwlocTopology h;
  if (!h.ok()) {
    t.error = "hwloc_topology_init/hwloc_topology_load failed";
    t.core_cpus = allowed_cpus();
    return t;
  }
  hwloc_topology_t topo = h.get();
  t.ok = true;
  t.packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  t.cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  t.threads = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  t.numa_nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < t.numa_nodes; ++i) {
    hwloc_obj_t n = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    t.numa_memory_bytes.push_back(n ? n->attr->numanode.local_memory : 0);
  }

  const hwloc_obj_type_t cache_types[] = {HWLOC_OBJ_L1CACHE,  HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE,
                                          HWLOC_OBJ_L4CACHE,  HWLOC_OBJ_L5CACHE, HWLOC_OBJ_L1ICACHE,
                                          HWLOC_OBJ_L2ICACHE, HWLOC_OBJ_L3ICACHE};
  for (hwloc_obj_type_t type : cache_types) {
    const int n = hwloc_get_nbobjs_by_type(topo, type);
    if (n <= 0) continue;
    hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, 0);
    CacheLevel c;
    c.level = static_cast<int>(o->attr->cache.depth);
    c.type = cache_type(o->attr->cache.type);
    c.size_bytes = o->attr->cache.size;
    c.line_bytes = static_cast<int>(o->attr->cache.linesize);
    c.instances = n;
    c.cores_sharing = hwloc_get_nbobjs_inside_cpuset_by_type(topo, o->cpuset, HWLOC_OBJ_CORE);
    t.caches.push_back(c);
  }
  std::stable_sort(t.caches.begin(), t.caches.end(), [](const CacheLevel& a, const CacheLevel& b) {
    if (a.level != b.level) return a.level < b.level;
    return (a.type == "instruction") < (b.type == "instruction");
  });

  // One allowed PU per core, so that measurement threads never share a core (no SMT siblings).
  const std::vector<int> allowed = allowed_cpus();
  for (int i = 0; i < t.cores; ++i) {
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, static_cast<unsigned>(i));
    if (!core) continue;
    for (int pu = hwloc_bitmap_first(core->cpuset); pu >= 0;
         pu = hwloc_bitmap_next(core->cpuset, pu)) {
      if (std::find(allowed.begin(), allowed.end(), pu) != allowed.end()) {
        t.core_cpus.push_back(pu);
        break;
      }
    }
  }
  if (t.core_cpus.empty()) t.core_cpus = allowed;  // hwloc saw no cores: fall back to the mask
  return t;
}

nlohmann::json to_json(const Topology& t) {
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : t.caches) {
    caches.push_back({{"level", c.level},
                      {"type", c.type},
                      {"size_bytes", c.size_bytes},
                      {"line_bytes", c.line_bytes},
                      {"instances", c.instances},
                      {"cores_sharing", c.cores_sharing}});
  }
  nlohmann::json j = {{"detected", t.ok},           {"packages", t.packages},
                      {"cores", t.cores},           {"threads", t.threads},
                      {"numa_nodes", t.numa_nodes}, {"numa_memory_bytes", t.numa_memory_bytes},
                      {"caches", caches},           {"usable_cores", t.core_cpus.size()},
                      {"core_cpus", t.core_cpus}};
  if (!t.ok) j["error"] = t.error;
  return j;
}

}  // namespace tb::probe

// --- CPU section: identity, ISA flags and topology ---

namespace tb::probe {

nlohmann::json probe_cpu(const Topology& topo) {
  const CpuFeatures& f = cpu_features();
  nlohmann::json isa = {{"sse4_2", f.sse42},
                        {"avx", f.avx},
                        {"f16c", f.f16c},
                        {"fma", f.fma},
                        {"avx2", f.avx2},
                        {"avx512f", f.avx512f},
                        {"avx512dq", f.avx512dq},
                        {"avx512bw", f.avx512bw},
                        {"avx512vl", f.avx512vl},
                        {"avx512_vnni", f.avx512_vnni},
                        {"avx512_bf16", f.avx512_bf16},
                        {"avx512_fp16", f.avx512_fp16},
                        {"avx_vnni", f.avx_vnni},
                        {"amx_tile", f.amx_tile},
                        {"amx_int8", f.amx_int8},
                        {"amx_bf16", f.amx_bf16}};
  return {{"vendor", f.vendor},
          {"brand", f.brand},
          {"family", f.family},
          {"model", f.model},
          {"stepping", f.stepping},
          {"hypervisor_bit", f.hypervisor},
          {"best_f32_isa", f.best_f32_isa()},
          {"isa", isa},
          {"topology", to_json(topo)}};
}

}  // namespace tb::probe

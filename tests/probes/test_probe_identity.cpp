// Fast checks of the probe's identity parts: ISA flags against /proc/cpuinfo, caches against
// sysfs, topology sanity, storage on a small file, option parsing, the schema validator itself
// and the table formatter.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cpu_features.h"
#include "cpu_topology.h"
#include "measure.h"
#include "probe_report.h"
#include "probe_sections.h"
#include "probe_table.h"
#include "schema_check.h"

namespace {

// The "flags" and a few identity fields of the first processor in /proc/cpuinfo.
struct CpuInfo {
  std::set<std::string> flags;
  std::map<std::string, std::string> fields;
};

CpuInfo read_cpuinfo() {
  CpuInfo ci;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) break;  // first processor only
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    ci.fields[key] = value;
    if (key == "flags") {
      std::istringstream ss(value);
      std::string f;
      while (ss >> f) ci.flags.insert(f);
    }
  }
  return ci;
}

TEST(ProbeIdentity, IsaFlagsAgreeWithProcCpuinfo) {
  const CpuInfo ci = read_cpuinfo();
  ASSERT_FALSE(ci.flags.empty()) << "no flags in /proc/cpuinfo";
  const tb::CpuFeatures& f = tb::cpu_features();
  const std::map<std::string, bool> ours = {{"sse4_2", f.sse42},
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
                                            {"amx_bf16", f.amx_bf16},
                                            {"hypervisor", f.hypervisor}};
  for (const auto& [flag, have] : ours) {
    EXPECT_EQ(have, ci.flags.count(flag) == 1) << "flag " << flag;
  }
  // The report carries the same flags.
  const nlohmann::json cpu = tb::probe::probe_cpu(tb::probe::detect_topology());
  EXPECT_EQ(cpu["isa"]["avx2"].get<bool>(), ci.flags.count("avx2") == 1);
  EXPECT_EQ(cpu["isa"]["sse4_2"].get<bool>(), ci.flags.count("sse4_2") == 1);
  EXPECT_EQ(cpu["isa"]["avx512_bf16"].get<bool>(), ci.flags.count("avx512_bf16") == 1);
}

TEST(ProbeIdentity, VendorFamilyModelSteppingAgreeWithProcCpuinfo) {
  const CpuInfo ci = read_cpuinfo();
  const tb::CpuFeatures& f = tb::cpu_features();
  EXPECT_EQ(f.vendor, ci.fields.at("vendor_id"));
  EXPECT_EQ(std::to_string(f.family), ci.fields.at("cpu family"));
  EXPECT_EQ(std::to_string(f.model), ci.fields.at("model"));
  EXPECT_EQ(std::to_string(f.stepping), ci.fields.at("stepping"));
}

// sysfs "32K" / "1024K" / "32768K" / "2M" to bytes.
std::uint64_t parse_size(std::string s) {
  std::uint64_t mult = 1;
  if (!s.empty() && (s.back() == 'K' || s.back() == 'M' || s.back() == 'G')) {
    mult = s.back() == 'K' ? 1024 : s.back() == 'M' ? 1024 * 1024 : 1024ull * 1024 * 1024;
    s.pop_back();
  }
  return std::stoull(s) * mult;
}

std::string read_first_line(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

TEST(ProbeIdentity, CacheSizesAgreeWithSysfs) {
  const tb::probe::Topology topo = tb::probe::detect_topology();
  ASSERT_TRUE(topo.ok) << topo.error;
  const std::filesystem::path dir = "/sys/devices/system/cpu/cpu0/cache";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no " << dir;
  int compared = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("index", 0) != 0) continue;
    const int level = std::stoi(read_first_line(e.path() / "level"));
    const std::string sys_type = read_first_line(e.path() / "type");  // Data/Instruction/Unified
    const std::string size = read_first_line(e.path() / "size");
    if (size.empty()) continue;
    std::string type = sys_type == "Data"          ? "data"
                       : sys_type == "Instruction" ? "instruction"
                                                   : "unified";
    const tb::probe::CacheLevel* found = nullptr;
    for (const auto& c : topo.caches)
      if (c.level == level && c.type == type) found = &c;
    ASSERT_NE(found, nullptr) << "hwloc lacks L" << level << " " << type;
    EXPECT_EQ(found->size_bytes, parse_size(size)) << "L" << level << " " << type;
    ++compared;
  }
  EXPECT_GE(compared, 2);
  ASSERT_NE(topo.data_cache(1), nullptr);
  EXPECT_EQ(topo.data_cache(1)->type, "data");
}

TEST(ProbeIdentity, TopologyIsConsistent) {
  const tb::probe::Topology topo = tb::probe::detect_topology();
  ASSERT_TRUE(topo.ok) << topo.error;
  EXPECT_GE(topo.packages, 1);
  EXPECT_GE(topo.cores, topo.packages);
  EXPECT_GE(topo.threads, topo.cores);
  EXPECT_GE(topo.numa_nodes, 1);
  EXPECT_EQ(static_cast<long>(topo.threads), sysconf(_SC_NPROCESSORS_ONLN));
  const std::set<int> distinct(topo.core_cpus.begin(), topo.core_cpus.end());
  EXPECT_EQ(distinct.size(), topo.core_cpus.size()) << "one CPU per core, no repeats";
  const std::vector<int> allowed = tb::probe::allowed_cpus();
  for (int cpu : topo.core_cpus) {
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), cpu), allowed.end()) << cpu;
  }
}

TEST(ProbeIdentity, FigureSummary) {
  const tb::probe::Figure f = tb::probe::summarize({5, 1, 3, 2});
  EXPECT_EQ(f.trials, 4);
  EXPECT_DOUBLE_EQ(f.min, 1);
  EXPECT_DOUBLE_EQ(f.max, 5);
  EXPECT_DOUBLE_EQ(f.median, 2.5);
  EXPECT_DOUBLE_EQ(tb::probe::summarize({7, 1, 4}).median, 4);
}

TEST(ProbeIdentity, TeamRunsEveryThreadPinnedToDistinctCores) {
  const tb::probe::Topology topo = tb::probe::detect_topology();
  const int n = static_cast<int>(topo.core_cpus.size());
  std::vector<int> ran(static_cast<std::size_t>(n), -1);
  bool pinned = false;
  const double wall = tb::probe::run_team(
      n, topo.core_cpus, [&](int i) { ran[static_cast<std::size_t>(i)] = sched_getcpu(); },
      &pinned);
  EXPECT_GE(wall, 0.0);
  EXPECT_TRUE(pinned);
  for (int i = 0; i < n; ++i) EXPECT_EQ(ran[static_cast<std::size_t>(i)], topo.core_cpus[i]);
}

TEST(ProbeStorage, SmallFileColdAndWarm) {
  tb::probe::StorageOptions o;
  o.quick = true;
  o.file_bytes = 8 << 20;
  o.trials = 2;
  const nlohmann::json s = tb::probe::probe_storage(o);
  ASSERT_TRUE(s["available"].get<bool>()) << s.dump();
  EXPECT_EQ(s["file_bytes"].get<std::uint64_t>(), 8u << 20);
  EXPECT_GT(s["cold_read"]["median"].get<double>(), 0);
  EXPECT_GT(s["warm_read"]["median"].get<double>(), 0);
  EXPECT_GT(s["write_fsync"]["median"].get<double>(), 0);
  EXPECT_EQ(s["cold_read"]["trials"].get<int>(), 2);
  EXPECT_GT(s["resident_fraction_warm"].get<double>(), 0.9) << "a read file stays cached";
  const nlohmann::json schema = tb::test::load_probe_schema();
  const auto errs = tb::test::validate_schema(s, schema["properties"]["storage"], &schema);
  EXPECT_TRUE(errs.empty()) << errs.front();
}

TEST(ProbeStorage, MissingDirectoryIsReportedNotFatal) {
  tb::probe::StorageOptions o;
  o.file_bytes = 1 << 20;
  o.dir = "/nonexistent/tierbench-probe";
  const nlohmann::json s = tb::probe::probe_storage(o);
  EXPECT_FALSE(s["available"].get<bool>());
  EXPECT_NE(s["reason"].get<std::string>().find("statfs"), std::string::npos) << s.dump();
}

TEST(ProbeOptions, Sections) {
  tb::ProbeOptions o;
  std::string err;
  ASSERT_TRUE(tb::set_probe_sections(o, "compute,storage", &err)) << err;
  EXPECT_TRUE(o.compute);
  EXPECT_TRUE(o.storage);
  EXPECT_FALSE(o.memory);
  EXPECT_FALSE(o.accelerators);
  ASSERT_TRUE(tb::set_probe_sections(o, "all", &err));
  EXPECT_TRUE(o.memory && o.accelerators);
  EXPECT_FALSE(tb::set_probe_sections(o, "compute,gpu", &err));
  EXPECT_NE(err.find("gpu"), std::string::npos);
  EXPECT_TRUE(o.memory) << "a failed parse leaves the options alone";
}

tb::ProbeOptions identity_only() {
  tb::ProbeOptions o;
  o.quick = true;
  o.compute = o.memory = o.storage = o.accelerators = false;
  return o;
}

TEST(ProbeSchema, IdentityOnlyReportMatchesSchema) {
  const nlohmann::json r = tb::run_probe(identity_only());
  const auto errs = tb::test::validate_schema(r, tb::test::load_probe_schema());
  EXPECT_TRUE(errs.empty()) << errs.front();
  EXPECT_FALSE(r.contains("compute"));
  EXPECT_EQ(r["options"]["sections"], nlohmann::json::array({"cpu", "environment"}));
}

TEST(ProbeSchema, ValidatorRejectsBrokenReports) {
  const nlohmann::json schema = tb::test::load_probe_schema();
  const nlohmann::json good = tb::run_probe(identity_only());
  ASSERT_TRUE(tb::test::validate_schema(good, schema).empty());
  nlohmann::json r = good;
  r["cpu"]["isa"].erase("avx2");
  EXPECT_FALSE(tb::test::validate_schema(r, schema).empty()) << "missing ISA flag";
  r = good;
  r["options"]["mode"] = "medium";
  EXPECT_FALSE(tb::test::validate_schema(r, schema).empty()) << "bad enum";
  r = good;
  r["cpu"]["topology"]["caches"][0]["size_bytes"] = "32K";
  EXPECT_FALSE(tb::test::validate_schema(r, schema).empty()) << "wrong type";
  r = good;
  r["storage"] = {{"available", true}};
  EXPECT_FALSE(tb::test::validate_schema(r, schema).empty()) << "available storage without data";
  r = good;
  r["memory"] = {{"array_bytes", 1},
                 {"threads", 1},
                 {"isa", "sse2"},
                 {"latency_method", ""},
                 {"bandwidth", {{"copy", {{"unit", "GB/s"}}}}},
                 {"latency", nlohmann::json::array()}};
  EXPECT_FALSE(tb::test::validate_schema(r, schema).empty()) << "bandwidth without figures";
}

TEST(ProbeTable, RendersSectionsAndWarnings) {
  const nlohmann::json r = tb::run_probe(identity_only());
  const std::string t = tb::format_probe_table(r);
  EXPECT_NE(t.find("CPU"), std::string::npos);
  EXPECT_NE(t.find(tb::cpu_features().brand), std::string::npos);
  EXPECT_NE(t.find("Environment"), std::string::npos);
  EXPECT_EQ(t.find("Compute"), std::string::npos) << "absent section, no block";
  nlohmann::json w = r;
  w["warnings"] = {{{"code", "test_code"}, {"message", "a test warning"}}};
  EXPECT_NE(tb::format_probe_table(w).find("[test_code] a test warning"), std::string::npos);
  EXPECT_NO_THROW(tb::format_probe_table(nlohmann::json::object()));
}

}  // namespace

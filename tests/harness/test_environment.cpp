// Tests for harness/environment: the parsers on fixed text, the capture against a fake system
// tree (deterministic) and against this machine (keys present, no hostname).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "environment.h"

namespace tb::env {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCpuinfo = R"(processor	: 0
vendor_id	: AuthenticAMD
model name	: AMD Test CPU 9000 8-Core Processor
physical id	: 0
core id		: 0

processor	: 1
vendor_id	: AuthenticAMD
model name	: AMD Test CPU 9000 8-Core Processor
physical id	: 0
core id		: 0

processor	: 2
vendor_id	: AuthenticAMD
model name	: AMD Test CPU 9000 8-Core Processor
physical id	: 0
core id		: 1
)";

TEST(Environment, Parsers) {
  const CpuInfo ci = parse_cpuinfo(kCpuinfo);
  EXPECT_EQ(ci.model, "AMD Test CPU 9000 8-Core Processor");
  EXPECT_EQ(ci.vendor, "AuthenticAMD");
  EXPECT_EQ(ci.logical_cpus, 3);
  EXPECT_EQ(ci.physical_cores, 2);  // SMT siblings share a core id
  EXPECT_EQ(ci.sockets, 1);
  EXPECT_EQ(parse_cpuinfo("").model, "unknown");
  EXPECT_EQ(parse_os_release_pretty_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 "
                                         "(bookworm)\"\nID=debian\n"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(parse_os_release_pretty_name("ID=x\n"), "unknown");
  const auto la = parse_loadavg("0.52 1.25 2.00 3/456 7890\n");
  ASSERT_TRUE(la.has_value());
  EXPECT_DOUBLE_EQ((*la)[0], 0.52);
  EXPECT_DOUBLE_EQ((*la)[2], 2.00);
  EXPECT_FALSE(parse_loadavg("garbage").has_value());
  EXPECT_EQ(parse_meminfo_total_bytes("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            24576000LL * 1024);
  EXPECT_FALSE(parse_meminfo_total_bytes("MemFree: 1 kB\n").has_value());
  EXPECT_TRUE(dmi_names_vm("QEMU", "Standard PC (Q35 + ICH9, 2009)"));
  EXPECT_TRUE(dmi_names_vm("Microsoft Corporation", "Virtual Machine"));
  EXPECT_FALSE(dmi_names_vm("ASUSTeK COMPUTER INC.", "ROG STRIX B650E-F"));
}

class FakeTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("tb_env_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    write("proc/cpuinfo", kCpuinfo);
    write("proc/loadavg", "0.50 0.40 0.30 1/100 42\n");
    write("proc/meminfo", "MemTotal:       1024 kB\n");
    write("etc/os-release", "PRETTY_NAME=\"Test OS 1.0\"\n");
    write("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
    write("sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2600000\n");
    write("sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "4500000\n");
    write("sys/devices/system/cpu/cpufreq/boost", "1\n");
    write("sys/devices/system/cpu/smt/active", "1\n");
    write("sys/class/dmi/id/sys_vendor", "QEMU\n");
    write("sys/class/dmi/id/product_name", "Standard PC\n");
    paths_ = {(root_ / "proc").string(), (root_ / "sys").string(), (root_ / "etc").string()};
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  fs::path root_;
  SystemPaths paths_;
};

TEST_F(FakeTree, CapturesEveryKey) {
  EnvironmentInputs in;
  in.git_commit = "0123456789ab";
  in.git_dirty = true;
  in.compiler_flags = "-O3 -march=native";
  in.build_type = "Release";
  in.libraries = {{"oneDNN", "2.6.3"}};
  in.paths = paths_;
  const nlohmann::json j = capture_environment(in);
  EXPECT_EQ(j["schema"], "tierbench.env/1");
  EXPECT_EQ(j["cpu"]["model"], "AMD Test CPU 9000 8-Core Processor");
  EXPECT_EQ(j["cpu"]["logical_cpus"], 3);
  EXPECT_EQ(j["cpu"]["physical_cores"], 2);
  EXPECT_EQ(j["cpu"]["governor"], "performance");
  EXPECT_DOUBLE_EQ(j["cpu"]["freq_cur_mhz"].get<double>(), 2600.0);
  EXPECT_DOUBLE_EQ(j["cpu"]["freq_max_mhz"].get<double>(), 4500.0);
  EXPECT_EQ(j["cpu"]["boost"], "on");
  EXPECT_EQ(j["cpu"]["smt"], "on");
  EXPECT_EQ(j["memory"]["total_bytes"], 1024 * 1024);
  EXPECT_EQ(j["virtualization"]["is_vm"], true);  // DMI says QEMU
  EXPECT_EQ(j["virtualization"]["dmi_vendor"], "QEMU");
  EXPECT_EQ(j["os"]["pretty_name"], "Test OS 1.0");
  EXPECT_EQ(j["compiler"]["flags"], "-O3 -march=native");
  EXPECT_EQ(j["compiler"]["build_type"], "Release");
  EXPECT_FALSE(j["compiler"]["version"].get<std::string>().empty());
  EXPECT_EQ(j["git"]["commit"], "0123456789ab");
  EXPECT_EQ(j["git"]["dirty"], true);
  EXPECT_EQ(j["loadavg_start"], nlohmann::json({0.5, 0.4, 0.3}));
  EXPECT_EQ(j["libraries"]["oneDNN"], "2.6.3");
  EXPECT_TRUE(j["threads"].contains("OMP_NUM_THREADS"));
  EXPECT_GE(j["threads"]["hardware_concurrency"].get<int>(), 0);
  EXPECT_EQ(loadavg_json(paths_), nlohmann::json({0.5, 0.4, 0.3}));
}

TEST_F(FakeTree, MissingFilesAreUnknown) {
  fs::remove_all(root_ / "sys");
  fs::remove(root_ / "proc" / "loadavg");
  EnvironmentInputs in;
  in.paths = paths_;
  const nlohmann::json j = capture_environment(in);
  EXPECT_EQ(j["cpu"]["governor"], "unknown");
  EXPECT_TRUE(j["cpu"]["freq_cur_mhz"].is_null());
  EXPECT_EQ(j["cpu"]["boost"], "unknown");
  EXPECT_TRUE(j["loadavg_start"].is_null());
  EXPECT_TRUE(j["git"]["dirty"].is_null());
  EXPECT_EQ(j["git"]["commit"], "unknown");
}

// Every string anywhere in the document.
void collect_strings(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_string()) out.push_back(j.get<std::string>());
  if (j.is_structured())
    for (const auto& v : j) collect_strings(v, out);
}

TEST(Environment, ThisMachineHasKeysAndNoHostname) {
  const nlohmann::json j = capture_environment();
  for (const char* k : {"schema", "captured_at", "cpu", "memory", "virtualization", "os",
                        "compiler", "git", "threads", "loadavg_start", "libraries"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_NE(j["cpu"]["model"], "unknown");
  EXPECT_FALSE(j["os"]["kernel_release"].get<std::string>().empty());
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  std::vector<std::string> strings;
  collect_strings(j, strings);
  for (const std::string& s : strings) EXPECT_NE(s, host) << "hostname recorded";
  const std::string dump = j.dump();
  EXPECT_EQ(dump.find("hostname"), std::string::npos);
  EXPECT_EQ(dump.find("nodename"), std::string::npos);
}

}  // namespace
}  // namespace tb::env

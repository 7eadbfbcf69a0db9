// The ctest properties tb_test (tests/CMakeLists.txt) gives every gtest suite: TB_BIN_DIR and
// TB_SOURCE_DIR in the environment, and its labels. Both once went missing without a sound:
// gtest_discover_tests flattened the ENVIRONMENT list, so TB_SOURCE_DIR became a property name
// of its own, and a `slow` label after it was lost (`ctest -LE slow` ran the slow suites).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

namespace {

TEST(CtestProperties, BothDirectoriesReachTheTest) {
  const char* bin = std::getenv("TB_BIN_DIR");
  const char* src = std::getenv("TB_SOURCE_DIR");
  if (!bin && !src) GTEST_SKIP() << "not run by ctest (neither TB_BIN_DIR nor TB_SOURCE_DIR set)";
  ASSERT_NE(bin, nullptr) << "TB_SOURCE_DIR arrived without TB_BIN_DIR";
  ASSERT_NE(src, nullptr) << "TB_BIN_DIR arrived without TB_SOURCE_DIR";
  EXPECT_EQ(std::filesystem::path(bin), std::filesystem::path(TB_EXPECT_BIN_DIR));
  EXPECT_EQ(std::filesystem::path(src), std::filesystem::path(TB_EXPECT_SOURCE_DIR));
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(src) / "tests" / "README.md"));
}

// Every discovered gtest case, as `ctest --show-only=json-v1` lists it, carries both variables;
// the suites registered with LABELS slow carry that label (and only one label each).
TEST(CtestProperties, EveryDiscoveredCaseHasTheEnvironmentAndItsLabels) {
  const std::string cmd = std::string("'") + TB_CTEST_COMMAND + "' --test-dir '" +
                          TB_EXPECT_BIN_DIR + "' --show-only=json-v1 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  ASSERT_TRUE(p);
  std::string out;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p.get())) > 0;) out.append(buf, n);
  const auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "ctest --show-only=json-v1 printed no JSON";
  int gtest_cases = 0, slow = 0;
  std::set<std::string> slow_suites;
  for (const auto& t : j["tests"]) {
    const auto& command = t.value("command", nlohmann::json::array());
    bool is_gtest = false;
    for (const auto& arg : command)
      is_gtest = is_gtest || arg.get<std::string>().rfind("--gtest_filter=", 0) == 0;
    if (!is_gtest) continue;
    ++gtest_cases;
    std::string env;
    std::vector<std::string> labels;
    for (const auto& prop : t.value("properties", nlohmann::json::array())) {
      if (prop["name"] == "ENVIRONMENT")
        for (const auto& e : prop["value"]) env += e.get<std::string>() + "\n";
      if (prop["name"] == "LABELS")
        for (const auto& l : prop["value"]) labels.push_back(l);
    }
    const std::string name = t["name"];
    EXPECT_NE(env.find("TB_BIN_DIR=" + std::string(TB_EXPECT_BIN_DIR) + "\n"), std::string::npos)
        << name << ": " << env;
    EXPECT_NE(env.find("TB_SOURCE_DIR=" + std::string(TB_EXPECT_SOURCE_DIR) + "\n"),
              std::string::npos)
        << name << ": " << env;
    if (labels == std::vector<std::string>{"slow"}) {
      ++slow;
      slow_suites.insert(std::filesystem::path(command[0].get<std::string>()).filename());
    }
  }
  EXPECT_GT(gtest_cases, 100);
  // tests/workloads and tests/probes register these two with LABELS slow.
  EXPECT_TRUE(slow_suites.count("test_workload_run")) << slow << " slow cases";
  EXPECT_TRUE(slow_suites.count("test_probe_measure")) << slow << " slow cases";
}

}  // namespace

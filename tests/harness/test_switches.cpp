// The switch registry (harness/switches.h) against the tree and the documented table: every
// getenv("TB_...") and ${TB_...} in the sources is registered, every registered switch is read
// somewhere and has a row in harness/README.md with the same default; recording and comparison.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "switches.h"

namespace tb::env {
namespace {

namespace fs = std::filesystem;

fs::path source_dir() {
  const char* s = std::getenv("TB_SOURCE_DIR");
  return s ? fs::path(s) : fs::path(TB_TESTS_SOURCE_DIR);
}

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// TB_* names the tree reads from the environment: a getenv of a literal TB_ name in C++ and a
// ${TB_ expansion in shell scripts.
// Name -> first file that reads it.
std::map<std::string, std::string> names_read_in_tree() {
  const std::regex cpp(R"re(getenv\(\s*"(TB_[A-Z0-9_]+)")re");
  const std::regex sh(R"re(\$\{(TB_[A-Z0-9_]+))re");
  std::map<std::string, std::string> found;
  const fs::path root = source_dir();
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() &&
        (name.rfind("build", 0) == 0 || name.front() == '.' || name == "node_modules")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    const std::string ext = it->path().extension().string();
    const bool is_cpp = ext == ".cpp" || ext == ".h" || ext == ".cc" || ext == ".hpp";
    const bool is_sh = ext == ".sh" || name == "run";
    if (!is_cpp && !is_sh) continue;
    const std::string text = read(it->path());
    const std::regex& re = is_cpp ? cpp : sh;
    for (std::sregex_iterator m(text.begin(), text.end(), re), end; m != end; ++m)
      found.emplace((*m)[1].str(), fs::relative(it->path(), root).string());
  }
  return found;
}

// The README table: switch name -> default column (markdown "\|" unescaped).
std::map<std::string, std::string> readme_table(std::set<std::string>* prefixes) {
  const std::string text = read(source_dir() / "harness" / "README.md");
  std::map<std::string, std::string> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::string cell;
    for (std::size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
        cell += '|';
        ++i;
      } else if (line[i] == '|') {
        const auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
        cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
        cell.clear();
      } else {
        cell += line[i];
      }
    }
    const std::string name = cells.at(0).substr(1, cells.at(0).size() - 2);  // strip backticks
    if (cells.size() == 2 && prefixes) {
      prefixes->insert(name.substr(0, name.size() - 1));  // "OMP_*" -> "OMP_"
    } else if (cells.size() == 6) {
      rows[name] = cells[4];
    }
  }
  return rows;
}

TEST(Switches, RegistryIsSortedUniqueAndComplete) {
  std::string last;
  for (const Switch& s : known_switches()) {
    EXPECT_LT(last, std::string(s.name)) << "sorted and unique";
    last = s.name;
    EXPECT_TRUE(s.name.starts_with("TB_")) << s.name;
    EXPECT_FALSE(s.values.empty()) << s.name;
    EXPECT_FALSE(s.default_value.empty()) << s.name;
    EXPECT_FALSE(s.changes.empty()) << s.name;
    EXPECT_FALSE(s.read_by.empty()) << s.name;
    EXPECT_EQ(find_switch(s.name), &s);
  }
  EXPECT_EQ(find_switch("TB_NO_SUCH_SWITCH"), nullptr);
}

TEST(Switches, EveryVariableTheTreeReadsIsRegisteredAndEveryRegisteredOneIsRead) {
  const auto read = names_read_in_tree();
  ASSERT_GT(read.size(), 10u) << "the scan found the sources under " << source_dir();
  for (const auto& [name, file] : read)
    EXPECT_NE(find_switch(name), nullptr)
        << name << " (read in " << file << ") is missing from harness/switches.cpp";
  for (const Switch& s : known_switches())
    EXPECT_TRUE(read.count(std::string(s.name)))
        << s.name << " is registered but nothing in the tree reads it";
}

TEST(Switches, ReadmeTableListsEveryRegisteredSwitchWithItsDefault) {
  std::set<std::string> prefixes;
  const auto table = readme_table(&prefixes);
  for (const Switch& s : known_switches()) {
    const auto row = table.find(std::string(s.name));
    ASSERT_NE(row, table.end()) << s.name << " has no row in harness/README.md";
    EXPECT_EQ(row->second, s.default_value) << s.name << ": the README's default differs";
  }
  for (const auto& [name, dflt] : table)
    EXPECT_NE(find_switch(name), nullptr) << name << " is in the README but not registered";
  std::set<std::string> registered;
  for (const auto& p : library_prefixes()) registered.insert(std::string(p.prefix));
  EXPECT_EQ(prefixes, registered) << "the README's prefix table and library_prefixes()";
}

TEST(Switches, CaptureRecordsTbAndLibraryVariablesOnlyWithHomeShortened) {
  std::vector<std::string> vars = {"TB_ONEDNN_ATTENTION=composed",
                                   "TB_SOMETHING_NEW=1",
                                   "ONEDNN_MAX_CPU_ISA=AVX2",
                                   "OMP_NUM_THREADS=2",
                                   "VK_ICD_FILENAMES=/home/ann/icd.json:/usr/share/x.json",
                                   "MESA_SHADER_CACHE_DIR=/home/ann",
                                   "LP_NUM_THREADS=4",
                                   "PATH=/usr/bin",
                                   "HOME=/home/ann",
                                   "USER=ann",
                                   "TBX=1",
                                   "NOEQUALS"};
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  const nlohmann::json j = capture_switches(envp.data(), std::string("/home/ann/"));
  const nlohmann::json want = {{"TB_ONEDNN_ATTENTION", "composed"},
                               {"TB_SOMETHING_NEW", "1"},
                               {"ONEDNN_MAX_CPU_ISA", "AVX2"},
                               {"OMP_NUM_THREADS", "2"},
                               {"VK_ICD_FILENAMES", "~/icd.json:/usr/share/x.json"},
                               {"MESA_SHADER_CACHE_DIR", "~"},
                               {"LP_NUM_THREADS", "4"}};
  EXPECT_EQ(j, want) << j.dump(2);
  // A prefix of the home folder that is not a path component stays.
  std::string other = "POCL_CACHE_DIR=/home/annex/c";
  char* one[] = {other.data(), nullptr};
  EXPECT_EQ(capture_switches(one, std::string("/home/ann"))["POCL_CACHE_DIR"], "/home/annex/c");
}

TEST(Switches, CompareNamesEveryDifferenceAndSaysWhenItCannot) {
  const nlohmann::json base = {
      {"switches",
       {{"TB_ONEDNN_ATTENTION", "fused"}, {"OMP_NUM_THREADS", "2"}, {"TB_ONEDNN_LAYOUT", "nhwc"}}}};
  const nlohmann::json cur = {
      {"switches", {{"TB_ONEDNN_LAYOUT", "nhwc"}, {"OMP_NUM_THREADS", "4"}, {"TB_MADE_UP", "x"}}}};
  const SwitchComparison c = compare_switches(base, cur);
  ASSERT_TRUE(c.comparable);
  ASSERT_EQ(c.differences.size(), 3u);
  EXPECT_EQ(describe(c.differences[0]), "OMP_NUM_THREADS: base '2', current '4'");
  EXPECT_EQ(describe(c.differences[1]), "TB_MADE_UP: base unset, current 'x' (not a known switch)");
  EXPECT_EQ(describe(c.differences[2]), "TB_ONEDNN_ATTENTION: base 'fused', current unset");
  const nlohmann::json j = to_json(c);
  EXPECT_EQ(j["differ"], true);
  EXPECT_EQ(j["differences"][2]["current"], nullptr);
  EXPECT_EQ(j["differences"][1]["known"], false);

  EXPECT_TRUE(compare_switches(base, base).differences.empty());
  EXPECT_EQ(to_json(compare_switches(base, base))["differ"], false);
  const SwitchComparison old = compare_switches(nlohmann::json::object(), cur);
  EXPECT_FALSE(old.comparable);
  EXPECT_NE(old.why_not.find("base"), std::string::npos) << old.why_not;
  EXPECT_EQ(to_json(old)["comparable"], false);
}

}  // namespace
}  // namespace tb::env

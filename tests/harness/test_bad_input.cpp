// The bad-input table of tests/README.md, kept true: every row is run as a user would run it and
// must exit with the code given and print the message fragment given.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "kernels.h"

namespace tb {
namespace {

struct Row {
  std::string what, command, message;
  int exit_code = -1;
  bool on_stdout = false;  // "(table)": the message is in the results table, not an error
};

std::string source_dir() {
  const char* s = std::getenv("TB_SOURCE_DIR");
  return s ? s : TB_TESTS_SOURCE_DIR;
}

// The rows of the table under "## Bad input" (cells: what, `command`, exit, `message`).
std::vector<Row> table_rows() {
  std::ifstream f(source_dir() + "/tests/README.md");
  std::vector<Row> rows;
  const std::regex row(R"(^\| (.+?) \| `(.+?)` \| (\d) \| `(.+?)` \|$)");
  bool in_section = false;
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("## ", 0) == 0) in_section = line.rfind("## Bad input", 0) == 0;
    std::smatch m;
    if (!in_section || !std::regex_match(line, m, row)) continue;
    Row r{m[1], m[2], m[4], std::stoi(m[3])};
    if (r.message.rfind("(table) ", 0) == 0) r.message.erase(0, 8), r.on_stdout = true;
    rows.push_back(r);
  }
  return rows;
}

std::string substitute(std::string s, const std::string& key, const std::string& value) {
  for (auto at = s.find(key); at != std::string::npos; at = s.find(key, at + value.size()))
    s.replace(at, key.size(), value);
  return s;
}

TEST(BadInput, EveryRowOfTheDocumentedTableHolds) {
  const auto rows = table_rows();
  ASSERT_GE(rows.size(), 20u) << "the table in tests/README.md was not found or lost rows";
  test::TempDir dir;
  std::ofstream(dir.path() / "garbage.db") << "not a database at all, definitely not sqlite\n";
  std::ofstream(dir.path() / "huge.json").close();
  std::filesystem::resize_file(dir.path() / "huge.json", std::uintmax_t{1} << 30);  // sparse
  std::ofstream(dir.path() / "huge.onnx").close();
  std::filesystem::resize_file(dir.path() / "huge.onnx", std::uintmax_t{1} << 31);  // sparse
  for (const auto& r : rows) {
    std::string args = substitute(r.command, "$DIR", dir.path().string());
    args = substitute(args, "$CORPUS", source_dir() + "/tests/fuzz/corpus");
    const auto res = test::run_tierbench(
        args, "XDG_CACHE_HOME=" + dir.path().string() + " XDG_DATA_HOME=" + dir.path().string());
    EXPECT_EQ(res.exit_code, r.exit_code) << r.what << ": tierbench " << args << "\n" << res.err;
    const std::string& text = r.on_stdout ? res.out : res.err;
    EXPECT_NE(text.find(r.message), std::string::npos)
        << r.what << ": expected '" << r.message << "' in:\n"
        << text;
    if (r.exit_code == 2) {
      EXPECT_EQ(res.err.find("tierbench: error:"), 0u) << r.what << ": " << res.err;
      EXPECT_EQ(res.err.find('\n'), res.err.size() - 1) << r.what << ": one line: " << res.err;
    }
  }
}

// Comma lists are what users type; repeating the flag works too.
TEST(BadInput, BackendListsAreCommaSeparatedOrRepeated) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";

  test::TempDir dir;
  const std::string db = "--db " + (dir.path() / "r.db").string();
  for (const char* b : {"--backend reference,onednn", "--backend reference --backend onednn"}) {
    const auto r = test::run_tierbench(db + " --json run " + b +
                                       " --problem gemm:m8n8k8:f32 --max-time 0.05 --no-isolate");
    EXPECT_EQ(r.exit_code, 0) << b << ": " << r.err;
    EXPECT_NE(r.out.find("\"backend\": \"reference\""), std::string::npos) << b;
    EXPECT_NE(r.out.find("\"backend\": \"onednn\""), std::string::npos) << b;
  }
  const auto r = test::run_tierbench(db + " run --backend reference,nosuch --size 8");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown backend 'nosuch'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tb

// Runs the tierbench binary as a user would and captures its exit code and output.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tb::test {

struct CmdResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string tierbench_path();
// Runs `tierbench <args>` through /bin/sh (args are shell words), with an optional env prefix.
CmdResult run_tierbench(const std::string& args, const std::string& env = "");

// A fresh temporary directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace tb::test

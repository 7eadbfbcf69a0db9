#include "tune_store.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

#include <unistd.h>

#include "cl_common.h"

namespace tb {

namespace {

std::map<std::string, std::string> read_all(const std::string& path) {
  std::map<std::string, std::string> m;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    m[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return m;
}

std::mutex g_mu;
std::shared_ptr<TuneStore> g_store;
bool g_init = false;

}  // namespace

std::optional<std::string> FileTuneStore::get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto m = read_all(path_);
  if (auto it = m.find(key); it != m.end()) return it->second;
  return std::nullopt;
}

Result<void> FileTuneStore::put(const std::string& key, const std::string& value) {
  if (key.find_first_of("\t\n") != std::string::npos ||
      value.find_first_of("\t\n") != std::string::npos)
    return make_error("tune store: key and value must not contain tabs or newlines");
  std::lock_guard lock(mu_);
  auto m = read_all(path_);
  m[key] = value;
  const std::string tmp = path_ + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream o(tmp);
    if (!o) return make_error("tune store: cannot write " + tmp);
    for (const auto& [k, v] : m) o << k << '\t' << v << '\n';
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return make_error("tune store: rename to " + path_ + ": " + ec.message());
  return {};
}

std::shared_ptr<TuneStore> tune_store() {
  std::lock_guard lock(g_mu);
  if (!g_init) {
    g_init = true;
    if (const std::string dir = ocl::cache_dir(); !dir.empty())
      g_store = std::make_shared<FileTuneStore>(dir + "/tune.tsv");
  }
  return g_store;
}

void set_tune_store(std::shared_ptr<TuneStore> store) {
  std::lock_guard lock(g_mu);
  g_init = true;
  g_store = std::move(store);
}

}  // namespace tb

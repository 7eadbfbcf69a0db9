// Where auto-tuning winners persist: a tiny key -> value interface. Keys name what a winner is
// valid for (op, device name, driver version, kernel source hash); values are a kernel's
// configuration string. The default is a file under the cache directory; the harness may install
// another store (e.g. one backed by its SQLite database) with set_tune_store().
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "../result.h"

namespace tb {

class TuneStore {
 public:
  virtual ~TuneStore() = default;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  virtual Result<void> put(const std::string& key, const std::string& value) = 0;
};

// One "key<TAB>value" line per entry; the last line for a key wins. Rewritten whole on put.
class FileTuneStore final : public TuneStore {
 public:
  explicit FileTuneStore(std::string path) : path_(std::move(path)) {}
  std::optional<std::string> get(const std::string& key) override;
  Result<void> put(const std::string& key, const std::string& value) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mu_;
};

// The process-wide store: by default a FileTuneStore at <cache_dir>/tune.tsv
// ($XDG_CACHE_HOME/tierbench, else ~/.cache/tierbench); nullptr when no cache dir is usable.
std::shared_ptr<TuneStore> tune_store();
void set_tune_store(std::shared_ptr<TuneStore> store);

}  // namespace tb

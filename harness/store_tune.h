// Auto-tuning winners kept in the results store (kv namespace "tune"), so that they live with
// the measurements that chose them and travel with the store. Installed by the CLI for the
// backends' tuners through tb::set_tune_store (kernels/opencl/tune_store.h).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "opencl/tune_store.h"
#include "store.h"

namespace tb {

class StoreTuneStore final : public TuneStore {
 public:
  // Opens its own connection to the store at `path` (the runner's stays free for results).
  static std::shared_ptr<StoreTuneStore> open(const std::string& path);
  std::optional<std::string> get(const std::string& key) override;
  Result<void> put(const std::string& key, const std::string& value) override;

 private:
  explicit StoreTuneStore(std::unique_ptr<Store> s) : store_(std::move(s)) {}
  std::unique_ptr<Store> store_;
  std::mutex mu_;
};

}  // namespace tb

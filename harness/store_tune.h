// Tuner winners kept in the results store's tuning table (schema v2, store.h), so that they live
// with the measurements that chose them and travel with the store: the one place they persist.
// `tune` and `run` install it for the backends' tuners with tb::set_tune_store (kernels/tuning.h).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store.h"
#include "tuning.h"

namespace tb {

class StoreTuneStore final : public TuneStore {
 public:
  // Opens its own connection to the store at `path` (the runner's stays free for results);
  // nullptr when the store cannot be opened.
  static std::shared_ptr<StoreTuneStore> open(const std::string& path);
  std::optional<TuneWinner> get(const TuneKey& key) override;
  Result<void> put(const TuneWinner& w) override;
  Result<std::vector<TuneWinner>> list() override;

 private:
  explicit StoreTuneStore(std::unique_ptr<Store> s) : store_(std::move(s)) {}
  std::unique_ptr<Store> store_;
  std::mutex mu_;
};

}  // namespace tb

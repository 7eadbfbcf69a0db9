#include "store_tune.h"

namespace tb {

std::shared_ptr<StoreTuneStore> StoreTuneStore::open(const std::string& path) {
  auto s = Store::open(path);
  if (!s) return nullptr;
  return std::shared_ptr<StoreTuneStore>(new StoreTuneStore(std::move(s.value())));
}

std::optional<TuneWinner> StoreTuneStore::get(const TuneKey& key) {
  std::lock_guard lock(mu_);
  auto w = store_->get_tuning(key);
  return w ? w.value() : std::nullopt;
}

Result<void> StoreTuneStore::put(const TuneWinner& w) {
  std::lock_guard lock(mu_);
  return store_->put_tuning(w);
}

Result<std::vector<TuneWinner>> StoreTuneStore::list() {
  std::lock_guard lock(mu_);
  return store_->list_tuning();
}

}  // namespace tb

#include "store_tune.h"

namespace tb {

std::shared_ptr<StoreTuneStore> StoreTuneStore::open(const std::string& path) {
  auto s = Store::open(path);
  if (!s) return nullptr;
  return std::shared_ptr<StoreTuneStore>(new StoreTuneStore(std::move(s.value())));
}

std::optional<std::string> StoreTuneStore::get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto v = store_->get("tune", key);
  return v ? v.value() : std::nullopt;
}

Result<void> StoreTuneStore::put(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  return store_->put("tune", key, value);
}

}  // namespace tb

#include "tuning.h"

#include <algorithm>
#include <mutex>

namespace tb {

namespace {
std::mutex g_mu;
std::shared_ptr<TuneStore> g_store;
}  // namespace

std::optional<TuneWinner> MemoryTuneStore::get(const TuneKey& key) {
  std::lock_guard lock(mu_);
  for (const auto& w : winners_)
    if (w.key == key) return w;
  return std::nullopt;
}

Result<void> MemoryTuneStore::put(const TuneWinner& w) {
  std::lock_guard lock(mu_);
  std::erase_if(winners_, [&](const TuneWinner& x) { return x.key == w.key; });
  winners_.push_back(w);
  return {};
}

Result<std::vector<TuneWinner>> MemoryTuneStore::list() {
  std::lock_guard lock(mu_);
  return winners_;
}

std::shared_ptr<TuneStore> tune_store() {
  std::lock_guard lock(g_mu);
  if (!g_store) g_store = std::make_shared<MemoryTuneStore>();
  return g_store;
}

void set_tune_store(std::shared_ptr<TuneStore> store) {
  std::lock_guard lock(g_mu);
  g_store = std::move(store);
}

}  // namespace tb

#include "measure.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace tb::probe {

Figure summarize(std::vector<double> s) {
  Figure f;
  f.trials = static_cast<int>(s.size());
  if (s.empty()) return f;
  std::sort(s.begin(), s.end());
  const std::size_t n = s.size();
  f.min = s.front();
  f.max = s.back();
  f.median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  return f;
}

nlohmann::json to_json(const Figure& f) {
  return {{"median", f.median}, {"min", f.min}, {"max", f.max}, {"trials", f.trials}};
}

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

bool pin_current_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &set)) cpus.push_back(i);
  return cpus;
}

double run_team(int n, const std::vector<int>& cpus, const std::function<void(int)>& fn,
                bool* pinned) {
  if (n < 1) n = 1;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false}, pin_ok{true};
  std::vector<double> ends(static_cast<std::size_t>(n), 0.0);
  double start = 0;
  auto body = [&](int i) {
    if (!cpus.empty() && !pin_current_thread(cpus[static_cast<std::size_t>(i) % cpus.size()]))
      pin_ok = false;
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) {
    }
    fn(i);
    ends[static_cast<std::size_t>(i)] = now_seconds();
  };
  std::vector<std::thread> team;
  team.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) team.emplace_back(body, i);
  while (ready.load() < n) std::this_thread::yield();
  start = now_seconds();
  go.store(true, std::memory_order_release);
  for (auto& t : team) t.join();
  if (pinned) *pinned = !cpus.empty() && pin_ok.load();
  return *std::max_element(ends.begin(), ends.end()) - start;
}

}  // namespace tb::probe

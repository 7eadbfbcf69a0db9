// Measurement helpers shared by the probes: figures (median/min/max/trials), a monotonic clock,
// and a team of std::threads, optionally pinned to distinct cores, released together.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tb::probe {

// One measured figure from repeated trials. JSON: {"median","min","max","trials"}.
struct Figure {
  double median = 0, min = 0, max = 0;
  int trials = 0;
};
Figure summarize(std::vector<double> samples);
nlohmann::json to_json(const Figure& f);

double now_seconds();  // CLOCK_MONOTONIC

// Runs fn(thread_index) on n threads. With `cpus` non-empty, thread i is pinned to cpus[i % size]
// (pthread_setaffinity_np; a failed pin is reported through *pinned = false, not fatal). All
// threads start together after a spin barrier; returns the wall time from the release to the
// last thread's end, in seconds.
double run_team(int n, const std::vector<int>& cpus, const std::function<void(int)>& fn,
                bool* pinned = nullptr);

// Pins the calling thread to one CPU; false when the kernel refused.
bool pin_current_thread(int cpu);
// The CPUs this process may run on (sched_getaffinity), ascending.
std::vector<int> allowed_cpus();

}  // namespace tb::probe

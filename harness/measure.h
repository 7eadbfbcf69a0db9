// The one measurement loop, shared by kernels (runner.h) and model tiers (workload_runner.h):
// warm-up, then adaptive sampling until the median's 95% CI is tight or the budget is spent,
// then the summary a stored result carries. Also the small helpers both runners need.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "result.h"
#include "stats.h"
#include "store.h"
#include "validate.h"

namespace tb {

struct SamplingOptions {
  int warmup = 2;    // untimed executions after the validated first run
  int min_reps = 5;  // never fewer samples than this (unless max_time_s is hit first
                     // by a single very long execution, see sample())
  int max_reps = 1000;
  double max_time_s = 2.0;  // sampling budget per benchmark
  double target_ci = 0.01;  // stop once the 95% CI of the median is within +-1% of it
};

namespace measure {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0);
// User + system CPU time of this process so far, seconds.
double process_cpu_seconds();

// The machine's CPU time from /proc/stat's "cpu" line, seconds: busy (user, nice, system, irq,
// softirq and steal: time another guest took from this one) and all of it (idle and iowait
// too). Nullopt when the text has no such line.
struct MachineCpu {
  double busy_s = 0, total_s = 0;
};
std::optional<MachineCpu> parse_proc_stat(const std::string& text, double ticks_per_s);
std::optional<MachineCpu> machine_cpu();  // /proc/stat now
// The share of the machine's CPU time that other processes (and other guests, as steal) used
// between two readings while this process used `self_cpu_s`: (busy - self) / total, clamped
// to [0, 1]; -1 when the readings are missing or span no time. A timed loop on a shared machine
// reads it to say how much it was competing for the CPUs.
double other_cpu_share(const std::optional<MachineCpu>& before,
                       const std::optional<MachineCpu>& after, double self_cpu_s);
// What a result's note says when other processes took a quarter or more of the CPUs while it
// was timed ("" otherwise): its figures then measure the machine's sharing as much as the work.
std::string contention_note(double other_cpu_share);
// Records it in a sampled result: metrics.sampling.other_cpu_share where known, and the note
// above as the message unless the result has one already.
void record_contention(ResultRecord& r, double other_cpu_share);

// A field of /proc/self/status or /proc/meminfo, in bytes (the files print kB); 0 when absent.
std::uint64_t proc_kb_field(const char* file, const std::string& key);
// The peak resident memory a piece of work adds, from construction to added(): freed heap is
// handed back first (malloc_trim), else the work's buffers reuse it without growing the RSS and
// its peak reads low; then VmHWM is reset to the RSS (Linux: "5" to /proc/self/clear_refs).
class PeakRss {
 public:
  PeakRss();
  std::uint64_t before() const { return rss0_; }  // the RSS at construction
  // VmHWM now minus the RSS before; nullopt where VmHWM could not be reset.
  std::optional<std::uint64_t> added() const;

 private:
  std::uint64_t rss0_ = 0;
  bool reset_ = false;
};

// The record with its status and message set: how a phase stops a benchmark.
ResultRecord fail(ResultRecord r, Status s, std::string message);
// The same in place: a phase that stops the benchmark gives the record its status and message.
void stop(ResultRecord& r, Status s, std::string message);

// Whether `bytes` fit in `available` bytes; an unknown size (0) fits anything.
bool fits(double bytes, std::uint64_t available);
// Whether `bytes` fit in the memory of `dev`: a CPU device uses the host's memory (checked by
// the caller against what the host has), a device that reports no size fits anything.
bool fits_device_memory(const DeviceInfo& dev, double bytes);

struct Sampled {
  std::vector<double> samples;  // seconds, in measurement order
  double wall_s = 0;            // the sampling loop (not the warm-up)
  double cpu_s = 0;             // this process's CPU time over the sampling loop
  double other_cpu_share = -1;  // other processes' share of the machine's CPU time (-1 unknown)
  stats::Summary summary;
  stats::Interval ci;  // 95% CI of the median
};

// `warm` runs so.warmup times untimed; then `timed` (one execution, its seconds) runs until,
// with at least so.min_reps samples, the 95% CI of the median is within so.target_ci of it or
// so.max_time_s has passed; at most so.max_reps samples; with fewer than min_reps, only a budget
// of 4 x max_time_s stops it (a single execution far longer than the budget). The first error of
// either callable stops and is returned as it is.
Result<Sampled> sample(const SamplingOptions& so, const std::function<Result<void>()>& warm,
                       const std::function<Result<double>()>& timed);

// The summary fields of a record (n, median .. p99, stddev, cv, CI of the median) and its
// samples, from `s`; returns the CI's half width relative to the median (0 when it is 0).
double apply_summary(ResultRecord& r, Sampled s);

}  // namespace measure
}  // namespace tb

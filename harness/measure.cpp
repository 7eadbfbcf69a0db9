// The measurement loop; see measure.h.
#include "measure.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace tb::measure {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::optional<MachineCpu> parse_proc_stat(const std::string& text, double ticks_per_s) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu ", 0) != 0) continue;
    std::istringstream f(line.substr(4));
    // user nice system idle iowait irq softirq steal (guest time is counted in user already)
    double v[8] = {};
    int n = 0;
    while (n < 8 && f >> v[n]) ++n;
    if (n < 4 || ticks_per_s <= 0) return std::nullopt;
    MachineCpu m;
    for (int i = 0; i < n; ++i) m.total_s += v[i] / ticks_per_s;
    m.busy_s = m.total_s - (v[3] + v[4]) / ticks_per_s;
    return m;
  }
  return std::nullopt;
}

std::optional<MachineCpu> machine_cpu() {
  std::ifstream f("/proc/stat");
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_proc_stat(ss.str(), static_cast<double>(::sysconf(_SC_CLK_TCK)));
}

double other_cpu_share(const std::optional<MachineCpu>& before,
                       const std::optional<MachineCpu>& after, double self_cpu_s) {
  if (!before || !after) return -1;
  const double total = after->total_s - before->total_s;
  if (total < 0.2) return -1;  // under 20 ticks of 10 ms: too short to tell
  const double other = after->busy_s - before->busy_s - self_cpu_s;
  return std::clamp(other / total, 0.0, 1.0);
}

std::string contention_note(double other_cpu_share) {
  if (other_cpu_share < 0.25) return "";
  return "shared CPUs: other processes used " +
         std::to_string(static_cast<int>(std::lround(100 * other_cpu_share))) +
         "% of them while it was timed";
}

void record_contention(ResultRecord& r, double other_cpu_share) {
  if (other_cpu_share >= 0) r.metrics["sampling"]["other_cpu_share"] = other_cpu_share;
  if (const std::string note = contention_note(other_cpu_share); !note.empty() && r.message.empty())
    r.message = note;
}

ResultRecord fail(ResultRecord r, Status s, std::string message) {
  r.status = s;
  r.message = std::move(message);
  return r;
}

void stop(ResultRecord& r, Status s, std::string message) {
  r = fail(std::move(r), s, std::move(message));
}

bool fits(double bytes, std::uint64_t available) {
  return available == 0 || bytes <= static_cast<double>(available);
}

bool fits_device_memory(const DeviceInfo& dev, double bytes) {
  return dev.type == "cpu" || fits(bytes, dev.global_memory_bytes);
}

Result<Sampled> sample(const SamplingOptions& so, const std::function<Result<void>()>& warm,
                       const std::function<Result<double>()>& timed) {
  for (int i = 0; i < so.warmup; ++i)
    if (auto e = warm(); !e) return e.error();
  Sampled out;
  std::vector<double>& samples = out.samples;
  const auto t0 = Clock::now();
  const double cpu0 = process_cpu_seconds();
  const auto machine0 = machine_cpu();
  while (static_cast<int>(samples.size()) < so.max_reps) {
    auto t = timed();
    if (!t) return t.error();
    samples.push_back(*t);
    const int n = static_cast<int>(samples.size());
    const double elapsed = seconds_since(t0);
    if (n >= so.min_reps) {
      const double med = stats::quantile(samples, 0.5);
      const stats::Interval ci = stats::median_ci(samples, 0.95);
      if (med > 0 && (ci.hi - ci.lo) / 2 <= so.target_ci * med) break;
      if (elapsed >= so.max_time_s) break;
    } else if (elapsed >= so.max_time_s * 4) {
      break;  // a single execution far longer than the budget: keep what we have
    }
  }
  out.wall_s = seconds_since(t0);
  out.cpu_s = process_cpu_seconds() - cpu0;
  out.other_cpu_share = other_cpu_share(machine0, machine_cpu(), out.cpu_s);
  out.summary = stats::summarize(samples);
  out.ci = stats::median_ci(samples, 0.95);
  return out;
}

double apply_summary(ResultRecord& r, Sampled s) {
  const stats::Summary& m = s.summary;
  r.n = m.n;
  r.median_s = m.median;
  r.mean_s = m.mean;
  r.min_s = m.min;
  r.max_s = m.max;
  r.p10_s = m.p10;
  r.p90_s = m.p90;
  r.p99_s = m.p99;
  r.stddev_s = m.stddev;
  r.cv = m.cv;
  r.ci_lo_s = s.ci.lo;
  r.ci_hi_s = s.ci.hi;
  r.samples = std::move(s.samples);
  return m.median > 0 ? (s.ci.hi - s.ci.lo) / 2 / m.median : 0.0;
}

std::uint64_t proc_kb_field(const char* file, const std::string& key) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream is(line.substr(key.size() + 1));
      std::uint64_t kb = 0;
      is >> kb;
      return kb * 1024;
    }
  return 0;
}

PeakRss::PeakRss() {
  malloc_trim(0);
  rss0_ = proc_kb_field("/proc/self/status", "VmRSS");
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  reset_ = static_cast<bool>(f);
}

std::optional<std::uint64_t> PeakRss::added() const {
  const std::uint64_t hwm = proc_kb_field("/proc/self/status", "VmHWM");
  if (!reset_ || hwm < rss0_) return std::nullopt;
  return hwm - rss0_;
}

}  // namespace tb::measure

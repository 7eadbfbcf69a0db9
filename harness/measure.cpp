// The measurement loop; see measure.h.
#include "measure.h"

#include <sys/resource.h>

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

}  // namespace tb::measure

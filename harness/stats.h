// Statistics for timing samples: summaries, a distribution-free confidence interval of the
// median, and the two-sample tests that compare/gate use. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tb::stats {

struct Summary {
  std::int64_t n = 0;
  double min = 0, max = 0, mean = 0, stddev = 0;
  double median = 0, p10 = 0, p90 = 0, p99 = 0;
  double cv = 0;   // stddev / mean
  double mad = 0;  // median absolute deviation (raw, not scaled by 1.4826)
  std::int64_t outliers = 0;  // samples further than 3 * 1.4826 * MAD from the median
};

// Quantile q in [0,1] with linear interpolation between order statistics (type 7).
double quantile(std::span<const double> samples, double q);
Summary summarize(std::span<const double> samples);

struct Interval {
  double lo = 0, hi = 0;
};

// Confidence interval of the median from binomial order statistics (distribution-free).
// With fewer than 6 samples, the whole range.
Interval median_ci(std::span<const double> samples, double confidence = 0.95);

}  // namespace tb::stats

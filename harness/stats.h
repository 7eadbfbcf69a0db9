// Statistics for timing samples: summaries, a distribution-free confidence interval of the
// median, and the two-sample tests that compare/gate use. Pure functions, no I/O.
//
// Conventions: `x` is the BASE sample and `y` the CURRENT one; shifts are y - x and ratios y / x.
// Nothing here assumes normality: every interval is distribution-free (order statistics of the
// sample or of the pairwise differences) except the bootstrap, which is offered as an alternative.
// Empty or degenerate input (an empty sample, NaN or inf in a two-sample test) gives NaN
// estimates, never a crash.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tb::stats {

struct Summary {
  std::int64_t n = 0;
  double min = 0, max = 0, mean = 0, stddev = 0;
  double median = 0, p10 = 0, p90 = 0, p99 = 0;
  double cv = 0;              // stddev / mean
  double mad = 0;             // median absolute deviation (raw, not scaled by 1.4826)
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

// --- Mann-Whitney U (Wilcoxon rank-sum) test -------------------------------------------------

struct MannWhitney {
  double u = 0;  // U of the first sample: #(x_i > y_j) + 0.5 #(x_i == y_j)  (scipy's U1)
  double z =
      0;  // continuity- and tie-corrected normal score, signed like U - n1 n2 / 2; 0 if exact
  double p = 1;        // two-sided p-value; NaN when a sample is empty
  bool exact = false;  // p from the exact null distribution (n1, n2 <= kExactMax, no ties)
};

// Largest sample size for which the exact null distribution is used (ties force the normal
// approximation whatever the size).
inline constexpr int kMannWhitneyExactMax = 20;

MannWhitney mann_whitney(std::span<const double> x, std::span<const double> y);

// Null distribution of U for sample sizes n1, n2 (no ties): cdf[u] = P(U <= u), u = 0..n1*n2.
// Exact counting; sizes up to a few hundred in total stay cheap (O(n1 * n2 * (n1 + n2))).
std::vector<double> mann_whitney_null_cdf(int n1, int n2);

// --- Hodges-Lehmann estimates ----------------------------------------------------------------

struct Estimate {
  double estimate = 0;    // point estimate; NaN when it cannot be formed
  Interval ci;            // confidence interval
  double confidence = 0;  // coverage actually achieved (order statistics make it discrete)
  bool exact = false;     // interval from the exact null distribution rather than normal approx
};

// Shift of y relative to x (y ~ x + d): the median of all n1*n2 differences y_j - x_i, with the
// distribution-free interval [D_(k), D_(n1 n2 + 1 - k)] whose k comes from the null distribution
// of U (Hollander & Wolfe, Nonparametric Statistical Methods, section 4.3). When even k = 1 cannot
// reach `confidence` (tiny samples) the interval is the full range of differences and
// `confidence` reports what it achieves. Never materialises the n1*n2 differences.
Estimate hodges_lehmann_shift(std::span<const double> x, std::span<const double> y,
                              double confidence = 0.95);

// Ratio y / x as exp(Hodges-Lehmann shift of log y - log x): the "median ratio with CI" that
// compare reports. Needs every sample finite and > 0 (NaN estimate otherwise).
Estimate hodges_lehmann_ratio(std::span<const double> x, std::span<const double> y,
                              double confidence = 0.95);

// --- Bootstrap (alternative; compare uses hodges_lehmann_ratio) --------------------------------

struct BootstrapOptions {
  int resamples = 2000;
  std::uint64_t seed = 0x7462'6e63'6821ull;  // fixed: the same input gives the same interval
  double confidence = 0.95;
};

// median(y) / median(x) with a percentile bootstrap interval, resampling both samples
// independently. Needs positive medians in every resample (NaN estimate otherwise).
Estimate bootstrap_median_ratio(std::span<const double> x, std::span<const double> y,
                                const BootstrapOptions& options = {});

// --- Adaptive stopping and noise --------------------------------------------------------------

struct Convergence {
  bool converged = false;
  double median = 0;
  Interval ci;               // median_ci at `confidence`
  double rel_halfwidth = 0;  // max(median - lo, hi - median) / |median|; inf when undefined
};

// Is the `confidence` CI of the median within +-rel_tolerance of the median? The runner samples
// until this holds (and at least `min_samples` were taken) or its budget is spent.
Convergence median_converged(std::span<const double> samples, double rel_tolerance,
                             double confidence = 0.95, std::int64_t min_samples = 10);

// When a sample is too noisy to gate on. Defaults suit timings on a shared, noisy machine.
// The MAD of a small sample is itself noisy, so clean normal data shows "outliers" more often than
// the 0.27% a 3-sigma rule suggests: more than 20% of the samples are outliers in 1.7% of clean
// samples at n = 10, 0.2% at n = 20 and none at n = 50 (seeded simulation), against 6%, 1.9% and
// 0.1% for a 10% limit; hence 0.2.
struct NoiseRule {
  std::int64_t min_samples = 5;        // below this, U cannot reach p < 0.05 reliably
  double max_cv = 0.25;                // stddev / mean
  double max_outlier_fraction = 0.20;  // Summary::outliers / n
};

// Empty when the summary passes `rule`; otherwise the first reason, e.g. "cv 0.31 > 0.25".
std::string noise_problem(const Summary& s, const NoiseRule& rule = {});

}  // namespace tb::stats

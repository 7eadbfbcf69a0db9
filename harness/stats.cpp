// Statistics for timing samples; see stats.h for the conventions.
#include "stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>

namespace tb::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Slack when comparing achieved tail probabilities with alpha/2: binomial and U tail
// probabilities are rationals that never equal the usual alphas, this only absorbs rounding.
constexpr double kTailSlack = 1e-12;

std::vector<double> sorted_copy(std::span<const double> s) {
  std::vector<double> v(s.begin(), s.end());
  std::sort(v.begin(), v.end());
  return v;
}

double quantile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return kNaN;
  q = std::clamp(q, 0.0, 1.0);
  const double h = (static_cast<double>(v.size()) - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= v.size()) return v.back();
  return v[lo] + (h - static_cast<double>(lo)) * (v[lo + 1] - v[lo]);
}

// Standard normal upper quantile z such that P(Z > z) = p, for 0 < p < 1 (Acklam's rational
// approximation refined by one Halley step; |error| < 1e-12 over the range used here).
double normal_upper_quantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  const double pl = 1 - p;  // lower-tail probability of the quantile we want
  double x;
  if (pl < 0.02425) {
    const double q = std::sqrt(-2 * std::log(pl));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (pl > 1 - 0.02425) {
    const double q = std::sqrt(-2 * std::log(1 - pl));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = pl - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - pl;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

// Number of pairs with y_j - x_i <= d, for ascending x and y. Floating subtraction is monotone,
// so the boundary index moves one way as i grows: O(n1 + n2).
std::int64_t count_differences_le(const std::vector<double>& x, const std::vector<double>& y,
                                  double d) {
  std::int64_t count = 0;
  std::size_t j = 0;  // y[0..j) are the y with y - x_i <= d; only moves right as x_i grows
  for (std::size_t i = 0; i < x.size(); ++i) {
    while (j < y.size() && y[j] - x[i] <= d) ++j;
    count += static_cast<std::int64_t>(j);
  }
  return count;
}

// k-th smallest (1-based) of the n1*n2 differences y_j - x_i, without materialising them:
// bisection on the value with exact counting, then the largest difference not above the bound.
double kth_difference(const std::vector<double>& x, const std::vector<double>& y, std::int64_t k) {
  double lo = y.front() - x.back();  // the smallest difference
  double hi = y.back() - x.front();  // the largest
  if (count_differences_le(x, y, lo) >= k) return lo;
  // Invariant: count(lo) < k <= count(hi). Halving reaches adjacent doubles in < 2200 steps.
  for (int it = 0; it < 4000; ++it) {
    const double mid = lo + (hi - lo) / 2;
    if (!(mid > lo && mid < hi)) break;
    if (count_differences_le(x, y, mid) >= k) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  // Snap to the actual difference: the largest y_j - x_i <= hi (it lies in (lo, hi]).
  double best = -kInf;
  std::size_t j = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    while (j < y.size() && y[j] - x[i] <= hi) ++j;
    if (j > 0) best = std::max(best, y[j - 1] - x[i]);
  }
  return best;
}

// Index k (1-based) of the lower end of the distribution-free interval for the shift, and the
// coverage it achieves: the largest k >= 1 with P(U <= k - 1) <= alpha / 2.
struct ShiftRank {
  std::int64_t k = 1;
  double coverage = 0;
  bool exact = false;
};

ShiftRank shift_rank(int n1, int n2, double confidence) {
  const double half_alpha = (1 - confidence) / 2;
  const double mn = static_cast<double>(n1) * n2;
  ShiftRank r;
  if (n1 <= kMannWhitneyExactMax && n2 <= kMannWhitneyExactMax) {
    const auto cdf = mann_whitney_null_cdf(n1, n2);
    r.exact = true;
    // k = 1 is kept even when cdf[0] > alpha/2 (tiny samples): the coverage then says so.
    std::int64_t k = 1;
    while (k < static_cast<std::int64_t>(cdf.size()) && cdf[k] <= half_alpha + kTailSlack) ++k;
    r.k = k;
    r.coverage = 1 - 2 * cdf[k - 1];
    return r;
  }
  // Normal approximation with continuity correction: P(U <= k - 1) ~ Phi((k - 0.5 - mu) / sigma).
  const double z = normal_upper_quantile(half_alpha);
  const double mu = mn / 2, sigma = std::sqrt(mn * (n1 + n2 + 1) / 12.0);
  r.k = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(mu - z * sigma + 0.5)));
  r.coverage = 1 - std::erfc(-((static_cast<double>(r.k) - 0.5 - mu) / sigma) / std::sqrt(2.0));
  return r;
}

bool all_finite(std::span<const double> s) {
  return std::all_of(s.begin(), s.end(), [](double v) { return std::isfinite(v); });
}

bool all_positive_finite(std::span<const double> s) {
  return std::all_of(s.begin(), s.end(), [](double v) { return std::isfinite(v) && v > 0; });
}

}  // namespace

double quantile(std::span<const double> samples, double q) {
  return quantile_sorted(sorted_copy(samples), q);
}

Summary summarize(std::span<const double> samples) {
  Summary s;
  s.n = static_cast<std::int64_t>(samples.size());
  if (samples.empty()) {
    s.min = s.max = s.mean = s.stddev = s.median = s.p10 = s.p90 = s.p99 = s.cv = s.mad = kNaN;
    return s;
  }
  const auto v = sorted_copy(samples);
  s.min = v.front();
  s.max = v.back();
  // Two-pass mean and sample (n - 1) standard deviation.
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
  s.median = quantile_sorted(v, 0.5);
  s.p10 = quantile_sorted(v, 0.10);
  s.p90 = quantile_sorted(v, 0.90);
  s.p99 = quantile_sorted(v, 0.99);
  s.cv = s.mean != 0 ? s.stddev / std::fabs(s.mean) : (s.stddev == 0 ? 0.0 : kInf);
  std::vector<double> dev(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) dev[i] = std::fabs(v[i] - s.median);
  std::sort(dev.begin(), dev.end());
  s.mad = quantile_sorted(dev, 0.5);
  const double limit = 3 * 1.4826 * s.mad;
  s.outliers = std::count_if(dev.begin(), dev.end(), [&](double d) { return d > limit; });
  return s;
}

Interval median_ci(std::span<const double> samples, double confidence) {
  if (samples.empty()) return {kNaN, kNaN};
  const auto v = sorted_copy(samples);
  const auto n = static_cast<std::int64_t>(v.size());
  // [x_(l), x_(n+1-l)] covers the median with probability 1 - 2 P(B <= l - 1), B ~ Bin(n, 1/2).
  // Take the largest l with 2 P(B <= l - 1) <= 1 - confidence; l = 1 (the range) if none.
  const double alpha = 1 - confidence;
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  const double lg_n1 = std::lgamma(static_cast<double>(n) + 1);
  double cdf = 0;
  std::int64_t l = 1;
  for (std::int64_t k = 0; k + 1 <= (n + 1) / 2; ++k) {
    cdf += std::exp(lg_n1 - std::lgamma(static_cast<double>(k) + 1) -
                    std::lgamma(static_cast<double>(n - k) + 1) + log_half_n);
    if (2 * cdf > alpha + kTailSlack) break;
    l = k + 1;  // 2 P(B <= l - 1) <= alpha
  }
  return {v[static_cast<std::size_t>(l - 1)], v[static_cast<std::size_t>(n - l)]};
}

std::vector<double> mann_whitney_null_cdf(int n1, int n2) {
  if (n1 < 0 || n2 < 0) return {};
  const int mn = n1 * n2;
  // counts[a][u]: arrangements of `a` x's and `b` y's with U = u, built up over b with the
  // recurrence c(u; a, b) = c(u - b; a - 1, b) + c(u; a, b - 1) (the largest value is an x,
  // beating all b y's, or a y). Doubles hold the counts exactly up to 2^53 and beyond that
  // with relative error ~1e-16, harmless for probabilities.
  std::vector<std::vector<double>> prev(n1 + 1), cur(n1 + 1);
  for (int a = 0; a <= n1; ++a) prev[a].assign(1, 1.0);  // b = 0: one arrangement, U = 0
  for (int b = 1; b <= n2; ++b) {
    cur[0].assign(1, 1.0);
    for (int a = 1; a <= n1; ++a) {
      std::vector<double>& c = cur[a];
      c.assign(static_cast<std::size_t>(a) * b + 1, 0.0);
      for (std::size_t u = 0; u < prev[a].size(); ++u) c[u] += prev[a][u];            // y largest
      for (std::size_t u = 0; u < cur[a - 1].size(); ++u) c[u + b] += cur[a - 1][u];  // x largest
    }
    std::swap(prev, cur);
  }
  std::vector<double> cdf = prev[n1];
  cdf.resize(static_cast<std::size_t>(mn) + 1, 0.0);
  const double total = std::accumulate(cdf.begin(), cdf.end(), 0.0);
  double run = 0;
  for (double& c : cdf) {
    run += c;
    c = std::min(1.0, run / total);
  }
  return cdf;
}

MannWhitney mann_whitney(std::span<const double> x, std::span<const double> y) {
  MannWhitney r;
  const auto n1 = static_cast<std::int64_t>(x.size()), n2 = static_cast<std::int64_t>(y.size());
  if (n1 == 0 || n2 == 0 || !all_finite(x) || !all_finite(y)) {
    r.u = kNaN;
    r.p = kNaN;
    return r;
  }
  // Midranks over the pooled sample; tie groups feed the variance correction.
  struct Item {
    double v;
    bool from_x;
  };
  std::vector<Item> all;
  all.reserve(static_cast<std::size_t>(n1 + n2));
  for (double v : x) all.push_back({v, true});
  for (double v : y) all.push_back({v, false});
  std::sort(all.begin(), all.end(), [](const Item& a, const Item& b) { return a.v < b.v; });
  double rank_sum_x = 0, tie_term = 0;
  bool ties = false;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].v == all[i].v) ++j;
    const double t = static_cast<double>(j - i);
    const double midrank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k)
      if (all[k].from_x) rank_sum_x += midrank;
    if (t > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  const double mn = static_cast<double>(n1) * static_cast<double>(n2);
  r.u = rank_sum_x - static_cast<double>(n1) * static_cast<double>(n1 + 1) / 2;
  const double u_min = std::min(r.u, mn - r.u);
  if (!ties && n1 <= kMannWhitneyExactMax && n2 <= kMannWhitneyExactMax) {
    const auto cdf = mann_whitney_null_cdf(static_cast<int>(n1), static_cast<int>(n2));
    r.exact = true;
    r.p = std::min(1.0, 2 * cdf[static_cast<std::size_t>(std::llround(u_min))]);
    return r;
  }
  const double n = static_cast<double>(n1 + n2);
  const double var = mn / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (var <= 0) {  // every value equal: no evidence of any difference
    r.p = 1;
    return r;
  }
  const double dev = r.u - mn / 2;
  const double corrected = std::max(0.0, std::fabs(dev) - 0.5);
  r.z = std::copysign(corrected / std::sqrt(var), dev);
  r.p = std::min(1.0, std::erfc(std::fabs(r.z) / std::sqrt(2.0)));
  return r;
}

Estimate hodges_lehmann_shift(std::span<const double> x, std::span<const double> y,
                              double confidence) {
  Estimate e;
  if (x.empty() || y.empty() || !all_finite(x) || !all_finite(y)) {
    e.estimate = e.ci.lo = e.ci.hi = kNaN;
    return e;
  }
  const auto xs = sorted_copy(x), ys = sorted_copy(y);
  const std::int64_t mn =
      static_cast<std::int64_t>(xs.size()) * static_cast<std::int64_t>(ys.size());
  // Median of the differences: the middle one, or the mean of the middle two.
  const double a = kth_difference(xs, ys, (mn + 1) / 2);
  e.estimate = mn % 2 == 1 ? a : (a + kth_difference(xs, ys, mn / 2 + 1)) / 2;
  const ShiftRank r =
      shift_rank(static_cast<int>(xs.size()), static_cast<int>(ys.size()), confidence);
  const std::int64_t k = std::clamp<std::int64_t>(r.k, 1, (mn + 1) / 2);
  e.ci = {kth_difference(xs, ys, k), kth_difference(xs, ys, mn + 1 - k)};
  e.confidence = r.coverage;
  e.exact = r.exact;
  return e;
}

Estimate hodges_lehmann_ratio(std::span<const double> x, std::span<const double> y,
                              double confidence) {
  if (x.empty() || y.empty() || !all_positive_finite(x) || !all_positive_finite(y)) {
    Estimate e;
    e.estimate = e.ci.lo = e.ci.hi = kNaN;
    return e;
  }
  std::vector<double> lx(x.size()), ly(y.size());
  std::transform(x.begin(), x.end(), lx.begin(), [](double v) { return std::log(v); });
  std::transform(y.begin(), y.end(), ly.begin(), [](double v) { return std::log(v); });
  Estimate e = hodges_lehmann_shift(lx, ly, confidence);
  e.estimate = std::exp(e.estimate);
  e.ci = {std::exp(e.ci.lo), std::exp(e.ci.hi)};
  return e;
}

Estimate bootstrap_median_ratio(std::span<const double> x, std::span<const double> y,
                                const BootstrapOptions& options) {
  Estimate e;
  e.estimate = e.ci.lo = e.ci.hi = kNaN;
  if (x.empty() || y.empty() || options.resamples < 1) return e;
  const double mx = quantile(x, 0.5), my = quantile(y, 0.5);
  if (!(mx > 0) || !std::isfinite(my)) return e;
  e.estimate = my / mx;
  // Index draws by multiply-high on 64-bit outputs (Lemire): deterministic across standard
  // libraries, unlike std::uniform_int_distribution.
  std::mt19937_64 rng(options.seed);
  auto draw = [&](std::size_t n) {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
  };
  std::vector<double> bx(x.size()), by(y.size()), ratios;
  ratios.reserve(static_cast<std::size_t>(options.resamples));
  for (int b = 0; b < options.resamples; ++b) {
    for (auto& v : bx) v = x[draw(x.size())];
    for (auto& v : by) v = y[draw(y.size())];
    const double rx = quantile(bx, 0.5), ry = quantile(by, 0.5);
    if (!(rx > 0)) {
      e.estimate = kNaN;
      return e;
    }
    ratios.push_back(ry / rx);
  }
  std::sort(ratios.begin(), ratios.end());
  const double alpha = 1 - options.confidence;
  e.ci = {quantile_sorted(ratios, alpha / 2), quantile_sorted(ratios, 1 - alpha / 2)};
  e.confidence = options.confidence;
  return e;
}

Convergence median_converged(std::span<const double> samples, double rel_tolerance,
                             double confidence, std::int64_t min_samples) {
  Convergence c;
  c.median = quantile(samples, 0.5);
  c.ci = median_ci(samples, confidence);
  const double half = std::max(c.median - c.ci.lo, c.ci.hi - c.median);
  c.rel_halfwidth = (samples.empty() || c.median == 0) ? kInf : half / std::fabs(c.median);
  c.converged =
      static_cast<std::int64_t>(samples.size()) >= std::max<std::int64_t>(min_samples, 1) &&
      c.rel_halfwidth <= rel_tolerance;
  return c;
}

std::string noise_problem(const Summary& s, const NoiseRule& rule) {
  char buf[128];
  if (s.n < rule.min_samples) {
    std::snprintf(buf, sizeof buf, "%lld samples < %lld", static_cast<long long>(s.n),
                  static_cast<long long>(rule.min_samples));
    return buf;
  }
  if (!(s.cv <= rule.max_cv)) {
    std::snprintf(buf, sizeof buf, "cv %.3g > %.3g", s.cv, rule.max_cv);
    return buf;
  }
  const double frac = s.n > 0 ? static_cast<double>(s.outliers) / static_cast<double>(s.n) : 0;
  if (frac > rule.max_outlier_fraction) {
    std::snprintf(buf, sizeof buf, "%lld/%lld outliers > %.3g", static_cast<long long>(s.outliers),
                  static_cast<long long>(s.n), rule.max_outlier_fraction);
    return buf;
  }
  return {};
}

}  // namespace tb::stats

// Tests for harness/stats: exact values from published tables and worked examples, brute-force
// cross-checks, and seeded simulations of the error rates that gating relies on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "stats.h"

namespace tb::stats {
namespace {

std::vector<double> lognormal(std::mt19937_64& rng, int n, double median, double sigma) {
  std::normal_distribution<double> z(0.0, sigma);
  std::vector<double> v(n);
  for (auto& x : v) x = median * std::exp(z(rng));
  return v;
}

TEST(Stats, QuantileType7) {
  // R: quantile(1:4, c(0, .25, .5, .9, 1)) = 1, 1.75, 2.5, 3.7, 4 (type 7 is R's default).
  const std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile(v, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile(v, 0.9), 3.7);
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(quantile(std::vector<double>{7}, 0.3), 7.0);
  EXPECT_TRUE(std::isnan(quantile(std::vector<double>{}, 0.5)));
}

TEST(Stats, SummarizeByHand) {
  // median 12.5; |dev| = 2.5 1.5 .5 .5 1.5 87.5 -> MAD 1.5; 3 * 1.4826 * 1.5 = 6.67: one outlier.
  const std::vector<double> v = {14, 10, 100, 12, 11, 13};
  const Summary s = summarize(v);
  EXPECT_EQ(s.n, 6);
  EXPECT_DOUBLE_EQ(s.min, 10);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 160.0 / 6);
  EXPECT_DOUBLE_EQ(s.median, 12.5);
  EXPECT_DOUBLE_EQ(s.mad, 1.5);
  EXPECT_EQ(s.outliers, 1);
  // Sample standard deviation (n - 1): sum of squares about the mean / 5.
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  EXPECT_NEAR(s.stddev, std::sqrt(ss / 5), 1e-12);
  EXPECT_NEAR(s.cv, s.stddev / s.mean, 1e-15);
  EXPECT_DOUBLE_EQ(s.p10, 10.5);  // h = 0.5 between 10 and 11
  const Summary e = summarize(std::vector<double>{});
  EXPECT_EQ(e.n, 0);
  EXPECT_TRUE(std::isnan(e.median));
}

TEST(Stats, MedianCiOrderStatistics) {
  std::vector<double> v(100);
  for (int i = 0; i < 100; ++i) v[i] = 100 - i;  // x_(r) = r, given in reverse order
  // Classic table values (e.g. Conover, Practical Nonparametric Statistics, table A3; also
  // hand: P(B <= 39; 100, 1/2) = 0.0176 <= 0.025 < P(B <= 40) = 0.0284): ranks 40 and 61.
  Interval ci = median_ci(v);
  EXPECT_DOUBLE_EQ(ci.lo, 40);
  EXPECT_DOUBLE_EQ(ci.hi, 61);
  // n = 10: P(B <= 1) = 11/1024 <= 0.025 < P(B <= 2) = 56/1024: ranks 2 and 9.
  std::vector<double> w = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  ci = median_ci(w);
  EXPECT_DOUBLE_EQ(ci.lo, 2);
  EXPECT_DOUBLE_EQ(ci.hi, 9);
  // n = 6 reaches 95% only with the range (2/64 <= 0.05); n = 5 cannot (2/32 > 0.05): range too.
  ci = median_ci(std::vector<double>{3, 1, 2, 6, 5, 4});
  EXPECT_DOUBLE_EQ(ci.lo, 1);
  EXPECT_DOUBLE_EQ(ci.hi, 6);
  ci = median_ci(std::vector<double>{3, 1, 2, 5, 4});
  EXPECT_DOUBLE_EQ(ci.lo, 1);
  EXPECT_DOUBLE_EQ(ci.hi, 5);
  ci = median_ci(std::vector<double>{42});
  EXPECT_DOUBLE_EQ(ci.lo, 42);
  EXPECT_DOUBLE_EQ(ci.hi, 42);
}

TEST(Stats, MedianCiCoverage) {
  // Seeded simulation: the 95% interval should contain the true median ~96% of the time
  // (coverage is discrete: 0.9648 at n = 100, 0.9787 at n = 10).
  std::mt19937_64 rng(1234);
  int covered = 0;
  const int trials = 2000;
  for (int t = 0; t < trials; ++t) {
    const auto v = lognormal(rng, 25, 2.0, 0.3);
    const Interval ci = median_ci(v);
    covered += ci.lo <= 2.0 && 2.0 <= ci.hi;
  }
  EXPECT_GE(covered, trials * 0.935);
  EXPECT_LE(covered, trials * 0.995);
}

TEST(Stats, MannWhitneyNullMatchesTables) {
  // Two-sided 5% critical values of U (largest u with P(U <= u) <= 0.025), as printed in the
  // standard tables (e.g. Siegel & Castellan, Nonparametric Statistics, table J): n1 = n2 = 5: 2,
  // 8: 13, 10: 23, 20: 127. The first three were also re-derived by full enumeration.
  struct Case {
    int n1, n2, critical;
  };
  for (const Case c : {Case{5, 5, 2}, Case{8, 8, 13}, Case{10, 10, 23}, Case{20, 20, 127}}) {
    const auto cdf = mann_whitney_null_cdf(c.n1, c.n2);
    ASSERT_EQ(cdf.size(), static_cast<std::size_t>(c.n1 * c.n2 + 1));
    EXPECT_LE(cdf[c.critical], 0.025) << c.n1 << "x" << c.n2;
    EXPECT_GT(cdf[c.critical + 1], 0.025) << c.n1 << "x" << c.n2;
    EXPECT_DOUBLE_EQ(cdf.back(), 1.0);
  }
  // Small case by hand: n1 = n2 = 2, the 6 arrangements have U = 0, 1, 2, 2, 3, 4.
  const auto cdf = mann_whitney_null_cdf(2, 2);
  ASSERT_EQ(cdf.size(), 5u);
  EXPECT_DOUBLE_EQ(cdf[0], 1.0 / 6);
  EXPECT_DOUBLE_EQ(cdf[1], 2.0 / 6);
  EXPECT_DOUBLE_EQ(cdf[2], 4.0 / 6);
  EXPECT_DOUBLE_EQ(cdf[3], 5.0 / 6);
}

TEST(Stats, MannWhitneyScipyDocExample) {
  // scipy.stats.mannwhitneyu documentation example (ages of male and female employees):
  // statistic 17.0; method='exact' p = 0.1111111111111111 (= 2 * 7/126).
  const std::vector<double> males = {19, 22, 16, 29, 24}, females = {20, 11, 17, 12};
  const MannWhitney r = mann_whitney(males, females);
  EXPECT_DOUBLE_EQ(r.u, 17.0);
  EXPECT_TRUE(r.exact);
  EXPECT_NEAR(r.p, 0.1111111111111111, 1e-12);
  // Swapping the samples mirrors U and keeps p.
  const MannWhitney s = mann_whitney(females, males);
  EXPECT_DOUBLE_EQ(s.u, 3.0);
  EXPECT_NEAR(s.p, r.p, 1e-15);
}

TEST(Stats, MannWhitneyNormalApproximation) {
  // With ties the normal approximation is used, with tie-corrected variance and continuity
  // correction (scipy's method='asymptotic', use_continuity=True). Expected values worked out by
  // hand from those formulas: U = 14, z = 1.575029167476877, p = 0.11524971218079379.
  const std::vector<double> x = {1.5, 2, 2, 3, 4.5, 6, 7}, y = {2, 3, 3, 5, 8, 9, 9, 10};
  const MannWhitney r = mann_whitney(x, y);
  EXPECT_FALSE(r.exact);
  EXPECT_DOUBLE_EQ(r.u, 14.0);
  EXPECT_NEAR(r.z, -1.575029167476877, 1e-12);  // x tends to be smaller: negative
  EXPECT_NEAR(r.p, 0.11524971218079379, 1e-12);
  // Without ties but above the exact limit (25 x 25), by hand as above: U = 253,
  // p = 0.2523052121646835.
  std::vector<double> a, b;
  for (int i = 0; i < 25; ++i) {
    a.push_back(0.5 * i + 0.1);
    b.push_back(0.5 * i + 1.35);
  }
  const MannWhitney q = mann_whitney(a, b);
  EXPECT_FALSE(q.exact);
  EXPECT_DOUBLE_EQ(q.u, 253.0);
  EXPECT_NEAR(q.p, 0.2523052121646835, 1e-12);
  // Degenerate input: all values equal gives no evidence; an empty sample gives no p-value.
  const std::vector<double> same = {3, 3, 3};
  EXPECT_DOUBLE_EQ(mann_whitney(same, same).p, 1.0);
  EXPECT_TRUE(std::isnan(mann_whitney(same, std::vector<double>{}).p));
  EXPECT_TRUE(std::isnan(mann_whitney(same, std::vector<double>{1, NAN}).p));
  EXPECT_TRUE(std::isnan(hodges_lehmann_shift(same, std::vector<double>{INFINITY}).estimate));
}

TEST(Stats, MannWhitneyFalsePositiveRate) {
  // Identical distributions: P(p < 0.05) should be close to (and, for the exact test, at most
  // about) 0.05. 3000 seeded trials: standard error 0.004.
  std::mt19937_64 rng(42);
  for (const int n : {10, 30}) {
    int rejections = 0;
    const int trials = 3000;
    for (int t = 0; t < trials; ++t) {
      const auto x = lognormal(rng, n, 1e-3, 0.05), y = lognormal(rng, n, 1e-3, 0.05);
      rejections += mann_whitney(x, y).p < 0.05;
    }
    EXPECT_GT(rejections, trials * 0.03) << "n=" << n;
    EXPECT_LT(rejections, trials * 0.065) << "n=" << n;
  }
}

// Brute-force reference for the Hodges-Lehmann tests.
std::vector<double> all_differences(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> d;
  for (double a : x)
    for (double b : y) d.push_back(b - a);
  std::sort(d.begin(), d.end());
  return d;
}

TEST(Stats, HodgesLehmannShiftMatchesBruteForce) {
  std::mt19937_64 rng(7);
  for (const int n1 : {4, 10, 23}) {
    for (const int n2 : {5, 10, 31}) {
      auto x = lognormal(rng, n1, 1.0, 0.2), y = lognormal(rng, n2, 1.1, 0.2);
      const auto d = all_differences(x, y);
      const std::size_t mn = d.size();
      const double median = mn % 2 ? d[mn / 2] : (d[mn / 2 - 1] + d[mn / 2]) / 2;
      const Estimate e = hodges_lehmann_shift(x, y);
      EXPECT_DOUBLE_EQ(e.estimate, median) << n1 << "x" << n2;
      EXPECT_LE(e.ci.lo, e.estimate);
      EXPECT_GE(e.ci.hi, e.estimate);
      // Both ends must be actual differences, symmetric in rank.
      const auto lo = std::find(d.begin(), d.end(), e.ci.lo),
                 hi = std::find(d.begin(), d.end(), e.ci.hi);
      ASSERT_NE(lo, d.end());
      ASSERT_NE(hi, d.end());
      EXPECT_EQ(lo - d.begin(), d.end() - 1 - hi) << n1 << "x" << n2;
    }
  }
}

TEST(Stats, HodgesLehmannIntervalRanks) {
  // n1 = n2 = 10 at 95%: critical U 23 (table above), so the interval is [D_(24), D_(77)]
  // (Hollander & Wolfe, section 4.3: lower end D_(C_alpha), C_alpha = 24 here).
  std::vector<double> x(10), y(10);
  for (int i = 0; i < 10; ++i) {
    x[i] = 1.0 + 0.137 * i * i;
    y[i] = 2.0 + 0.071 * i * i * i;
  }
  const auto d = all_differences(x, y);
  const Estimate e = hodges_lehmann_shift(x, y);
  EXPECT_TRUE(e.exact);
  EXPECT_DOUBLE_EQ(e.ci.lo, d[23]);
  EXPECT_DOUBLE_EQ(e.ci.hi, d[76]);
  const auto cdf = mann_whitney_null_cdf(10, 10);
  EXPECT_DOUBLE_EQ(e.confidence, 1 - 2 * cdf[23]);
  EXPECT_GE(e.confidence, 0.95);
  // Tiny samples cannot reach 95%: the full range with the coverage it does have (1 - 2/20).
  const Estimate t =
      hodges_lehmann_shift(std::vector<double>{1, 2, 3}, std::vector<double>{2, 4, 7});
  EXPECT_DOUBLE_EQ(t.ci.lo, -1);
  EXPECT_DOUBLE_EQ(t.ci.hi, 6);
  EXPECT_NEAR(t.confidence, 0.9, 1e-12);
  // Large samples use the normal approximation; the interval still matches the brute force ranks.
  std::mt19937_64 rng(99);
  auto a = lognormal(rng, 60, 1.0, 0.1), b = lognormal(rng, 45, 1.05, 0.1);
  const Estimate l = hodges_lehmann_shift(a, b);
  EXPECT_FALSE(l.exact);
  EXPECT_NEAR(l.confidence, 0.95, 0.005);
  const auto dl = all_differences(a, b);
  const auto k = std::find(dl.begin(), dl.end(), l.ci.lo) - dl.begin() + 1;
  const double mu = 60 * 45 / 2.0, sigma = std::sqrt(60 * 45 * 106 / 12.0);
  EXPECT_EQ(k, static_cast<long>(std::floor(mu - 1.959963984540054 * sigma + 0.5)));
}

TEST(Stats, HodgesLehmannRatioCoverage) {
  // A 7% slowdown under 3% log-normal noise: the ratio interval covers 1.07 about 95% of the
  // time (seeded), and the estimate is close.
  std::mt19937_64 rng(2024);
  int covered = 0;
  const int trials = 600;
  for (int t = 0; t < trials; ++t) {
    const auto x = lognormal(rng, 15, 1e-3, 0.03), y = lognormal(rng, 15, 1.07e-3, 0.03);
    const Estimate e = hodges_lehmann_ratio(x, y);
    covered += e.ci.lo <= 1.07 && 1.07 <= e.ci.hi;
    ASSERT_NEAR(e.estimate, 1.07, 0.05);
  }
  EXPECT_GE(covered, trials * 0.92);
  const Estimate bad = hodges_lehmann_ratio(std::vector<double>{1, 0}, std::vector<double>{1, 2});
  EXPECT_TRUE(std::isnan(bad.estimate));
}

TEST(Stats, BootstrapIsSeededAndSensible) {
  std::mt19937_64 rng(5);
  const auto x = lognormal(rng, 30, 1e-3, 0.03), y = lognormal(rng, 30, 1.1e-3, 0.03);
  const Estimate a = bootstrap_median_ratio(x, y), b = bootstrap_median_ratio(x, y);
  EXPECT_EQ(a.ci.lo, b.ci.lo);  // same seed, same interval
  EXPECT_EQ(a.ci.hi, b.ci.hi);
  EXPECT_DOUBLE_EQ(a.estimate, quantile(y, 0.5) / quantile(x, 0.5));
  EXPECT_LT(a.ci.lo, a.estimate);
  EXPECT_GT(a.ci.hi, a.estimate);
  EXPECT_GT(a.ci.lo, 1.0);  // a 10% shift under 3% noise is clear
  EXPECT_LT(a.ci.lo, 1.1);
  EXPECT_GT(a.ci.hi, 1.1);
  BootstrapOptions other;
  other.seed = 6;
  EXPECT_NE(bootstrap_median_ratio(x, y, other).ci.lo, a.ci.lo);
}

TEST(Stats, AdaptiveStopping) {
  std::mt19937_64 rng(11);
  const auto tight = lognormal(rng, 40, 1e-3, 0.01);
  const Convergence c = median_converged(tight, 0.02);
  EXPECT_TRUE(c.converged) << c.rel_halfwidth;
  EXPECT_LE(c.rel_halfwidth, 0.02);
  const auto wide = lognormal(rng, 40, 1e-3, 0.3);
  EXPECT_FALSE(median_converged(wide, 0.02).converged);
  // Too few samples never converge, however tight.
  EXPECT_FALSE(median_converged(std::vector<double>{1, 1, 1}, 0.5).converged);
  EXPECT_FALSE(median_converged(std::vector<double>{}, 0.5).converged);
}

TEST(Stats, NoiseRule) {
  std::vector<double> quiet(20, 1.0);
  for (int i = 0; i < 20; ++i) quiet[i] += 0.001 * i;
  EXPECT_EQ(noise_problem(summarize(quiet)), "");
  EXPECT_EQ(noise_problem(summarize(std::vector<double>{1, 2, 3})), "3 samples < 5");
  // mean 3, sum of squares 46, sd sqrt(46 / 5) = 3.03: cv 1.01.
  EXPECT_EQ(noise_problem(summarize(std::vector<double>{1, 2, 3, 1, 2, 9})), "cv 1.01 > 0.25");
  auto spiky = quiet;
  for (int i = 0; i < 5; ++i) spiky[i] = 1.2;  // 5/20 far outliers, cv still small
  const Summary s = summarize(spiky);
  ASSERT_LT(s.cv, 0.25);
  EXPECT_EQ(noise_problem(s), "5/20 outliers > 0.2");
  spiky[4] = quiet[4];  // 4/20 is within the rule
  EXPECT_EQ(noise_problem(summarize(spiky)), "");
}

}  // namespace
}  // namespace tb::stats

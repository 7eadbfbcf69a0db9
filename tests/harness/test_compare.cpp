// Tests for harness/compare (verdicts, seeded error rates, thresholds, change points) and
// harness/compare_format (golden strings: the formats are contracts).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "compare.h"
#include "compare_format.h"

namespace tb::compare {
namespace {

Samples lognormal(std::mt19937_64& rng, int n, double median, double sigma,
                  Direction d = Direction::lower_is_better, std::string unit = "s") {
  std::normal_distribution<double> z(0.0, sigma);
  Samples s;
  s.direction = d;
  s.unit = std::move(unit);
  for (int i = 0; i < n; ++i) s.values.push_back(median * std::exp(z(rng)));
  return s;
}

TEST(Compare, IdenticalDistributionsAreNotFlagged) {
  // 1000 seeded trials of the same distribution: no regression or improvement at the default
  // 5% threshold; with the threshold at 0 the gate is the bare U test, whose false-positive rate
  // per direction must stay near alpha / 2.
  std::mt19937_64 rng(1);
  Options zero;
  zero.fallback.threshold = 0;
  int flagged = 0, flagged_zero = 0, noisy = 0;
  const int trials = 1000;
  for (int t = 0; t < trials; ++t) {
    const Samples b = lognormal(rng, 20, 1e-3, 0.03), c = lognormal(rng, 20, 1e-3, 0.03);
    const Row r = compare_one("k", &b, &c, {});
    flagged += r.verdict == Verdict::regression || r.verdict == Verdict::improvement;
    noisy += r.verdict == Verdict::too_noisy;
    flagged_zero += compare_one("k", &b, &c, zero).verdict == Verdict::regression;
  }
  EXPECT_EQ(flagged, 0);
  EXPECT_LE(noisy, trials * 0.01);  // the outlier rule misfires on ~0.2% of clean samples of 20
  EXPECT_LE(flagged_zero, trials * 0.04);  // expected ~0.025
  EXPECT_GE(flagged_zero, trials * 0.01);  // and the test does fire sometimes: it is not inert
}

TEST(Compare, ShiftsAreFlagged) {
  // 10% slower under 3% noise: regression at the default 5% threshold in (nearly) every trial.
  // 5% slower: a 5% threshold would be a coin flip by construction, so that key gets a 2% rule.
  std::mt19937_64 rng(2);
  Options o;
  o.rules.push_back({"small/*", {0.02, 0.05}});
  int ten = 0, five = 0;
  const int trials = 200;
  for (int t = 0; t < trials; ++t) {
    SampleSet base, cur;
    base["big/x"] = lognormal(rng, 20, 1e-3, 0.03);
    cur["big/x"] = lognormal(rng, 20, 1.10e-3, 0.03);
    base["small/x"] = lognormal(rng, 20, 1e-3, 0.03);
    cur["small/x"] = lognormal(rng, 20, 1.05e-3, 0.03);
    const Comparison c = compare(base, cur, o);
    ASSERT_EQ(c.rows.size(), 2u);
    ten += c.rows[0].verdict == Verdict::regression;
    five += c.rows[1].verdict == Verdict::regression;
    if (c.rows[0].verdict == Verdict::regression) {
      EXPECT_EQ(c.exit_code(), 1);
    }
    // The swapped comparison is an improvement, never a regression.
    const Comparison s = compare(cur, base, o);
    EXPECT_NE(s.rows[0].verdict, Verdict::regression);
    EXPECT_EQ(s.rows[0].verdict == Verdict::improvement, c.rows[0].verdict == Verdict::regression);
  }
  EXPECT_GE(ten, trials * 0.97);
  EXPECT_GE(five, trials * 0.90);
}

TEST(Compare, HigherIsBetterFlipsTheDirection) {
  std::mt19937_64 rng(3);
  const Samples b = lognormal(rng, 20, 500, 0.02, Direction::higher_is_better, "GFLOP/s");
  const Samples c = lognormal(rng, 20, 400, 0.02, Direction::higher_is_better, "GFLOP/s");
  const Row r = compare_one("gemm", &b, &c, {});
  EXPECT_EQ(r.verdict, Verdict::regression);
  EXPECT_NEAR(r.ratio, 0.8, 0.02);
  EXPECT_LT(r.ratio_ci.hi, 1.0);
  EXPECT_EQ(compare_one("gemm", &c, &b, {}).verdict, Verdict::improvement);
}

TEST(Compare, MissingInvalidAndNoisy) {
  std::mt19937_64 rng(4);
  SampleSet base, cur;
  base["only-base"] = lognormal(rng, 10, 1e-3, 0.01);
  cur["only-current"] = lognormal(rng, 10, 1e-3, 0.01);
  base["empty-current"] = lognormal(rng, 10, 1e-3, 0.01);
  cur["empty-current"] = Samples{};
  base["zero"] = lognormal(rng, 10, 1e-3, 0.01);
  cur["zero"] = base["zero"];
  cur["zero"].values[3] = 0;
  base["few"] = lognormal(rng, 3, 1e-3, 0.01);
  cur["few"] = lognormal(rng, 30, 1e-3, 0.01);
  base["noisy"] = lognormal(rng, 30, 1e-3, 0.6);
  cur["noisy"] = lognormal(rng, 30, 1e-3, 0.6);
  base["units"] = lognormal(rng, 10, 1, 0.01, Direction::lower_is_better, "s");
  cur["units"] = lognormal(rng, 10, 1, 0.01, Direction::higher_is_better, "GB/s");
  Options o;
  const Comparison c = compare(base, cur, o);
  ASSERT_EQ(c.rows.size(), 7u);
  std::map<std::string, Verdict> v;
  for (const Row& r : c.rows) v[r.key] = r.verdict;
  EXPECT_EQ(v["only-base"], Verdict::missing_in_current);
  EXPECT_EQ(v["only-current"], Verdict::missing_in_base);
  EXPECT_EQ(v["empty-current"], Verdict::missing_in_current);
  EXPECT_EQ(v["zero"], Verdict::invalid);
  EXPECT_EQ(v["few"], Verdict::too_noisy);
  EXPECT_EQ(v["noisy"], Verdict::too_noisy);
  EXPECT_EQ(v["units"], Verdict::invalid);
  EXPECT_EQ(c.count(Verdict::missing_in_current), 2);
  EXPECT_EQ(c.exit_code(), 0);  // nothing regressed; missing and noisy do not fail by default
  o.fail_on_missing = true;
  EXPECT_EQ(compare(base, cur, o).exit_code(), 1);
  o.fail_on_missing = false;
  o.fail_on_noisy = true;
  EXPECT_EQ(compare(base, cur, o).exit_code(), 1);
  // The missing side keeps n = 0; the present side is still described.
  const Row& only = c.rows[3];  // rows are sorted by key
  ASSERT_EQ(only.key, "only-base");
  EXPECT_EQ(only.current.n, 0);
  EXPECT_EQ(only.base.n, 10);
}

TEST(Compare, ThresholdRulesFirstMatchWins) {
  Options o;
  o.rules = {{"gemm:*/onednn", {0.02, 0.01}}, {"gemm:*", {0.10, 0.05}}, {"conv?", {0.2, 0.05}}};
  EXPECT_DOUBLE_EQ(threshold_for(o, "gemm:m1n1k1:f32/onednn").threshold, 0.02);
  EXPECT_DOUBLE_EQ(threshold_for(o, "gemm:m1n1k1:f32/onednn").alpha, 0.01);
  EXPECT_DOUBLE_EQ(threshold_for(o, "gemm:m1n1k1:f32/vulkan").threshold, 0.10);
  EXPECT_DOUBLE_EQ(threshold_for(o, "conv1").threshold, 0.2);
  EXPECT_DOUBLE_EQ(threshold_for(o, "conv12").threshold, 0.05);  // fallback
  EXPECT_TRUE(glob_match("a[0-9]*", "a7/x"));
  EXPECT_FALSE(glob_match("a[0-9]*", "ab"));
}

TEST(Compare, SignificantButSmallIsUnchanged) {
  // 2% slower with very little noise: significant, but under the 5% threshold.
  std::mt19937_64 rng(5);
  const Samples b = lognormal(rng, 40, 1e-3, 0.002), c = lognormal(rng, 40, 1.02e-3, 0.002);
  const Row r = compare_one("k", &b, &c, {});
  EXPECT_LT(r.p_value, 1e-6);
  EXPECT_EQ(r.verdict, Verdict::unchanged);
  EXPECT_NE(r.note.find("significant, below threshold"), std::string::npos) << r.note;
}

TEST(Compare, ChangePoints) {
  std::vector<double> h = {1.00, 1.01, 0.99, 1.00, 1.02, 1.00, 1.12, 1.11,
                           1.13, 1.12, 1.10, 1.12, 1.00, 0.99, 1.01, 1.00};
  const auto cps = change_points(h);
  ASSERT_EQ(cps.size(), 2u);
  EXPECT_EQ(cps[0].index, 6u);
  EXPECT_NEAR(cps[0].ratio, 1.12, 0.01);
  EXPECT_EQ(cps[1].index, 12u);
  EXPECT_LT(cps[1].ratio, 0.92);
  // Flat noise has none; a 3% step is below the 5% threshold.
  std::vector<double> flat = {1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0};
  EXPECT_TRUE(change_points(flat).empty());
  std::vector<double> small = {1, 1, 1, 1, 1, 1.03, 1.03, 1.03, 1.03, 1.03};
  EXPECT_TRUE(change_points(small).empty());
  EXPECT_EQ(change_points(small, 0.02).size(), 1u);
}

// A hand-built comparison, so the golden strings depend on the formats only.
Comparison golden() {
  Comparison c;
  Row a;
  a.key = "gemm:m1024n1024k1024:f32/onednn";
  a.verdict = Verdict::regression;
  a.note = "p 0.00012, +10.0% vs +-5%";
  a.base = {20, 1.0e-3, {0.99e-3, 1.01e-3}, 0.01, 0};
  a.current = {20, 1.1e-3, {1.09e-3, 1.11e-3}, 0.012, 1};
  a.ratio = 1.1;
  a.ratio_ci = {1.08, 1.12};
  a.ratio_ci_confidence = 0.952;
  a.p_value = 0.00012;
  Row b;
  b.key = "gemm:m64n64k64:f32/reference";
  b.verdict = Verdict::unchanged;
  b.note = "p 0.61, -0.2% vs +-5%";
  b.base = {10, 2.5e-6, {2.4e-6, 2.6e-6}, 0.02, 0};
  b.current = {10, 2.495e-6, {2.4e-6, 2.6e-6}, 0.02, 0};
  b.ratio = 0.998;
  b.ratio_ci = {0.99, 1.005};
  b.ratio_ci_confidence = 0.957;
  b.p_value = 0.61;
  Row d;
  d.key = "odd|<key>&\"q\"_*";
  d.direction = Direction::higher_is_better;
  d.unit = "GFLOP/s";
  d.verdict = Verdict::improvement;
  d.note = "p 0.001, +12.0% vs +-5%";
  d.base = {8, 500, {490, 510}, 0.02, 0};
  d.current = {8, 560, {550, 570}, 0.02, 0};
  d.ratio = 1.12;
  d.ratio_ci = {1.1, 1.14};
  d.ratio_ci_confidence = 0.95;
  d.p_value = 0.001;
  Row m;
  m.key = "conv:new";
  m.verdict = Verdict::missing_in_base;
  m.note = "no samples in base";
  m.current = {5, 0.25, {0.2, 0.3}, 0.1, 0};
  m.ratio = m.p_value = NAN;
  m.ratio_ci = {NAN, NAN};
  c.rows = {a, b, d, m};
  return c;
}

TEST(CompareFormat, Values) {
  EXPECT_EQ(format_value(1.23456e-3, "s"), "1.235 ms");
  EXPECT_EQ(format_value(2.5e-6, "s"), "2.5 us");
  EXPECT_EQ(format_value(3e-9, "s"), "3 ns");
  EXPECT_EQ(format_value(12.5, "s"), "12.5 s");
  EXPECT_EQ(format_value(512, "GFLOP/s"), "512 GFLOP/s");
  EXPECT_EQ(format_value(NAN, "s"), "-");
  EXPECT_EQ(xml_escape("a<b>&\"c\"'\n\x01"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;&#10;?");
  EXPECT_EQ(markdown_escape("a|b_c*`d`"), "a\\|b\\_c\\*\\`d\\`");
}

TEST(CompareFormat, TerminalGolden) {
  EXPECT_EQ(
      format_terminal(golden()),
      R"golden(benchmark                               base      current  ratio  CI                    p  verdict          note
gemm:m1024n1024k1024:f32/onednn         1 ms       1.1 ms  1.100  [1.080, 1.120]  0.00012  regression       p 0.00012, +10.0% vs +-5%
gemm:m64n64k64:f32/reference          2.5 us     2.495 us  0.998  [0.990, 1.005]     0.61  unchanged        p 0.61, -0.2% vs +-5%
odd|<key>&"q"_*                  500 GFLOP/s  560 GFLOP/s  1.120  [1.100, 1.140]    0.001  improvement      p 0.001, +12.0% vs +-5%
conv:new                                   -       250 ms      -  -                     -  missing_in_base  no samples in base
4 benchmarks: 1 regression, 1 improvement, 1 unchanged, 0 too_noisy, 1 missing_in_base, 0 missing_in_current, 0 invalid
result: FAIL
)golden");
}

TEST(CompareFormat, MarkdownGolden) {
  EXPECT_EQ(
      format_markdown(golden()),
      R"golden(**FAIL**: 4 benchmarks: 1 regression, 1 improvement, 1 unchanged, 0 too_noisy, 1 missing_in_base, 0 missing_in_current, 0 invalid

| benchmark | base | current | ratio | CI | p | verdict | note |
|:--|--:|--:|--:|:--|--:|:--|:--|
| gemm:m1024n1024k1024:f32/onednn | 1 ms | 1.1 ms | 1.100 | \[1.080, 1.120\] | 0.00012 | **regression** | p 0.00012, +10.0% vs +-5% |
| gemm:m64n64k64:f32/reference | 2.5 us | 2.495 us | 0.998 | \[0.990, 1.005\] | 0.61 | unchanged | p 0.61, -0.2% vs +-5% |
| odd\|\<key\>&"q"\_\* | 500 GFLOP/s | 560 GFLOP/s | 1.120 | \[1.100, 1.140\] | 0.001 | improvement | p 0.001, +12.0% vs +-5% |
| conv:new | - | 250 ms | - | - | - | missing\_in\_base | no samples in base |
)golden");
}

TEST(CompareFormat, JunitGolden) {
  EXPECT_EQ(format_junit(golden()), R"golden(<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="tierbench.compare" tests="4" failures="1" errors="0" skipped="1">
  <testsuite name="tierbench.compare" tests="4" failures="1" errors="0" skipped="1">
    <testcase classname="tierbench.compare" name="gemm:m1024n1024k1024:f32/onednn">
      <failure type="regression" message="regression: ratio 1.100 [1.080, 1.120], p 0.00012">p 0.00012, +10.0% vs +-5%
base 1 ms (n 20), current 1.1 ms (n 20), threshold 0.05, alpha 0.05</failure>
    </testcase>
    <testcase classname="tierbench.compare" name="gemm:m64n64k64:f32/reference">
      <system-out>unchanged: ratio 0.998 [0.990, 1.005], p 0.61
p 0.61, -0.2% vs +-5%
base 2.5 us (n 10), current 2.495 us (n 10), threshold 0.05, alpha 0.05</system-out>
    </testcase>
    <testcase classname="tierbench.compare" name="odd|&lt;key&gt;&amp;&quot;q&quot;_*">
      <system-out>improvement: ratio 1.120 [1.100, 1.140], p 0.001
p 0.001, +12.0% vs +-5%
base 500 GFLOP/s (n 8), current 560 GFLOP/s (n 8), threshold 0.05, alpha 0.05</system-out>
    </testcase>
    <testcase classname="tierbench.compare" name="conv:new">
      <skipped message="missing_in_base: no samples in base"/>
    </testcase>
  </testsuite>
</testsuites>
)golden");
  // Failing on missing benchmarks turns nothing here into a failure (only missing_in_base),
  // but failing on noise would; the counts follow Comparison::fails.
  Comparison c = golden();
  c.rows[3].verdict = Verdict::missing_in_current;
  c.fail_on_missing = true;
  const std::string x = format_junit(c);
  EXPECT_NE(x.find("failures=\"2\" errors=\"0\" skipped=\"0\""), std::string::npos) << x;
  EXPECT_NE(x.find("<failure type=\"missing_in_current\" message=\"missing_in_current: no samples"),
            std::string::npos)
      << x;
}

TEST(CompareFormat, JsonGolden) {
  Comparison c = golden();
  c.rows.erase(c.rows.begin() + 1, c.rows.begin() + 3);  // the regression and the missing row
  EXPECT_EQ(
      to_json(c).dump(),
      R"golden({"benchmarks":[{"alpha":0.05,"base":{"cv":0.01,"median":0.001,"median_ci":[0.00099,0.00101],"n":20,"outliers":0},"current":{"cv":0.012,"median":0.0011,"median_ci":[0.00109,0.00111],"n":20,"outliers":1},"direction":"lower_is_better","fails":true,"key":"gemm:m1024n1024k1024:f32/onednn","note":"p 0.00012, +10.0% vs +-5%","p_value":0.00012,"ratio":1.1,"ratio_ci":[1.08,1.12],"ratio_ci_confidence":0.952,"threshold":0.05,"unit":"s","verdict":"regression"},{"alpha":0.05,"base":null,"current":{"cv":0.1,"median":0.25,"median_ci":[0.2,0.3],"n":5,"outliers":0},"direction":"lower_is_better","fails":false,"key":"conv:new","note":"no samples in base","p_value":null,"ratio":null,"ratio_ci":[null,null],"ratio_ci_confidence":null,"threshold":0.05,"unit":"s","verdict":"missing_in_base"}],"counts":{"improvement":0,"invalid":0,"missing_in_base":1,"missing_in_current":0,"regression":1,"too_noisy":0,"unchanged":0},"exit_code":1,"fail_on_missing":false,"fail_on_noisy":false,"result":"FAIL","schema":"tierbench.compare/1"})golden");
  EXPECT_EQ(format_json(c), to_json(c).dump(2) + "\n");
}

}  // namespace
}  // namespace tb::compare

namespace tb::compare {
namespace {

// Repetitions are the unit of independence: a whole-run shift in one repetition of CURRENT is
// visible sample by sample (tiny p over samples) but not a regression over repetitions.
TEST(CompareGroups, DriftInOneRepetitionIsNotARegression) {
  Samples base, cur;
  for (int rep = 0; rep < 5; ++rep) {
    const double level = 1.0 + 0.002 * rep;
    const double cur_level = rep == 4 ? 1.30 : level + 0.001;  // one drifted repetition
    for (int i = 0; i < 40; ++i) {
      base.values.push_back(level * (1 + 1e-4 * (i % 7)));
      cur.values.push_back(cur_level * (1 + 1e-4 * (i % 5)));
    }
    base.groups.push_back(level);
    cur.groups.push_back(cur_level);
  }
  Options o;
  o.fallback.threshold = 0.03;
  const Row by_groups = compare_one("k", &base, &cur, o);
  EXPECT_NE(by_groups.verdict, Verdict::regression) << by_groups.note;
  EXPECT_NE(by_groups.note.find("repetitions"), std::string::npos);
  // The same samples without repetition structure: judged sample by sample.
  base.groups.clear();
  cur.groups.clear();
  const Row by_samples = compare_one("k", &base, &cur, o);
  EXPECT_LT(by_samples.p_value, 0.01);
}

TEST(CompareGroups, ConsistentShiftAcrossRepetitionsIsARegression) {
  Samples base, cur;
  for (int rep = 0; rep < 5; ++rep) {
    for (int i = 0; i < 20; ++i) {
      base.values.push_back(1.0 + 0.001 * rep + 1e-4 * i);
      cur.values.push_back(1.08 + 0.001 * rep + 1e-4 * i);
    }
    base.groups.push_back(1.0 + 0.001 * rep + 1e-3);
    cur.groups.push_back(1.08 + 0.001 * rep + 1e-3);
  }
  const Row r = compare_one("k", &base, &cur, Options{});
  EXPECT_EQ(r.verdict, Verdict::regression) << r.note;
}

}  // namespace
}  // namespace tb::compare

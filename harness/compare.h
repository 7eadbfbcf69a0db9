// The verdict engine behind `tierbench compare` and CI gating: BASE and CURRENT raw samples per
// benchmark key in, one verdict per benchmark and an exit code out. Pure: no I/O, no store.
//
// The rule (per benchmark, r = current / base as a Hodges-Lehmann ratio with its
// distribution-free CI, p = two-sided Mann-Whitney U p-value, t = threshold, a = alpha):
//   - missing_in_base / missing_in_current: the key has samples on one side only;
//   - invalid: a sample is not finite or not > 0 (a ratio cannot be formed), or the two sides
//     disagree on the direction;
//   - too_noisy: either side has fewer than NoiseRule::min_samples samples;
//   - regression: p < a AND r is worse than the threshold: r > 1 + t when lower is better
//     (times), r < 1 / (1 + t) when higher is better (throughput);
//   - improvement: p < a AND r is better than the threshold the other way;
//   - too_noisy: otherwise, when either side fails the NoiseRule (CV or outlier fraction);
//   - unchanged: otherwise.
// Significance alone gates nothing (with many samples a 0.3% shift is "significant"); a large
// ratio alone gates nothing (two noisy samples can be 8% apart by chance). The thresholds are
// symmetric in log space, so swapping BASE and CURRENT swaps regression and improvement.
// A significant change beyond the threshold is reported even when the samples are noisy: the
// U test and the HL interval are distribution-free, and noise makes them less, not more, likely
// to fire. Noise only turns "unchanged" into "too_noisy" (we could not have seen a change).
//
// Exit code: 1 if any benchmark is a regression (or too_noisy / missing when the options say
// those fail too), else 0.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "stats.h"

namespace tb::compare {

enum class Direction { lower_is_better, higher_is_better };
enum class Verdict {
  regression,
  improvement,
  unchanged,
  too_noisy,
  missing_in_base,
  missing_in_current,
  invalid,
};

std::string_view to_string(Direction d);  // "lower_is_better", "higher_is_better"
std::string_view to_string(Verdict v);    // "regression", ..., "missing_in_base", ...

// Raw samples of one benchmark on one side. Seconds unless `unit` says otherwise.
struct Samples {
  std::vector<double> values;
  Direction direction = Direction::lower_is_better;
  std::string unit = "s";  // "s" values are shown with time units; others as "<value> <unit>"
  // Medians of independent repetitions (separate results: rounds of a run, or runs), when the
  // samples came in such groups. Samples inside one repetition share the machine's state of the
  // moment, so they are not independent of each other across repetitions; with at least
  // kMinGroups groups on both sides, significance is tested on these medians instead.
  std::vector<double> groups;
};
inline constexpr std::size_t kMinGroups =
    4;  // 4 vs 4 is the smallest design where U can give p < 0.05

using SampleSet = std::map<std::string, Samples>;  // benchmark key -> samples

struct Threshold {
  double threshold = 0.05;  // relative change that matters (0.05 = 5%)
  double alpha = 0.05;      // significance level of the U test
};

// Keys are matched against glob patterns (fnmatch(3) without flags: `*` also matches `/` and
// `:`); the first matching rule wins, then Options::fallback.
struct ThresholdRule {
  std::string pattern;
  Threshold threshold;
};

struct Options {
  std::vector<ThresholdRule> rules;
  Threshold fallback;
  stats::NoiseRule noise;
  double confidence = 0.95;      // of the ratio interval that is reported
  bool fail_on_noisy = false;    // too_noisy also fails the gate
  bool fail_on_missing = false;  // missing_in_current also fails the gate (a benchmark vanished)
};

// The threshold that applies to `key` (first matching rule, else the fallback).
Threshold threshold_for(const Options& options, const std::string& key);
// fnmatch-style glob match (`*`, `?`, `[...]`), exposed for tests and CLI filters.
bool glob_match(const std::string& pattern, const std::string& key);

struct Side {
  std::int64_t n = 0;
  double median = 0;
  stats::Interval median_ci;  // distribution-free, at Options::confidence
  double cv = 0;
  std::int64_t outliers = 0;
};

struct Row {
  std::string key;
  Direction direction = Direction::lower_is_better;
  std::string unit = "s";
  Verdict verdict = Verdict::unchanged;
  std::string note;  // why, in a few words: "p 0.0003, +7.2% > 5%", "base: cv 0.31 > 0.25"
  Threshold threshold;
  Side base, current;  // n = 0 on a missing side
  double ratio = 0;    // Hodges-Lehmann current / base; NaN when it cannot be formed
  stats::Interval ratio_ci;
  double ratio_ci_confidence = 0;  // achieved coverage of ratio_ci
  double p_value = 0;              // two-sided Mann-Whitney; NaN when not computed
};

struct Comparison {
  std::vector<Row> rows;  // sorted by key
  bool fail_on_noisy = false, fail_on_missing = false;

  std::int64_t count(Verdict v) const;
  // Whether this row fails the gate under the options the comparison was made with.
  bool fails(const Row& row) const;
  int exit_code() const;  // 1 if any row fails, else 0
};

// Compares every key present on either side.
Comparison compare(const SampleSet& base, const SampleSet& current, const Options& options = {});

// One benchmark; `base` or `current` may be null (missing).
Row compare_one(const std::string& key, const Samples* base, const Samples* current,
                const Options& options);

// --- Change points over a history (optional view) ---------------------------------------------

struct ChangePoint {
  std::size_t index = 0;         // first point of the new level
  double before = 0, after = 0;  // medians of the segments either side
  double ratio = 0;              // after / before
};

// Circular binary segmentation on a series of per-run medians (oldest first): in a segment, find
// the stretch [i, j) whose level differs most from the rest (a step when it touches an end, an
// excursion otherwise); keep it when the medians differ by more than `threshold` (relative) AND a
// Mann-Whitney test of the stretch against the rest gives p < `alpha`, every piece holding at
// least `min_segment` points; recurse into the pieces. Sorted by index. For "when did this get
// slower" views over the store's history, not for gating. O(n^2) per level: fine for histories.
std::vector<ChangePoint> change_points(const std::vector<double>& medians, double threshold = 0.05,
                                       double alpha = 0.05, std::size_t min_segment = 4);

}  // namespace tb::compare

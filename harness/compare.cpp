// The verdict engine; the rule is documented in compare.h.
#include "compare.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

namespace tb::compare {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Side describe(const Samples& s, double confidence) {
  const stats::Summary sum = stats::summarize(s.values);
  Side side;
  side.n = sum.n;
  side.median = sum.median;
  side.median_ci = stats::median_ci(s.values, confidence);
  side.cv = sum.cv;
  side.outliers = sum.outliers;
  return side;
}

bool usable(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x) && x > 0; });
}

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

}  // namespace

std::string_view to_string(Direction d) {
  return d == Direction::lower_is_better ? "lower_is_better" : "higher_is_better";
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::regression:
      return "regression";
    case Verdict::improvement:
      return "improvement";
    case Verdict::unchanged:
      return "unchanged";
    case Verdict::too_noisy:
      return "too_noisy";
    case Verdict::missing_in_base:
      return "missing_in_base";
    case Verdict::missing_in_current:
      return "missing_in_current";
    case Verdict::invalid:
      return "invalid";
  }
  return "invalid";
}

bool glob_match(const std::string& pattern, const std::string& key) {
  return fnmatch(pattern.c_str(), key.c_str(), 0) == 0;
}

Threshold threshold_for(const Options& options, const std::string& key) {
  for (const ThresholdRule& r : options.rules)
    if (glob_match(r.pattern, key)) return r.threshold;
  return options.fallback;
}

Row compare_one(const std::string& key, const Samples* base, const Samples* current,
                const Options& options) {
  Row row;
  row.key = key;
  row.threshold = threshold_for(options, key);
  row.ratio = row.p_value = kNaN;
  row.ratio_ci = {kNaN, kNaN};
  const Samples* any = current ? current : base;
  if (any) {
    row.direction = any->direction;
    row.unit = any->unit;
  }
  if (base) row.base = describe(*base, options.confidence);
  if (current) row.current = describe(*current, options.confidence);
  if (!base || base->values.empty()) {
    row.verdict = Verdict::missing_in_base;
    row.note = "no samples in base";
    if (!current || current->values.empty()) row.note = "no samples on either side";
    return row;
  }
  if (!current || current->values.empty()) {
    row.verdict = Verdict::missing_in_current;
    row.note = "no samples in current";
    return row;
  }
  if (base->direction != current->direction || base->unit != current->unit) {
    row.verdict = Verdict::invalid;
    row.note = "base and current disagree on direction or unit";
    return row;
  }
  if (!usable(base->values) || !usable(current->values)) {
    row.verdict = Verdict::invalid;
    row.note = "samples must be finite and > 0";
    return row;
  }

  const stats::Estimate hl =
      stats::hodges_lehmann_ratio(base->values, current->values, options.confidence);
  row.ratio = hl.estimate;
  row.ratio_ci = hl.ci;
  row.ratio_ci_confidence = hl.confidence;
  // The unit of independence: whole repetitions when both sides have enough of them (between-run
  // drift then counts as noise, as it must), single samples otherwise.
  const bool by_groups = base->groups.size() >= kMinGroups && current->groups.size() >= kMinGroups;
  row.p_value = by_groups ? stats::mann_whitney(base->groups, current->groups).p
                          : stats::mann_whitney(base->values, current->values).p;

  const std::int64_t min_n = options.noise.min_samples;
  if (row.base.n < min_n || row.current.n < min_n) {
    row.verdict = Verdict::too_noisy;
    row.note = format("%.0f vs %.0f samples, need %.0f", static_cast<double>(row.base.n),
                      static_cast<double>(row.current.n), static_cast<double>(min_n));
    return row;
  }

  const double t = row.threshold.threshold;
  const bool significant = row.p_value < row.threshold.alpha;
  const bool slower = row.ratio > 1 + t, faster = row.ratio < 1 / (1 + t);
  const bool lower_better = row.direction == Direction::lower_is_better;
  const double change = (row.ratio - 1) * 100;
  if (significant && (lower_better ? slower : faster)) {
    row.verdict = Verdict::regression;
  } else if (significant && (lower_better ? faster : slower)) {
    row.verdict = Verdict::improvement;
  } else {
    const std::string base_noise =
        stats::noise_problem(stats::summarize(base->values), options.noise);
    const std::string cur_noise =
        stats::noise_problem(stats::summarize(current->values), options.noise);
    if (!base_noise.empty() || !cur_noise.empty()) {
      row.verdict = Verdict::too_noisy;
      row.note = !base_noise.empty() ? "base: " + base_noise : "current: " + cur_noise;
      return row;
    }
    row.verdict = Verdict::unchanged;
  }
  row.note = format("p %.2g, %+.1f%% vs +-%.0f%%", row.p_value, change, t * 100);
  row.note += by_groups ? format(" (p over %.0f vs %.0f repetitions)",
                                 static_cast<double>(base->groups.size()),
                                 static_cast<double>(current->groups.size()))
                        : std::string(" (p over samples)");
  if (row.verdict == Verdict::unchanged && significant)
    row.note += " (significant, below threshold)";
  return row;
}

Comparison compare(const SampleSet& base, const SampleSet& current, const Options& options) {
  std::set<std::string> keys;
  for (const auto& [k, v] : base) keys.insert(k);
  for (const auto& [k, v] : current) keys.insert(k);
  Comparison c;
  c.fail_on_noisy = options.fail_on_noisy;
  c.fail_on_missing = options.fail_on_missing;
  for (const std::string& k : keys) {
    const auto b = base.find(k);
    const auto cur = current.find(k);
    c.rows.push_back(compare_one(k, b == base.end() ? nullptr : &b->second,
                                 cur == current.end() ? nullptr : &cur->second, options));
  }
  return c;
}

std::int64_t Comparison::count(Verdict v) const {
  return std::count_if(rows.begin(), rows.end(), [v](const Row& r) { return r.verdict == v; });
}

bool Comparison::fails(const Row& row) const {
  switch (row.verdict) {
    case Verdict::regression:
      return true;
    case Verdict::too_noisy:
      return fail_on_noisy;
    case Verdict::missing_in_current:
      return fail_on_missing;
    default:
      return false;
  }
}

int Comparison::exit_code() const {
  return std::any_of(rows.begin(), rows.end(), [this](const Row& r) { return fails(r); }) ? 1 : 0;
}

namespace {

double median_of(const std::vector<double>& m, std::size_t begin, std::size_t end) {
  return stats::quantile(std::span<const double>(m.data() + begin, end - begin), 0.5);
}

// Circular binary segmentation (Olshen et al., Biostatistics 2004) on log medians: the best
// segment [i, j) against the rest of [begin, end), which covers a single step (i == begin or
// j == end) and a temporary excursion in the middle, that binary segmentation would miss.
void segment(const std::vector<double>& m, std::size_t begin, std::size_t end, double threshold,
             double alpha, std::size_t min_segment, std::vector<ChangePoint>& out) {
  const std::size_t n = end - begin;
  if (n < 2 * min_segment) return;
  std::vector<double> prefix(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    if (!(m[begin + i] > 0)) return;  // ratios need positive medians
    prefix[i + 1] = prefix[i] + std::log(m[begin + i]);
  }
  // The mean-shift statistic |mean_in - mean_out| * sqrt(n_in n_out / n) peaks at a clean step,
  // where the medians alone would tie over several splits; the medians and U then judge it.
  std::size_t bi = 0, bj = 0;
  double best = -1;
  const double nn = static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0 && i < min_segment) continue;
    for (std::size_t j = i + min_segment; j <= n; ++j) {
      if (j != n && n - j < min_segment) continue;
      const double n_in = static_cast<double>(j - i), n_out = nn - n_in;
      if (n_out < static_cast<double>(min_segment)) continue;
      const double in = prefix[j] - prefix[i];
      const double diff = in / n_in - (prefix[n] - in) / n_out;
      const double score = std::fabs(diff) * std::sqrt(n_in * n_out / nn);
      if (score > best) {
        best = score;
        bi = i;
        bj = j;
      }
    }
  }
  if (best < 0) return;
  std::vector<double> inside(m.begin() + begin + bi, m.begin() + begin + bj), outside;
  outside.insert(outside.end(), m.begin() + begin, m.begin() + begin + bi);
  outside.insert(outside.end(), m.begin() + begin + bj, m.begin() + end);
  const double mi = stats::quantile(inside, 0.5), mo = stats::quantile(outside, 0.5);
  if (std::fabs(std::log(mi / mo)) < std::log1p(threshold)) return;
  if (!(stats::mann_whitney(outside, inside).p < alpha)) return;
  const std::size_t i = begin + bi, j = begin + bj;
  segment(m, begin, i, threshold, alpha, min_segment, out);
  if (i > begin) {
    const double before = median_of(m, begin, i);
    out.push_back({i, before, mi, mi / before});
  }
  segment(m, i, j, threshold, alpha, min_segment, out);
  if (j < end) {
    const double after = median_of(m, j, end);
    out.push_back({j, mi, after, after / mi});
  }
  segment(m, j, end, threshold, alpha, min_segment, out);
}

}  // namespace

std::vector<ChangePoint> change_points(const std::vector<double>& medians, double threshold,
                                       double alpha, std::size_t min_segment) {
  std::vector<ChangePoint> out;
  segment(medians, 0, medians.size(), threshold, alpha, std::max<std::size_t>(min_segment, 1), out);
  return out;
}

}  // namespace tb::compare

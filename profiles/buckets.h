// The class edges of the shareable profile, read from profiles/data/buckets.json (embedded at
// build time): one documented place. A Scale turns a raw figure into a class label.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tb::profiles {

// Classes over [0, inf): "<e0 U", "e0-e1 U", ..., ">=eN U"; a single "any" class when there are
// no edges. Labels for "no figure" are kUnknown (device level) and kNone (a tier that does not
// run).
struct Scale {
  std::string unit;
  std::vector<double> edges;  // ascending
  std::vector<std::string> labels() const;
  // The class covering classes lo..hi (indices of labels(), lo <= hi): the label of one class, a
  // range of consecutive ones ("16-1000 ms", "<1000 ms", ">=1000 ms"), "any" for all of them.
  std::string span(int lo, int hi) const;
  // Every range of two or more consecutive classes but all of them, in order of lo, then hi:
  // the labels a withheld profile may use (k_anonymise, privacy.h).
  std::vector<std::string> span_labels() const;
  int index(double value) const;  // 0 .. edges.size()
  std::string label(double value) const;
  // The upper edge of a class (+inf for the last): what a scheduler may rely on.
  double upper(const std::string& label) const;
};

// The upper edge of any class label ("<16 ms": 16, "16-100 ms": 100, ">=60000 ms", "any",
// "none": +inf): labels say their edges, so a scheduler needs no granularity table.
double label_upper(const std::string& label);

// Rounded to the nearest value in log2 space and clamped, like navigator.deviceMemory.
struct Rounding {
  std::vector<double> values;  // ascending
  double round(double value) const;
};

struct Granularity {
  std::string name;
  Scale latency_ms, cold_start_ms, model_memory_mib, compute_gflops, bandwidth_gbps, storage_gbps;
  Rounding memory_gib;
};

struct Buckets {
  std::string default_name;
  std::vector<double> decision_budgets_ms;
  double fit_fraction = 0.5;
  double too_slow_ms = 10000;
  int k_anonymity = 5;              // the smallest anonymity set over the catalogue
  std::vector<std::string> ladder;  // granularities, finest first
  std::map<std::string, Granularity> granularities;
  const Granularity& granularity(const std::string& name) const;  // throws for an unknown name
  const Granularity& by_default() const { return granularity(default_name); }
};

inline constexpr const char* kUnknown = "unknown";
inline constexpr const char* kNone = "none";
inline constexpr const char* kAny = "any";  // generalised away (k-anonymity)

const Buckets& buckets();

}  // namespace tb::profiles

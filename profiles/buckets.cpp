#include "buckets.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "json_schema.h"

namespace tb::profiles {

std::vector<std::string> Scale::labels() const {
  if (edges.empty()) return {"any"};
  const auto num = [](double v) { return fmt::format("{:g}", v); };
  std::vector<std::string> out = {"<" + num(edges.front()) + " " + unit};
  for (std::size_t i = 1; i < edges.size(); ++i)
    out.push_back(num(edges[i - 1]) + "-" + num(edges[i]) + " " + unit);
  out.push_back(">=" + num(edges.back()) + " " + unit);
  return out;
}

std::string Scale::span(int lo, int hi) const {
  const int n = static_cast<int>(edges.size());
  if (edges.empty() || (lo <= 0 && hi >= n)) return kAny;
  if (lo == hi) return labels()[static_cast<std::size_t>(lo)];
  const auto num = [](double v) { return fmt::format("{:g}", v); };
  if (lo <= 0) return "<" + num(edges[static_cast<std::size_t>(hi)]) + " " + unit;
  if (hi >= n) return ">=" + num(edges[static_cast<std::size_t>(lo - 1)]) + " " + unit;
  return num(edges[static_cast<std::size_t>(lo - 1)]) + "-" +
         num(edges[static_cast<std::size_t>(hi)]) + " " + unit;
}

std::vector<std::string> Scale::span_labels() const {
  std::vector<std::string> out;
  const int n = static_cast<int>(edges.size());
  for (int lo = 0; lo <= n; ++lo)
    for (int hi = lo + 1; hi <= n; ++hi)
      if (lo > 0 || hi < n) out.push_back(span(lo, hi));
  return out;
}

int Scale::index(double value) const {
  int i = 0;
  while (i < static_cast<int>(edges.size()) && value >= edges[static_cast<std::size_t>(i)]) ++i;
  return i;
}

std::string Scale::label(double value) const {
  if (!std::isfinite(value) || value < 0) return kUnknown;
  return labels()[static_cast<std::size_t>(index(value))];
}

double Scale::upper(const std::string& label) const {
  const auto ls = labels();
  for (std::size_t i = 0; i < ls.size(); ++i)
    if (ls[i] == label)
      return i < edges.size() ? edges[i] : std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::infinity();
}

double label_upper(const std::string& label) {
  const double inf = std::numeric_limits<double>::infinity();
  if (label.rfind(">=", 0) == 0 || label.empty()) return inf;
  const std::size_t start = label[0] == '<' ? 1 : label.find('-') + 1;
  if (label[0] != '<' && start == 0) return inf;
  try {
    return std::stod(label.substr(start));
  } catch (...) {
    return inf;
  }
}

double Rounding::round(double value) const {
  if (values.empty() || !(value > 0)) return values.empty() ? 0 : values.front();
  double best = values.front();
  for (const double v : values)
    if (std::abs(std::log2(value / v)) < std::abs(std::log2(value / best))) best = v;
  return best;
}

const Granularity& Buckets::granularity(const std::string& name) const {
  const auto it = granularities.find(name);
  if (it == granularities.end()) throw std::invalid_argument("unknown granularity '" + name + "'");
  return it->second;
}

namespace {

Scale scale(const nlohmann::json& j) {
  Scale s;
  s.unit = j.at("unit").get<std::string>();
  s.edges = j.at("edges").get<std::vector<double>>();
  return s;
}

Buckets load() {
  const auto j = nlohmann::json::parse(embedded("buckets.json"));
  Buckets b;
  b.default_name = j.at("default").get<std::string>();
  b.decision_budgets_ms = j.at("decision_budgets_ms").get<std::vector<double>>();
  b.fit_fraction = j.at("fit_fraction").get<double>();
  b.too_slow_ms = j.at("too_slow_ms").get<double>();
  b.k_anonymity = j.at("k_anonymity").get<int>();
  b.ladder = j.at("ladder").get<std::vector<std::string>>();
  for (const auto& [name, g] : j.at("granularities").items()) {
    Granularity out;
    out.name = name;
    out.latency_ms = scale(g.at("latency_ms"));
    out.cold_start_ms = scale(g.at("cold_start_ms"));
    out.model_memory_mib = scale(g.at("model_memory_mib"));
    out.compute_gflops = scale(g.at("compute_gflops"));
    out.bandwidth_gbps = scale(g.at("bandwidth_gbps"));
    out.storage_gbps = scale(g.at("storage_gbps"));
    out.memory_gib.values = g.at("memory_gib").at("values").get<std::vector<double>>();
    b.granularities[name] = std::move(out);
  }
  (void)b.by_default();
  for (const auto& l : b.ladder) (void)b.granularity(l);
  return b;
}

}  // namespace

const Buckets& buckets() {
  static const Buckets b = load();
  return b;
}

}  // namespace tb::profiles

#include "selection.h"

#include <algorithm>
#include <set>

#include "problem_limits.h"
#include "workload_runner.h"

namespace tb::cli {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

Result<Selection> select_work(const SelectionArgs& a) {
  Selection sel;
  for (const auto& s : a.problems) {
    auto p = Problem::parse(s);
    if (!p) return make_error("--problem: " + p.error().message);
    sel.problems.push_back(p.value());
  }
  for (auto n : a.sizes) {
    sel.problems.push_back(make_gemm(n, n, n));
    if (auto c = check_size(sel.problems.back()); !c)
      return make_error("--size: " + c.error().message);
  }
  for (const auto& d : a.dtypes)
    if (!workloads::parse_tier_dtype(d))
      return make_error("--dtype: unknown data type '" + d + "' (valid: f32, bf16, int8)");
  const auto wanted = [&](const std::string& dtype) {
    return a.dtypes.empty() || std::find(a.dtypes.begin(), a.dtypes.end(), dtype) != a.dtypes.end();
  };
  const auto add_workload = [&](const std::string& w, bool from_suite) -> std::string {
    if (w.find(':') != std::string::npos) {
      auto n = workloads::parse_workload(w);
      if (!n) return n.error().message;
      if (!from_suite || wanted(n->dtype)) sel.workloads.push_back(n.value());
      return {};
    }
    const auto* t = workloads::find_tier(w);
    if (!t) return "unknown tier '" + w + "' (valid: " + workloads::tier_names() + ")";
    for (const auto& d : t->dtypes)
      if (wanted(d)) sel.workloads.push_back({t->name, t->variants.front(), d});
    return {};
  };
  for (const auto& w : a.workloads)
    if (auto e = add_workload(w, false); !e.empty()) return make_error("--workload: " + e);

  // A suite name selects kernel problems and/or model tiers of that name. The default, when
  // nothing else was asked for, is the quick suite.
  if ((sel.problems.empty() && sel.workloads.empty() && !a.other_work) || !a.suite.empty()) {
    const std::string name = a.suite.empty() ? "quick" : a.suite;
    const auto* ks = workloads::find_suite(name);
    const auto* ws = find_workload_suite(name);
    if (!ks && !ws) {
      std::set<std::string> valid;
      for (const auto& s : workloads::suites()) valid.insert(s.name);
      for (const auto& s : workload_suites()) valid.insert(s.name);
      return make_error("--suite: unknown suite '" + name +
                        "' (valid: " + join({valid.begin(), valid.end()}) + ")");
    }
    if (ks)
      for (auto& p : workloads::suite_problems(*ks)) sel.problems.push_back(std::move(p));
    if (ws)
      for (const auto& w : ws->workloads)
        if (auto e = add_workload(w, true); !e.empty())
          return make_error("suite " + name + ": " + e);
  }
  return sel;
}

}  // namespace tb::cli

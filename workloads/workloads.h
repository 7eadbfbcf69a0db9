// Workloads: named suites of problems (and, with the model tiers, whole models) that the
// runner executes. A suite is data, not code: the list of canonical problem strings it runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kernels.h"

namespace tb::workloads {

struct Suite {
  std::string name;
  std::string description;
  std::vector<std::string> problems;  // canonical problem strings
};

// Every suite, in the order `tierbench list --suites` shows them.
const std::vector<Suite>& suites();
const Suite* find_suite(std::string_view name);
// The suite's problems, parsed (the strings are checked by the tests, so this cannot fail).
std::vector<Problem> suite_problems(const Suite& s);

}  // namespace tb::workloads

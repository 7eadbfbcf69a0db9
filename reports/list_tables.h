// The listings of `tierbench list` as aligned text, from the documents its --json form prints:
// backends with their devices (or why a backend is unavailable), model tiers with their figures,
// suites with what they run.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tb::reports {

std::string format_backend_list(const nlohmann::json& backends);    // the "backends" array
std::string format_workload_list(const nlohmann::json& workloads);  // the "workloads" array
std::string format_suite_list(const nlohmann::json& suites);        // the "suites" array

}  // namespace tb::reports

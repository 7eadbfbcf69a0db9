// Reports render from the results store, never from the runner: whatever was measured and
// committed can be shown again, by any later command, in the same format.
#pragma once

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "store.h"

namespace tb::reports {

// One JSON object per result: every stored field, samples excluded.
nlohmann::json result_json(const ResultRecord& r);

// The human table of a run's kernel results: problem, backend, status, load cost, median with
// its p10..p90 spread, throughput, and the note (failure or mistrust reason).
void print_results_table(std::ostream& os, const std::vector<ResultRecord>& results);

// Milliseconds with a precision that suits the magnitude, "-" when absent.
std::string format_ms(const std::optional<double>& seconds);

}  // namespace tb::reports

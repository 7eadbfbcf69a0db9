// Reports render from the results store, never from the runner: whatever was measured and
// committed can be shown again, by any later command, in the same format.
//
// `tierbench report` builds one document from the store (build_report: the --json form, schema
// "tierbench.report/1") and renders it as a self-contained HTML page (inline SVG and CSS, no
// scripts, fonts or requests) or as GitHub-flavoured Markdown. Both renderers read only that
// document, so the three formats always show the same numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
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

// --- tierbench report -------------------------------------------------------------------------

struct ReportOptions {
  std::int64_t run_id = 0;                  // the run reported (CURRENT when comparing)
  std::optional<std::int64_t> base_run_id;  // BASE: adds the comparison section
};

// The report of a run from the store: the device (probe summary, ceilings, warnings), a roofline
// per backend and dtype, the model tiers (latency, memory, execution, load costs), the comparison
// with a base run, the shareable profile, and the list of sections left out with the reason.
// An error names an unknown run or an unreadable store.
Result<nlohmann::json> build_report(Store& store, const ReportOptions& options);

std::string render_html(const nlohmann::json& report);
std::string render_markdown(const nlohmann::json& report);

// Four significant digits, "-" for null or non-finite: the one number format of every report
// table, so that a reader (or a test) finds the store's figures in them.
std::string format_number(const nlohmann::json& value);
std::string format_number(double value);

}  // namespace tb::reports

// Renderers for a compare::Comparison: terminal table, GitHub-flavoured Markdown (for PR
// comments and job summaries), JUnit XML (one testcase per benchmark, regressions as <failure>)
// and JSON. Each format is a contract pinned by golden tests in tests/harness/test_compare.cpp.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "compare.h"
#include "switches.h"

namespace tb::compare {

// Aligned plain-text table, one row per benchmark, then a summary line and "result: PASS|FAIL".
std::string format_terminal(const Comparison& c);

// A GFM table with escaped cells, preceded by a one-line verdict.
std::string format_markdown(const Comparison& c);

// JUnit XML: regressions (and too_noisy / missing rows when the comparison fails on them) are
// <failure>, other non-comparable rows <skipped>, the rest pass with the note in <system-out>.
std::string format_junit(const Comparison& c, std::string_view suite = "tierbench.compare");

// Machine-readable form ("schema": "tierbench.compare/1"); NaN becomes null.
nlohmann::json to_json(const Comparison& c);
std::string format_json(const Comparison& c);  // to_json(c).dump(2) + "\n"

// The environment switches two runs set differently (harness/switches.h), one line each
// ("switch differs: ..."; "switches not compared: why" when they cannot be), each led by
// `prefix`; with an empty prefix a blank line follows them. Empty when nothing differs.
std::string switch_lines(const env::SwitchComparison& sw, std::string_view prefix);

// A comparison with its switches, as `tierbench compare --format` writes it: terminal and
// markdown put the switch lines above the table ("> " quotes in Markdown), json adds them as
// "switches"; JUnit has no place for them, so they are returned in `aside` (for stderr).
struct ComparisonDocument {
  std::string text, aside;
};
ComparisonDocument format_with_switches(std::string_view format, const Comparison& c,
                                        const env::SwitchComparison& sw);

// Helpers, exposed for tests and other reporters.
std::string format_value(double v, std::string_view unit);  // "1.235 ms", "512 GFLOP/s", "-"
// XML 1.0 escaping; in attributes also newlines and tabs (which parsers would normalise away).
std::string xml_escape(std::string_view s, bool attribute = true);
std::string markdown_escape(std::string_view s);  // safe inside a table cell

}  // namespace tb::compare

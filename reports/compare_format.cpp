// Renderers for compare results; formats pinned by tests/harness/test_compare.cpp.
#include "compare_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace tb::compare {
namespace {

std::string printf_str(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string fmt_ratio(double r) {
  return std::isfinite(r) ? printf_str("%.3f", r) : "-";
}

std::string fmt_ci(const stats::Interval& ci) {
  if (!std::isfinite(ci.lo) || !std::isfinite(ci.hi)) return "-";
  return "[" + fmt_ratio(ci.lo) + ", " + fmt_ratio(ci.hi) + "]";
}

std::string fmt_p(double p) {
  return std::isfinite(p) ? printf_str("%.2g", p) : "-";
}

std::string fmt_side(const Side& s, const std::string& unit) {
  return s.n > 0 ? format_value(s.median, unit) : "-";
}

constexpr Verdict kAllVerdicts[] = {
    Verdict::regression,      Verdict::improvement,        Verdict::unchanged, Verdict::too_noisy,
    Verdict::missing_in_base, Verdict::missing_in_current, Verdict::invalid};

// "1 regression, 0 improvement, ..." over every verdict, in a fixed order.
std::string counts_line(const Comparison& c) {
  std::string s;
  for (Verdict v : kAllVerdicts) {
    if (!s.empty()) s += ", ";
    s += std::to_string(c.count(v)) + " " + std::string(to_string(v));
  }
  return s;
}

std::string result_word(const Comparison& c) {
  return c.exit_code() == 0 ? "PASS" : "FAIL";
}

nlohmann::json number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json side_json(const Side& s) {
  if (s.n == 0) return nullptr;
  return {{"n", s.n},
          {"median", number(s.median)},
          {"median_ci", {number(s.median_ci.lo), number(s.median_ci.hi)}},
          {"cv", number(s.cv)},
          {"outliers", s.outliers}};
}

}  // namespace

std::string format_value(double v, std::string_view unit) {
  if (!std::isfinite(v)) return "-";
  if (unit == "s") {
    const double a = std::fabs(v);
    if (a >= 1 || a == 0) return printf_str("%.4g", v) + " s";
    if (a >= 1e-3) return printf_str("%.4g", v * 1e3) + " ms";
    if (a >= 1e-6) return printf_str("%.4g", v * 1e6) + " us";
    return printf_str("%.4g", v * 1e9) + " ns";
  }
  std::string s = printf_str("%.4g", v);
  if (!unit.empty()) s += " " + std::string(unit);
  return s;
}

std::string xml_escape(std::string_view s, bool attribute) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\t':
        out += attribute ? "&#9;" : "\t";
        break;
      default:
        // Other C0 controls are not allowed in XML 1.0 at all, escaped or not.
        out += c < 0x20 || c == 0x7f ? '?' : ch;
    }
  }
  return out;
}

std::string markdown_escape(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '\n' || ch == '\r') {
      out += ' ';
      continue;
    }
    if (std::string_view("\\`*_[]<>|#").find(ch) != std::string_view::npos) out += '\\';
    out += ch;
  }
  return out;
}

std::string format_terminal(const Comparison& c) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"benchmark", "base", "current", "ratio", "CI", "p", "verdict", "note"});
  for (const Row& r : c.rows)
    cells.push_back({r.key, fmt_side(r.base, r.unit), fmt_side(r.current, r.unit),
                     fmt_ratio(r.ratio), fmt_ci(r.ratio_ci), fmt_p(r.p_value),
                     std::string(to_string(r.verdict)), r.note});
  std::vector<std::size_t> width(cells[0].size(), 0);
  for (const auto& row : cells)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  // Text columns left-aligned, numbers right-aligned; the last column is not padded.
  constexpr bool kRight[] = {false, true, true, true, false, true, false, false};
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const std::string pad(width[i] - row[i].size(), ' ');
      if (kRight[i]) {
        line += pad + row[i];
      } else {
        line += row[i];
        if (i + 1 < row.size()) line += pad;
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  out += std::to_string(c.rows.size()) + " benchmarks: " + counts_line(c) + "\n";
  out += "result: " + result_word(c) + "\n";
  return out;
}

std::string format_markdown(const Comparison& c) {
  std::string out = "**" + result_word(c) + "**: " + std::to_string(c.rows.size()) +
                    " benchmarks: " + counts_line(c) + "\n\n";
  out += "| benchmark | base | current | ratio | CI | p | verdict | note |\n";
  out += "|:--|--:|--:|--:|:--|--:|:--|:--|\n";
  for (const Row& r : c.rows) {
    std::string verdict(to_string(r.verdict));
    verdict = markdown_escape(verdict);
    if (c.fails(r)) verdict = "**" + verdict + "**";
    out += "| " + markdown_escape(r.key) + " | " + fmt_side(r.base, r.unit) + " | " +
           fmt_side(r.current, r.unit) + " | " + fmt_ratio(r.ratio) + " | " +
           markdown_escape(fmt_ci(r.ratio_ci)) + " | " + fmt_p(r.p_value) + " | " + verdict +
           " | " + markdown_escape(r.note) + " |\n";
  }
  return out;
}

std::string format_junit(const Comparison& c, std::string_view suite) {
  std::int64_t failures = 0, skipped = 0;
  for (const Row& r : c.rows) {
    if (c.fails(r)) {
      ++failures;
    } else if (r.verdict != Verdict::unchanged && r.verdict != Verdict::improvement) {
      ++skipped;
    }
  }
  const std::string name = xml_escape(suite);
  const std::string counts = " tests=\"" + std::to_string(c.rows.size()) + "\" failures=\"" +
                             std::to_string(failures) + "\" errors=\"0\" skipped=\"" +
                             std::to_string(skipped) + "\"";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"" + name + "\"" + counts + ">\n";
  out += "  <testsuite name=\"" + name + "\"" + counts + ">\n";
  for (const Row& r : c.rows) {
    const std::string verdict(to_string(r.verdict));
    // message: the verdict and the numbers; body: the note and both sides.
    const std::string summary = std::isfinite(r.ratio)
                                    ? verdict + ": ratio " + fmt_ratio(r.ratio) + " " +
                                          fmt_ci(r.ratio_ci) + ", p " + fmt_p(r.p_value)
                                    : verdict + ": " + r.note;
    const std::string detail = r.note + "\nbase " + fmt_side(r.base, r.unit) + " (n " +
                               std::to_string(r.base.n) + "), current " +
                               fmt_side(r.current, r.unit) + " (n " + std::to_string(r.current.n) +
                               "), threshold " + printf_str("%g", r.threshold.threshold) +
                               ", alpha " + printf_str("%g", r.threshold.alpha);
    out += "    <testcase classname=\"" + name + "\" name=\"" + xml_escape(r.key) + "\"";
    if (c.fails(r)) {
      out += ">\n      <failure type=\"" + verdict + "\" message=\"" + xml_escape(summary) + "\">" +
             xml_escape(detail, false) + "</failure>\n    </testcase>\n";
    } else if (r.verdict == Verdict::unchanged || r.verdict == Verdict::improvement) {
      out += ">\n      <system-out>" + xml_escape(summary + "\n" + detail, false) +
             "</system-out>\n    </testcase>\n";
    } else {
      out += ">\n      <skipped message=\"" + xml_escape(summary) + "\"/>\n    </testcase>\n";
    }
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

nlohmann::json to_json(const Comparison& c) {
  nlohmann::json counts = nlohmann::json::object();
  for (Verdict v : kAllVerdicts) counts[std::string(to_string(v))] = c.count(v);
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& r : c.rows) {
    rows.push_back({{"key", r.key},
                    {"direction", to_string(r.direction)},
                    {"unit", r.unit},
                    {"verdict", to_string(r.verdict)},
                    {"fails", c.fails(r)},
                    {"note", r.note},
                    {"threshold", r.threshold.threshold},
                    {"alpha", r.threshold.alpha},
                    {"base", side_json(r.base)},
                    {"current", side_json(r.current)},
                    {"ratio", number(r.ratio)},
                    {"ratio_ci", {number(r.ratio_ci.lo), number(r.ratio_ci.hi)}},
                    {"ratio_ci_confidence",
                     r.ratio_ci_confidence > 0 ? number(r.ratio_ci_confidence) : nullptr},
                    {"p_value", number(r.p_value)}});
  }
  return {{"schema", "tierbench.compare/1"},
          {"result", result_word(c)},
          {"exit_code", c.exit_code()},
          {"fail_on_noisy", c.fail_on_noisy},
          {"fail_on_missing", c.fail_on_missing},
          {"counts", counts},
          {"benchmarks", rows}};
}

std::string format_json(const Comparison& c) {
  return to_json(c).dump(2) + "\n";
}

std::string switch_lines(const env::SwitchComparison& sw, std::string_view prefix) {
  std::string out;
  if (!sw.comparable) out += std::string(prefix) + "switches not compared: " + sw.why_not + "\n";
  for (const auto& d : sw.differences)
    out += std::string(prefix) + "switch differs: " + env::describe(d) + "\n";
  if (!out.empty() && prefix.empty()) out += "\n";
  return out;
}

ComparisonDocument format_with_switches(std::string_view format, const Comparison& c,
                                        const env::SwitchComparison& sw) {
  if (format == "terminal") return {switch_lines(sw, "") + format_terminal(c), ""};
  if (format == "markdown") {
    const std::string lines = switch_lines(sw, "> ");
    return {lines.empty() ? format_markdown(c) : lines + "\n" + format_markdown(c), ""};
  }
  if (format == "junit") return {format_junit(c), switch_lines(sw, "tierbench: ")};
  nlohmann::json j = to_json(c);
  j["switches"] = env::to_json(sw);
  return {j.dump(2) + "\n", ""};
}

}  // namespace tb::compare

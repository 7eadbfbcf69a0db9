#include "svg.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "compare_format.h"

namespace tb::reports::svg {

std::string esc(std::string_view s) {
  return compare::xml_escape(s, /*attribute=*/true);
}
std::string px(double v) {
  return fmt::format("{:.1f}", v);
}
std::string exact(double v) {
  return fmt::format("{:.9g}", v);
}

Axis Axis::fit(std::string label, const std::vector<double>& values, bool log) {
  Axis a{std::move(label), 0, 1, log};
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v) && (!log || v > 0)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (log) {
    if (!std::isfinite(lo)) lo = 1, hi = 10;
    a.lo = std::pow(10.0, std::floor(std::log10(lo)));
    a.hi = std::pow(10.0, std::ceil(std::log10(hi)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
    return a;
  }
  if (!std::isfinite(hi) || hi <= 0) hi = 1;
  const double step = std::pow(10.0, std::floor(std::log10(hi / 5)));
  const double nice = hi / step <= 5 ? step : hi / step <= 10 ? 2 * step : 5 * step;
  a.hi = std::ceil(hi / nice) * nice;
  return a;
}

double Axis::frac(double v) const {
  if (log) {
    v = std::max(v, lo * 1e-3);
    return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  }
  return (v - lo) / (hi - lo);
}

std::vector<double> Axis::ticks() const {
  std::vector<double> t;
  if (log) {
    // Decades, or 1-2-5 (1-1.5-2-3-5-7 over less than a decade) when there are too few of them.
    const double span = std::log10(hi / lo);
    const std::vector<double> steps = span > 2.5   ? std::vector<double>{1}
                                      : span > 1.0 ? std::vector<double>{1, 2, 5}
                                                   : std::vector<double>{1, 1.5, 2, 3, 5, 7};
    for (double p = std::pow(10.0, std::floor(std::log10(lo))); p <= hi; p *= 10)
      for (double m : steps)
        if (m * p >= lo * 0.9999 && m * p <= hi * 1.0001) t.push_back(m * p);
    return t;
  }
  const double span = hi - lo, raw = span / 5, p = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / p <= 1 ? p : raw / p <= 2 ? 2 * p : raw / p <= 5 ? 5 * p : 10 * p;
  for (double v = lo; v <= hi + step * 1e-6; v += step) t.push_back(v);
  return t;
}

std::string Axis::tick_label(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

std::vector<std::string> wrap(std::string_view text, std::size_t chars) {
  std::vector<std::string> lines;
  std::string cur;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t sp = text.find(' ', i);
    const std::string_view word = text.substr(i, sp == std::string_view::npos ? sp : sp - i);
    if (!cur.empty() && cur.size() + 1 + word.size() > chars)
      lines.push_back(std::move(cur)), cur.clear();
    cur += (cur.empty() ? "" : " ") + std::string(word);
    if (sp == std::string_view::npos) break;
    i = sp + 1;
  }
  if (!cur.empty() || lines.empty()) lines.push_back(std::move(cur));
  return lines;
}

namespace {
// An axis label wrapped with its unit, "(...)", kept on a line of its own when it fits there.
std::vector<std::string> wrap_label(const std::string& label, std::size_t chars) {
  const auto open = label.find(" (");
  if (label.size() <= chars || open == std::string::npos || label.size() - open - 1 > chars)
    return wrap(label, chars);
  auto lines = wrap(label.substr(0, open), chars);
  lines.push_back(label.substr(open + 1));
  return lines;
}

// Characters per line: bold 14 px titles, 12 px axis labels and legends (about 8 and 6.6 px per
// character in a sans-serif font).
std::size_t chars_in(double px_width, double px_per_char) {
  return static_cast<std::size_t>(std::max(8.0, px_width / px_per_char));
}
}  // namespace

Chart::Chart(Layout layout, std::string id, std::string title, Axis x, Axis y, double plot_height)
    : layout_(layout),
      id_(std::move(id)),
      title_(std::move(title)),
      x_(std::move(x)),
      y_(std::move(y)),
      plot_h_(narrow() ? std::min(plot_height, 260.0) : plot_height) {
  if (narrow()) id_ += "-n", left_ = 52;
  title_lines_ = wrap(title_, chars_in(width() - 20, 8));
  x_label_lines_ = wrap_label(x_.label, chars_in(plot_right() - left_ + 40, 6.6));
  top_ = 16 + 18 * static_cast<double>(title_lines_.size());
}

Chart::Chart(Layout layout, std::string id, std::string title, Axis x,
             std::vector<std::string> rows)
    : Chart(layout, std::move(id), std::move(title), std::move(x), Axis{}) {
  rows_ = std::move(rows);
  std::size_t longest = 0;  // characters of the longest label line ('\n' splits a row label)
  for (const auto& r : rows_) {
    const auto nl = r.find('\n');
    longest =
        std::max(longest, nl == std::string::npos ? r.size() : std::max(nl, r.size() - nl - 1));
  }
  left_ = narrow() ? 10 : std::clamp(14.0 + 7.0 * static_cast<double>(longest), 64.0, 400.0);
  x_label_lines_ = wrap_label(x_.label, chars_in(plot_right() - left_ + 40, 6.6));
  plot_h_ = row_pitch() * static_cast<double>(std::max<std::size_t>(rows_.size(), 1));
}

Chart::Chart(Layout layout, std::string id, std::string title, std::string x_label,
             std::vector<std::string> columns, std::vector<std::string> rows)
    : Chart(layout, std::move(id), std::move(title), Axis{std::move(x_label)}, std::move(rows)) {
  columns_ = std::move(columns);
  grid_ = true;
  top_ += 30;  // the column labels, two lines
  plot_h_ = row_pitch() * static_cast<double>(std::max<std::size_t>(rows_.size(), 1));
}

double Chart::label_band() const {
  return narrow() && !rows_.empty() ? 14 : 0;
}
double Chart::row_pitch() const {
  return kRowHeight + label_band() + (grid_ ? 4 : 0);
}
double Chart::bottom_band() const {
  const double lines = static_cast<double>(x_label_lines_.size());
  return (grid_ ? 26 : 46) + kLineHeight * (lines - 1);
}
double Chart::plot_bottom() const {
  return top_ + plot_h_;
}

double Chart::x(double v) const {
  return left_ + x_.frac(v) * (plot_right() - left_);
}
double Chart::y(double v) const {
  return plot_bottom() - y_.frac(v) * plot_h_;
}
double Chart::row_top(std::size_t i) const {
  return top_ + row_pitch() * static_cast<double>(i) + label_band();
}
double Chart::col_width() const {
  return (plot_right() - left_) / static_cast<double>(std::max<std::size_t>(columns_.size(), 1));
}
double Chart::col_left(std::size_t j) const {
  return left_ + col_width() * static_cast<double>(j);
}

namespace {
struct LegendCell {
  double x, y;
  std::vector<std::string> lines;
};
}  // namespace

// The legend's cells: three columns when the labels are short, fewer when they are long, one in
// the narrow layout; each label wrapped within its column.
static std::vector<LegendCell> legend_cells(const std::vector<LegendItem>& items, double width,
                                            bool narrow, double top, double* height) {
  std::size_t longest = 0;
  for (const auto& it : items) longest = std::max(longest, it.label.size());
  const std::size_t cols = narrow ? 1 : longest <= 34 ? 3 : longest <= 54 ? 2 : 1;
  const double col = (width - 20) / static_cast<double>(cols);
  std::vector<LegendCell> out;
  double y = top, row_h = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i % cols == 0 && i > 0) y += row_h, row_h = 0;
    LegendCell c{10 + col * static_cast<double>(i % cols), y,
                 wrap(items[i].label, chars_in(col - 28, 6.6))};
    row_h = std::max(row_h, 15.0 * static_cast<double>(c.lines.size()) + 5);
    out.push_back(std::move(c));
  }
  *height = items.empty() ? 0 : y + row_h - top;
  return out;
}

std::string Chart::axes() const {
  std::string s;
  if (!grid_)
    for (double t : x_.ticks()) {
      const double xx = x(t);
      s += line(xx, plot_top(), xx, plot_bottom(), "#d9dde3", 1);
      s += text(xx, plot_bottom() + 16, Axis::tick_label(t), R"(text-anchor="middle")");
    }
  if (rows_.empty()) {
    for (double t : y_.ticks()) {
      const double yy = y(t);
      s += line(left_, yy, plot_right(), yy, "#d9dde3", 1);
      s += text(left_ - 6, yy + 4, Axis::tick_label(t), R"(text-anchor="end")");
    }
    s += text(14, (plot_top() + plot_bottom()) / 2, y_.label,
              fmt::format(R"x(text-anchor="middle" transform="rotate(-90 14 {})")x",
                          px((plot_top() + plot_bottom()) / 2)));
  } else {
    const std::size_t fit = chars_in(plot_right() - 10, 6.2);
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      std::string r = rows_[i];
      const auto nl = r.find('\n');
      if (narrow()) {
        if (nl != std::string::npos) r[nl] = ' ';
        s += text(left_, row_top(i) - 4, r.size() > fit ? r.substr(0, fit - 3) + "..." : r,
                  R"(font-size="11")");
      } else if (nl == std::string::npos) {
        s += text(left_ - 6, row_top(i) + kRowHeight / 2 + 4, r, R"(text-anchor="end")");
      } else {
        s += text(left_ - 6, row_top(i) + 11, r.substr(0, nl), R"(text-anchor="end")");
        s += text(left_ - 6, row_top(i) + 23, r.substr(nl + 1), R"(text-anchor="end")");
      }
    }
  }
  for (std::size_t j = 0; j < columns_.size(); ++j) {
    const auto nl = columns_[j].find('\n');
    const double cx = col_left(j) + col_width() / 2;
    const std::string a = narrow() ? R"(text-anchor="middle" font-size="10")"
                                   : R"(text-anchor="middle" font-size="11")";
    s += text(cx, plot_top() - (nl == std::string::npos ? 6 : 19), columns_[j].substr(0, nl), a);
    if (nl != std::string::npos) s += text(cx, plot_top() - 6, columns_[j].substr(nl + 1), a);
  }
  s += line(left_, plot_bottom(), plot_right(), plot_bottom(), "#59606b", 1);
  s += line(left_, plot_top(), left_, plot_bottom(), "#59606b", 1);
  const double first = plot_bottom() + (grid_ ? 18 : 36);
  for (std::size_t k = 0; k < x_label_lines_.size(); ++k)
    s += text((left_ + plot_right()) / 2, first + kLineHeight * static_cast<double>(k),
              x_label_lines_[k], R"(text-anchor="middle")");
  return s;
}

std::string Chart::legend_svg(double top, double* height) const {
  std::string s;
  const auto cells = legend_cells(legend_, width(), narrow(), top, height);
  for (std::size_t i = 0; i < legend_.size(); ++i) {
    const auto& it = legend_[i];
    const double lx = cells[i].x, ly = cells[i].y;
    if (it.shape == LegendItem::line)
      s += line(lx, ly + 6, lx + 18, ly + 6, it.color, 2.5);
    else if (it.shape == LegendItem::dot)
      s += circle(lx + 9, ly + 6, 5, it.color, "");
    else
      s += rect(lx + 2, ly, 14, 12, it.color, "", R"(stroke="#8c959f" stroke-width="0.5")");
    for (std::size_t k = 0; k < cells[i].lines.size(); ++k)
      s += text(lx + 24, ly + 10 + 15 * static_cast<double>(k), cells[i].lines[k]);
  }
  return s;
}

double Chart::height() const {
  double legend_h = 0;
  legend_cells(legend_, width(), narrow(), 0, &legend_h);
  return plot_bottom() + bottom_band() + legend_h + 6;
}

std::string Chart::svg() const {
  const double h = height();
  std::string s =
      fmt::format(R"(<svg class="{4}" viewBox="0 0 {1} {2}" width="{1}" height="{2}" )"
                  R"(role="img" aria-labelledby="{0}-t" font-family="sans-serif" font-size="12" )"
                  R"(fill="#1f2328"><title id="{0}-t">{3}</title>)",
                  esc(id_), px(width()), px(h), esc(title_), narrow() ? "narrow" : "wide");
  s += R"(<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>)";
  for (std::size_t k = 0; k < title_lines_.size(); ++k)
    s += text(10, 20 + 18 * static_cast<double>(k), title_lines_[k],
              R"(font-size="14" font-weight="bold")");
  s += axes();
  s += fmt::format(R"(<g class="data">{}</g>)", body_);
  double legend_h = 0;
  if (!legend_.empty())
    s += "<g class=\"legend\">" + legend_svg(plot_bottom() + bottom_band(), &legend_h) + "</g>";
  return s + "</svg>";
}

std::string figure(std::string_view id, const Chart& wide, const Chart& narrow,
                   std::string_view caption) {
  std::string s = fmt::format(R"(<figure class="chart" id="{}">)", esc(id));
  s += wide.svg() + narrow.svg();
  if (!caption.empty()) s += "<figcaption>" + std::string(caption) + "</figcaption>";
  return s + "</figure>\n";
}

namespace {
std::string tip_of(std::string_view tip) {
  return tip.empty() ? std::string() : "<title>" + esc(tip) + "</title>";
}
std::string sp(std::string_view attrs) {
  return attrs.empty() ? std::string() : " " + std::string(attrs);
}
}  // namespace

std::string circle(double cx, double cy, double r, std::string_view fill, std::string_view tip,
                   std::string_view attrs) {
  const std::string t = tip_of(tip);
  return fmt::format(R"(<circle cx="{}" cy="{}" r="{}" fill="{}"{}{})", px(cx), px(cy), px(r), fill,
                     sp(attrs), t.empty() ? "/>" : ">" + t + "</circle>");
}

std::string rect(double x, double y, double w, double h, std::string_view fill,
                 std::string_view tip, std::string_view attrs) {
  const std::string t = tip_of(tip);
  return fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="{}"{}{})", px(x), px(y),
                     px(std::max(w, 0.0)), px(std::max(h, 0.0)), fill, sp(attrs),
                     t.empty() ? "/>" : ">" + t + "</rect>");
}

std::string line(double x1, double y1, double x2, double y2, std::string_view stroke, double width,
                 std::string_view attrs) {
  return fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="{}"{}/>)",
                     px(x1), px(y1), px(x2), px(y2), stroke, px(width), sp(attrs));
}

std::string text(double x, double y, std::string_view s, std::string_view attrs) {
  return fmt::format(R"(<text x="{}" y="{}"{}>{}</text>)", px(x), px(y), sp(attrs), esc(s));
}

std::string_view color(std::size_t i) {
  static constexpr std::string_view kPalette[] = {"#1f77b4", "#e8710a", "#2ca02c", "#9467bd",
                                                  "#8c564b", "#d62728", "#17becf", "#7f7f7f"};
  return kPalette[i % std::size(kPalette)];
}

}  // namespace tb::reports::svg

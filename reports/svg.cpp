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

Chart::Chart(std::string id, std::string title, Axis x, Axis y, double plot_height)
    : id_(std::move(id)),
      title_(std::move(title)),
      x_(std::move(x)),
      y_(std::move(y)),
      plot_h_(plot_height) {}

Chart::Chart(std::string id, std::string title, Axis x, std::vector<std::string> rows)
    : id_(std::move(id)), title_(std::move(title)), x_(std::move(x)), rows_(std::move(rows)) {
  std::size_t longest = 0;
  for (const auto& r : rows_) longest = std::max(longest, r.size());
  left_ = std::clamp(14.0 + 7.0 * static_cast<double>(longest), 64.0, 400.0);
  plot_h_ = kRowHeight * static_cast<double>(std::max<std::size_t>(rows_.size(), 1));
}

double Chart::x(double v) const {
  return left_ + x_.frac(v) * (plot_right() - left_);
}
double Chart::y(double v) const {
  return plot_bottom() - y_.frac(v) * plot_h_;
}
double Chart::row_top(std::size_t i) const {
  return kTop + kRowHeight * static_cast<double>(i);
}

double Chart::height() const {
  const double legend_rows = legend_.empty() ? 0 : std::ceil(legend_.size() / 3.0);
  return kTop + plot_h_ + kBottom + 20 * legend_rows + 6;
}

std::string Chart::axes() const {
  std::string s;
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
    for (std::size_t i = 0; i < rows_.size(); ++i)
      s += text(left_ - 6, row_top(i) + kRowHeight / 2 + 4, rows_[i], R"(text-anchor="end")");
  }
  s += line(left_, plot_bottom(), plot_right(), plot_bottom(), "#59606b", 1);
  s += line(left_, plot_top(), left_, plot_bottom(), "#59606b", 1);
  s += text((left_ + plot_right()) / 2, plot_bottom() + 36, x_.label, R"(text-anchor="middle")");
  return s;
}

std::string Chart::legend_svg(double top) const {
  std::string s;
  const double col = (kWidth - 20) / 3;
  for (std::size_t i = 0; i < legend_.size(); ++i) {
    const auto& it = legend_[i];
    const double lx = 10 + col * static_cast<double>(i % 3), ly = top + 20 * (i / 3);
    if (it.shape == LegendItem::line)
      s += line(lx, ly + 6, lx + 18, ly + 6, it.color, 2.5);
    else if (it.shape == LegendItem::dot)
      s += circle(lx + 9, ly + 6, 5, it.color, "");
    else
      s += rect(lx + 2, ly, 14, 12, it.color, "");
    s += text(lx + 24, ly + 10, it.label);
  }
  return s;
}

std::string Chart::str(std::string_view caption) const {
  const double h = height();
  std::string s = fmt::format(
      R"(<figure class="chart" id="{0}"><svg viewBox="0 0 {1} {2}" width="{1}" height="{2}" )"
      R"(role="img" aria-labelledby="{0}-t" font-family="sans-serif" font-size="12" )"
      R"(fill="#1f2328"><title id="{0}-t">{3}</title>)",
      esc(id_), px(kWidth), px(h), esc(title_));
  s += R"(<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>)";
  s += text(10, 20, title_, R"(font-size="14" font-weight="bold")");
  s += axes();
  s += fmt::format(R"(<g class="data">{}</g>)", body_);
  if (!legend_.empty()) s += "<g class=\"legend\">" + legend_svg(plot_bottom() + kBottom) + "</g>";
  s += "</svg>";
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

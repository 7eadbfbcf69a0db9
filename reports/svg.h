// Inline SVG charts for the HTML report: numeric axes (linear or log) with ticks, units and grid,
// or one band per named row; a visible title and an SVG <title> for screen readers; a legend.
// No scripts, no external references: what the browser draws is what the file holds.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tb::reports::svg {

std::string esc(std::string_view s);  // XML text and attribute escaping
std::string px(double v);             // a coordinate: "123.4"
std::string exact(double v);          // a value for data- attributes: "%.9g"

struct Axis {
  std::string label;  // names the quantity and its unit: "latency (ms)"
  double lo = 0, hi = 1;
  bool log = false;

  // The range of the values (> 0 on a log axis) padded to whole decades (log) or nice steps
  // from zero (linear).
  static Axis fit(std::string label, const std::vector<double>& values, bool log);
  double frac(double v) const;  // 0 at lo, 1 at hi
  std::vector<double> ticks() const;
  static std::string tick_label(double v);  // 0.01, 1, 10, 1k, 1M
};

struct LegendItem {
  std::string color, label;
  enum Shape { box, dot, line } shape = box;
};

class Chart {
 public:
  static constexpr double kWidth = 760;

  // A chart of two numeric axes.
  Chart(std::string id, std::string title, Axis x, Axis y, double plot_height = 300);
  // A chart with one row per name down the y axis and a numeric x axis.
  Chart(std::string id, std::string title, Axis x, std::vector<std::string> rows);

  double x(double v) const;  // data -> viewBox coordinates
  double y(double v) const;
  double row_top(std::size_t i) const;
  double row_height() const { return kRowHeight; }
  double plot_left() const { return left_; }
  double plot_right() const { return kWidth - kRight; }
  double plot_top() const { return kTop; }
  double plot_bottom() const { return kTop + plot_h_; }

  void add(std::string element) { body_ += element; }
  void legend(std::vector<LegendItem> items) { legend_ = std::move(items); }
  // <figure><svg ...>...</svg><figcaption>caption</figcaption></figure>
  std::string str(std::string_view caption = {}) const;

 private:
  static constexpr double kTop = 34, kRight = 18, kBottom = 46, kRowHeight = 26;
  std::string axes() const;
  std::string legend_svg(double top) const;
  double height() const;

  std::string id_, title_;
  Axis x_, y_;
  std::vector<std::string> rows_;
  double left_ = 64, plot_h_ = 300;
  std::vector<LegendItem> legend_;
  std::string body_;
};

// Elements, with an SVG <title> (the hover text) when `tip` is not empty.
std::string circle(double cx, double cy, double r, std::string_view fill, std::string_view tip,
                   std::string_view attrs = {});
std::string rect(double x, double y, double w, double h, std::string_view fill,
                 std::string_view tip, std::string_view attrs = {});
std::string line(double x1, double y1, double x2, double y2, std::string_view stroke,
                 double width = 1.5, std::string_view attrs = {});
std::string text(double x, double y, std::string_view s, std::string_view attrs = {});

// A fixed palette, distinguishable in colour and in grey.
std::string_view color(std::size_t i);

}  // namespace tb::reports::svg

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

// Every chart is drawn twice, for two page widths: `wide` (a 760-unit viewBox, from about 700 px
// up) and `narrow` (380 units, for phones: row labels above their bars, one legend column, long
// titles and axis labels wrapped), so that its text stays legible at either size. The page shows
// one of the two by a CSS media query; both scale with the page (viewBox, width 100%).
enum class Layout { wide, narrow };

// Splits text into lines of at most `chars` characters at spaces (a longer word gets a line).
std::vector<std::string> wrap(std::string_view text, std::size_t chars);

class Chart {
 public:
  // A chart of two numeric axes.
  Chart(Layout layout, std::string id, std::string title, Axis x, Axis y, double plot_height = 300);
  // A chart with one row per name down the y axis and a numeric x axis (a '\n' in a name splits
  // it over two lines in the wide layout).
  Chart(Layout layout, std::string id, std::string title, Axis x, std::vector<std::string> rows);
  // A heat grid: one row per name, one column per name (a label of one or two lines, split at
  // '\n'), the whole described by `x_label` under the grid.
  Chart(Layout layout, std::string id, std::string title, std::string x_label,
        std::vector<std::string> columns, std::vector<std::string> rows);

  Layout layout() const { return layout_; }
  const std::string& id() const { return id_; }  // of the <svg>: "-n" added in the narrow one
  bool narrow() const { return layout_ == Layout::narrow; }
  double width() const { return narrow() ? 380 : 760; }
  double x(double v) const;  // data -> viewBox coordinates
  double y(double v) const;
  // Rows: the band of row i's marks (in the narrow layout its label sits above the band).
  double row_top(std::size_t i) const;
  double row_height() const { return kRowHeight; }
  // Grid columns.
  double col_left(std::size_t j) const;
  double col_width() const;
  double plot_left() const { return left_; }
  double plot_right() const { return width() - kRight; }
  double plot_top() const { return top_; }
  double plot_bottom() const;

  void add(std::string element) { body_ += element; }
  void legend(std::vector<LegendItem> items) { legend_ = std::move(items); }
  // <svg class="wide|narrow" viewBox=...>...</svg>
  std::string svg() const;

 private:
  static constexpr double kRight = 18, kRowHeight = 26, kLineHeight = 15;
  double row_pitch() const;
  double label_band() const;  // above each row's marks, narrow rows and grids
  double bottom_band() const;
  std::string axes() const;
  std::string legend_svg(double top, double* height) const;
  double height() const;

  Layout layout_;
  std::string id_;
  std::vector<std::string> title_lines_, x_label_lines_;
  std::string title_;
  Axis x_, y_;
  std::vector<std::string> rows_, columns_;
  bool grid_ = false;
  double left_ = 64, top_ = 34, plot_h_ = 300;
  std::vector<LegendItem> legend_;
  std::string body_;
};

// <figure class="chart" id="{id}">: the wide and the narrow drawing of one chart, and its caption
// (HTML, already escaped).
std::string figure(std::string_view id, const Chart& wide, const Chart& narrow,
                   std::string_view caption = {});

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

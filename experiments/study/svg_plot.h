#pragma once
// A small SVG plot writer for the study's report: line and point series over a linear or
// logarithmic x axis, optional vertical 95% interval bars, ticks with readable numbers (27k,
// 0.05, 1e-4), axis labels, a legend under the plot and a title. The result is one inline
// <svg> element: no script, no external font or file, so it can be pasted into HTML as it is.
//
//   Plot plot{.title = "Test accuracy", .x_label = "nonzero parameters", .y_label = "accuracy"};
//   plot.log_x = true;
//   plot.series.push_back({.name = "test", .x = {27e3, 270e3}, .y = {0.90, 0.92}});
//   std::string svg = render_svg(plot);
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace oa::study {

enum class Marker { circle, square };

// One series: the points (x[i], y[i]), each with an optional interval bar [low[i], high[i]].
// A point with a NaN y (or, on a log axis, an x <= 0) is left out and breaks the line there.
struct Series {
  std::string name;  // shown in the legend; an empty name is left out of it
  std::vector<double> x, y;
  std::vector<double> low, high;  // empty, or as long as y (NaN: no bar at that point)
  std::string color = "#1f77b4";
  bool line = true;  // join consecutive points
  bool dashed = false;
  Marker marker = Marker::circle;
  double dodge_px = 0;  // horizontal shift of the whole series, so that bars at the same x stay apart
};

struct Plot {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_x = false;
  // The ends of the y range; NaN: from the data (interval bars included), widened to a round tick.
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
  int width = 520;
  int height = 330;  // without the legend, which adds its rows below
};

// The plot as one <svg> element.
std::string render_svg(const Plot& plot);

// Text made safe for XML/HTML content and attribute values (& < > " ').
std::string escape_xml(std::string_view text);

// Round tick positions covering [low, high]: steps of 1, 2 or 5 times a power of ten on a linear
// axis (the first and last tick enclose the range); on a log axis, the powers of ten inside the
// range, with 2x and 5x (or every integer multiple) added when that gives too few ticks.
std::vector<double> axis_ticks(double low, double high, bool log_scale);

// A tick's text: at most three significant digits, thousands as k and millions as M (27k,
// 1.5M), small numbers plainly down to 0.0001 and in exponent form below (1e-5).
std::string tick_label(double value);

}  // namespace oa::study

// The SVG plot writer of the report (experiments/study/svg_plot.h).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "experiments/study/svg_plot.h"

using namespace oa::study;

namespace {
int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
const double kNaN = std::nan("");

Series series(std::string name, std::vector<double> x, std::vector<double> y) {
  Series s;
  s.name = std::move(name);
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}
}  // namespace

TEST_CASE("tick labels: three digits, k and M, small numbers readable") {
  CHECK(tick_label(0) == "0");
  CHECK(tick_label(27000) == "27k");
  CHECK(tick_label(1500000) == "1.5M");
  CHECK(tick_label(100000) == "100k");
  CHECK(tick_label(0.05) == "0.05");
  CHECK(tick_label(0.25) == "0.25");
  CHECK(tick_label(1e-5) == "1e-5");
  CHECK(tick_label(-2) == "-2");
}

TEST_CASE("axis ticks: 1-2-5 steps enclosing the range, decades on a log axis") {
  const auto linear = axis_ticks(0.13, 0.87, false);
  REQUIRE(linear.size() >= 3);
  CHECK(linear.front() <= 0.13);
  CHECK(linear.back() >= 0.87);
  CHECK(linear[1] - linear[0] == doctest::Approx(0.1));
  CHECK(axis_ticks(0, 1, false) == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0});

  // Four decades: the powers of ten alone.
  CHECK(axis_ticks(5, 200000, true) == std::vector<double>{10, 100, 1000, 10000, 100000});
  // One decade: 2x and 5x are added.
  const auto log_ticks = axis_ticks(15000, 300000, true);
  CHECK(log_ticks == std::vector<double>{20000, 50000, 100000, 200000});
  // Less than a decade: the integer multiples.
  CHECK(axis_ticks(25000, 70000, true) == std::vector<double>{30000, 40000, 50000, 60000, 70000});
}

TEST_CASE("a series is one polyline with a marker per point, and its legend entry") {
  Plot plot;
  plot.title = "accuracy";
  plot.series.push_back(series("test", {1, 2, 3, 4, 5}, {0.5, 0.6, 0.7, 0.65, 0.8}));
  const std::string svg = render_svg(plot);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(count(svg, "</svg>") == 1);
  CHECK(count(svg, "<polyline") == 1);
  CHECK(count(svg, "<circle") == 5 + 1);  // the points and the legend's marker
  CHECK(svg.find(">test</text>") != std::string::npos);
  CHECK(svg.find("<script") == std::string::npos);
  for (const char* bad : {"\"nan", ",nan", " nan", ">nan", "inf"}) CHECK(svg.find(bad) == std::string::npos);

  // Without a name there is no legend entry.
  plot.series[0].name = "";
  CHECK(count(render_svg(plot), "<circle") == 5);
}

TEST_CASE("a NaN point breaks the line; a log axis leaves out x <= 0") {
  Plot plot;
  plot.series.push_back(series("", {1, 2, 3, 4, 5}, {1, 2, kNaN, 4, 5}));
  std::string svg = render_svg(plot);
  CHECK(count(svg, "<polyline") == 2);
  CHECK(count(svg, "<circle") == 4);

  plot.log_x = true;
  plot.series[0].x = {0, 10, 100, 1000, 10000};
  plot.series[0].y = {1, 2, 3, 4, 5};
  svg = render_svg(plot);
  CHECK(count(svg, "<circle") == 4);
  CHECK(svg.find("(log scale)") != std::string::npos);
  CHECK(svg.find(">1k</text>") != std::string::npos);
}

TEST_CASE("interval bars, square markers, unjoined points") {
  Plot plot;
  Series s = series("mean", {1, 2, 3}, {1, 2, 3});
  s.low = {0.5, kNaN, 2.5};
  s.high = {1.5, kNaN, 3.5};
  s.marker = Marker::square;
  s.line = false;
  plot.series.push_back(s);
  const std::string svg = render_svg(plot);
  CHECK(count(svg, "<polyline") == 0);
  CHECK(count(svg, "<rect") == 3 + 1);
  CHECK(count(svg, "<path") == 1 + 2);  // the axes, and a bar for each point with an interval
  CHECK(svg.find("[0.5, 1.5]") != std::string::npos);  // the tooltip of the first point
}

TEST_CASE("text is escaped") {
  Plot plot;
  plot.title = "L2 <mean> & \"median\"";
  plot.x_label = "x<y";
  plot.y_label = "a&b";
  plot.series.push_back(series("it's <b>", {1, 2}, {1, 2}));
  const std::string svg = render_svg(plot);
  CHECK(svg.find("L2 &lt;mean&gt; &amp; &quot;median&quot;") != std::string::npos);
  CHECK(svg.find("x&lt;y") != std::string::npos);
  CHECK(svg.find("a&amp;b") != std::string::npos);
  CHECK(svg.find("it&#39;s &lt;b&gt;") != std::string::npos);
  CHECK(svg.find("<b>") == std::string::npos);
  CHECK(escape_xml("a<&>\"'b") == "a&lt;&amp;&gt;&quot;&#39;b");
}

TEST_CASE("a fixed y range clamps bars; an empty plot says so") {
  Plot plot;
  plot.y_min = 0;
  plot.y_max = 1;
  plot.series.push_back(series("", {1, 2}, {0.5, 0.9}));
  plot.series[0].low = {0.4, 0.8};
  plot.series[0].high = {0.6, 1.3};
  const std::string svg = render_svg(plot);
  const std::string y_tick = R"(text-anchor="end" dominant-baseline="middle" fill="#555">)";
  CHECK(svg.find(y_tick + "1</text>") != std::string::npos);
  CHECK(svg.find(y_tick + "1.2</text>") == std::string::npos);  // the range stays [0, 1]

  Plot empty;
  empty.series.push_back(series("nothing", {1}, {kNaN}));
  const std::string none = render_svg(empty);
  CHECK(none.find("no data") != std::string::npos);
  CHECK(count(none, "<polyline") == 0);
}

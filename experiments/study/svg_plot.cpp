#include "experiments/study/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "experiments/study/format.h"

namespace oa::study {

namespace {

// The page layout of a plot, in pixels: the data area is inside the margins.
constexpr double kLeft = 64, kRight = 18, kTop = 34, kBottom = 46;
constexpr double kLegendRow = 20;
constexpr const char* kFont = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

bool drawable(const Plot& plot, const Series& s, std::size_t i) {
  return i < s.x.size() && std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!plot.log_x || s.x[i] > 0);
}

bool has_bar(const Series& s, std::size_t i) {
  return i < s.low.size() && i < s.high.size() && std::isfinite(s.low[i]) && std::isfinite(s.high[i]);
}

// A number in SVG coordinates: two decimals are finer than a pixel.
std::string px(double v) { return fmt::format("{:.2f}", v); }

// One axis: the data range [low, high] mapped onto the pixels [from, to].
struct Axis {
  double low = 0, high = 1;
  bool log_scale = false;
  double from = 0, to = 1;
  double operator()(double v) const {
    const double t = log_scale ? (std::log10(v) - std::log10(low)) / (std::log10(high) - std::log10(low))
                               : (v - low) / (high - low);
    return from + t * (to - from);
  }
};

// The smallest and largest finite values of the chosen member over the drawable points.
struct Range {
  double low = INFINITY, high = -INFINITY;
  void add(double v) {
    if (!std::isfinite(v)) return;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  bool empty() const { return low > high; }
};

// Legend entries are laid out left to right and wrap; each item's width is estimated from its
// text (about 6.6 px per character at 12 px).
struct LegendItem {
  const Series* series;
  double x, y;
};
std::vector<LegendItem> layout_legend(const Plot& plot, double top, int& rows) {
  std::vector<LegendItem> items;
  double x = kLeft, y = top;
  rows = 0;
  for (const auto& s : plot.series) {
    if (s.name.empty()) continue;
    const double width = 30 + 6.6 * static_cast<double>(s.name.size()) + 18;
    if (rows == 0) rows = 1;
    if (x + width > plot.width - kRight && x > kLeft) {
      x = kLeft;
      y += kLegendRow;
      ++rows;
    }
    items.push_back({&s, x, y});
    x += width;
  }
  return items;
}

std::string marker_svg(const Series& s, double x, double y, const std::string& tooltip) {
  const std::string title = tooltip.empty() ? "" : "<title>" + escape_xml(tooltip) + "</title>";
  if (s.marker == Marker::square)
    return fmt::format(R"(<rect x="{}" y="{}" width="8" height="8" fill="{}" stroke="#fff" stroke-width="0.8">{}</rect>)",
                       px(x - 4), px(y - 4), s.color, title);
  return fmt::format(R"(<circle cx="{}" cy="{}" r="3.4" fill="{}" stroke="#fff" stroke-width="0.8">{}</circle>)", px(x),
                     px(y), s.color, title);
}

std::string line_style(const Series& s) {
  return fmt::format(R"(fill="none" stroke="{}" stroke-width="1.8"{})", s.color,
                     s.dashed ? R"( stroke-dasharray="6 4")" : "");
}

}  // namespace

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string tick_label(double value) {
  const double magnitude = std::abs(value);
  if (magnitude >= 1e6) return number(value / 1e6) + "M";
  if (magnitude >= 1e3) return number(value / 1e3) + "k";
  return number(value);
}

std::vector<double> axis_ticks(double low, double high, bool log_scale) {
  std::vector<double> ticks;
  if (!(high > low)) return {low};
  if (log_scale && low > 0) {
    // Powers of ten alone, then with 2x and 5x, then every integer multiple: the first set that
    // puts at least three ticks inside [low, high].
    const int first = static_cast<int>(std::floor(std::log10(low)));
    const int last = static_cast<int>(std::ceil(std::log10(high)));
    for (const std::vector<double>& multiples :
         {std::vector<double>{1}, std::vector<double>{1, 2, 5}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
      ticks.clear();
      for (int k = first; k <= last; ++k)
        for (double m : multiples) {
          const double v = m * std::pow(10.0, k);
          if (v >= low * (1 - 1e-9) && v <= high * (1 + 1e-9)) ticks.push_back(v);
        }
      if (ticks.size() >= 3) return ticks;
    }
    // Less than a tenth of a decade: linear ticks inside the range.
    std::vector<double> inside;
    for (double v : axis_ticks(low, high, false))
      if (v >= low && v <= high) inside.push_back(v);
    return inside.empty() ? ticks : inside;
  }
  // About five steps of 1, 2 or 5 times a power of ten; the ticks enclose [low, high]. A tick is
  // k * multiple * 10^e, divided by 10^-e when e < 0, so that 3 steps of 0.2 print as 0.6.
  const double raw = (high - low) / 5;
  const int e = static_cast<int>(std::floor(std::log10(raw)));
  const double scaled = raw / std::pow(10.0, e);
  const double multiple = scaled < 1.5 ? 1 : scaled < 3.5 ? 2 : scaled < 7.5 ? 5 : 10;
  const auto tick = [&](double k) { return e >= 0 ? k * multiple * std::pow(10.0, e) : k * multiple / std::pow(10.0, -e); };
  const double step = tick(1);
  const double first = std::floor(low / step + 1e-9), last = std::ceil(high / step - 1e-9);
  for (double k = first; k <= last; ++k) ticks.push_back(k == 0 ? 0.0 : tick(k));
  return ticks;
}

std::string render_svg(const Plot& plot) {
  // The data ranges over the points that can be drawn (the bars count for y).
  Range xs, ys;
  for (const auto& s : plot.series)
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (!drawable(plot, s, i)) continue;
      xs.add(s.x[i]);
      ys.add(s.y[i]);
      if (has_bar(s, i)) {
        ys.add(s.low[i]);
        ys.add(s.high[i]);
      }
    }
  const bool no_data = xs.empty();
  if (no_data) {  // an empty frame with a note
    xs = {plot.log_x ? 1.0 : 0.0, plot.log_x ? 10.0 : 1.0};
    ys = {0, 1};
  }

  Axis x_axis{.log_scale = plot.log_x, .from = kLeft, .to = plot.width - kRight};
  std::vector<double> x_ticks;
  if (plot.log_x) {
    // A margin of 6% of the log range (at least 12% of the value) on each side.
    const double factor = std::max(1.12, std::pow(xs.high / xs.low, 0.06));
    x_axis.low = xs.low / factor;
    x_axis.high = xs.high * factor;
    x_ticks = axis_ticks(x_axis.low, x_axis.high, true);
  } else {
    if (xs.low == xs.high) xs = {xs.low - 1, xs.high + 1};
    x_ticks = axis_ticks(xs.low, xs.high, false);
    x_axis.low = x_ticks.front();
    x_axis.high = x_ticks.back();
  }

  // The y range: a given end stays put; an end from the data gets 4% of air, so that no point
  // sits on the frame, and is widened to the next round tick.
  Axis y_axis{.from = plot.height - kBottom, .to = kTop};
  const bool fixed_low = std::isfinite(plot.y_min), fixed_high = std::isfinite(plot.y_max);
  const double pad = ys.low == ys.high ? (ys.low == 0 ? 1 : std::abs(ys.low) * 0.1) : 0.04 * (ys.high - ys.low);
  ys.low = fixed_low ? plot.y_min : ys.low - pad;
  ys.high = fixed_high ? plot.y_max : ys.high + pad;
  if (!(ys.high > ys.low)) ys.high = ys.low + 1;
  const auto round_ticks = axis_ticks(ys.low, ys.high, false);
  y_axis.low = fixed_low ? ys.low : round_ticks.front();
  y_axis.high = fixed_high ? ys.high : round_ticks.back();
  std::vector<double> y_ticks;
  for (double v : round_ticks)
    if (v >= y_axis.low - 1e-12 && v <= y_axis.high + 1e-12) y_ticks.push_back(v);
  const auto clamp_y = [&](double v) { return std::clamp(v, y_axis.low, y_axis.high); };

  int legend_rows = 0;
  const auto legend = layout_legend(plot, plot.height + 4, legend_rows);
  const double total_height = plot.height + legend_rows * kLegendRow + (legend_rows ? 8 : 0);

  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{w}" height="{h}" viewBox="0 0 {w} {h}" )"
      R"(font-family="{font}" font-size="12" role="img" aria-label="{title}">)"
      "\n",
      fmt::arg("w", plot.width), fmt::arg("h", px(total_height)), fmt::arg("font", kFont),
      fmt::arg("title", escape_xml(plot.title)));
  svg += fmt::format(R"(<text x="{}" y="20" font-size="13" font-weight="600" fill="#222">{}</text>)"
                     "\n",
                     kLeft, escape_xml(plot.title));

  // Grid lines and tick labels.
  for (double v : y_ticks) {
    const double y = y_axis(v);
    svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#e8e8e8"/>)", kLeft, px(plot.width - kRight),
                       px(y), px(y));
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle" fill="#555">{}</text>)"
                       "\n",
                       kLeft - 6, px(y), tick_label(v));
  }
  // An x tick whose label would touch the previous one is left out (log axes crowd at the top of a decade).
  double last_label_end = -INFINITY;
  for (double v : x_ticks) {
    const double x = x_axis(v);
    const std::string label = tick_label(v);
    const double half_width = 3.4 * static_cast<double>(label.size());
    if (x - half_width < last_label_end + 8) continue;
    last_label_end = x + half_width;
    svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#f0f0f0"/>)", px(x), px(x), kTop,
                       px(plot.height - kBottom));
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" fill="#555">{}</text>)"
                       "\n",
                       px(x), px(plot.height - kBottom + 16), label);
  }
  // The axes and their labels.
  svg += fmt::format(R"(<path d="M{l} {t} V{b} H{r}" fill="none" stroke="#444"/>)"
                     "\n",
                     fmt::arg("l", kLeft), fmt::arg("t", kTop), fmt::arg("b", px(plot.height - kBottom)),
                     fmt::arg("r", px(plot.width - kRight)));
  svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" fill="#222">{}{}</text>)"
                     "\n",
                     px((kLeft + plot.width - kRight) / 2), px(plot.height - 8), escape_xml(plot.x_label),
                     plot.log_x ? " (log scale)" : "");
  svg += fmt::format(R"svg(<text transform="translate(16 {}) rotate(-90)" text-anchor="middle" fill="#222">{}</text>)svg"
                     "\n",
                     px((kTop + plot.height - kBottom) / 2), escape_xml(plot.y_label));
  if (no_data)
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" fill="#888">no data</text>)"
                       "\n",
                       px((kLeft + plot.width - kRight) / 2), px((kTop + plot.height - kBottom) / 2));

  // The series: lines first (one polyline per unbroken run of points), then bars, then markers on top.
  for (const auto& s : plot.series) {
    const auto point_x = [&](std::size_t i) { return x_axis(s.x[i]) + s.dodge_px; };
    if (s.line) {
      std::string points;
      std::size_t run = 0;
      const auto flush = [&] {
        if (run >= 2) svg += fmt::format(R"(<polyline {} points="{}"/>)"
                                         "\n",
                                         line_style(s), points);
        points.clear();
        run = 0;
      };
      for (std::size_t i = 0; i < s.y.size(); ++i) {
        if (!drawable(plot, s, i)) {
          flush();
          continue;
        }
        points += fmt::format("{}{},{}", run ? " " : "", px(point_x(i)), px(y_axis(clamp_y(s.y[i]))));
        ++run;
      }
      flush();
    }
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (!drawable(plot, s, i) || !has_bar(s, i)) continue;
      const double x = point_x(i), top = y_axis(clamp_y(s.high[i])), bottom = y_axis(clamp_y(s.low[i]));
      svg += fmt::format(R"(<path d="M{x} {t} V{b} M{l} {t} H{r} M{l} {b} H{r}" stroke="{c}" stroke-width="1.2"/>)"
                         "\n",
                         fmt::arg("x", px(x)), fmt::arg("t", px(top)), fmt::arg("b", px(bottom)),
                         fmt::arg("l", px(x - 3)), fmt::arg("r", px(x + 3)), fmt::arg("c", s.color));
    }
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (!drawable(plot, s, i)) continue;
      std::string tooltip = fmt::format("{}: x = {}, y = {:.4g}", s.name, tick_label(s.x[i]), s.y[i]);
      if (has_bar(s, i)) tooltip += fmt::format(" [{:.4g}, {:.4g}]", s.low[i], s.high[i]);
      svg += marker_svg(s, point_x(i), y_axis(clamp_y(s.y[i])), tooltip) + "\n";
    }
  }

  // The legend: a short line (for joined series) with the marker, then the name.
  for (const auto& item : legend) {
    const Series& s = *item.series;
    const double y = item.y + kLegendRow / 2;
    if (s.line)
      svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" {}/>)", px(item.x), px(item.x + 24), px(y), px(y),
                         line_style(s));
    svg += marker_svg(s, item.x + 12, y, "");
    svg += fmt::format(R"(<text x="{}" y="{}" dominant-baseline="middle" fill="#333">{}</text>)"
                       "\n",
                       px(item.x + 30), px(y), escape_xml(s.name));
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace oa::study

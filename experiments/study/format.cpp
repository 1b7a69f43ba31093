#include "experiments/study/format.h"

#include <fmt/format.h>

#include <cmath>

namespace oa::study {

std::string number(double value, int significant) {
  if (!std::isfinite(value)) return "–";
  std::string text = fmt::format("{:.{}g}", value, significant);
  // 1.2e-05 -> 1.2e-5, 3e+06 -> 3e6: the exponent without its sign padding.
  const auto e = text.find('e');
  if (e != std::string::npos) {
    std::string exponent = text.substr(e + 1);
    const bool negative = exponent[0] == '-';
    exponent.erase(0, exponent.find_first_not_of("+-0"));
    text = text.substr(0, e + 1) + (negative ? "-" : "") + (exponent.empty() ? "0" : exponent);
  }
  return text;
}

std::string interval(double low, double high, int significant) {
  return fmt::format("[{}, {}]", number(low, significant), number(high, significant));
}

std::string percent(double fraction) {
  if (!std::isfinite(fraction)) return "–";
  return fmt::format("{:.1f}%", 100 * fraction);
}

}  // namespace oa::study

#pragma once
// Numbers as the report and the verdicts print them: a few significant digits, NaN as a dash.
#include <string>

namespace oa::study {

// value with `significant` digits: 0.0123, 27100, 1.2e-5; NaN or infinity: "–".
std::string number(double value, int significant = 3);
// A 95% interval: "[0.01, 0.02]".
std::string interval(double low, double high, int significant = 3);
// A fraction as a percentage with one decimal: 0.923 -> "92.3%".
std::string percent(double fraction);

}  // namespace oa::study

#include "experiments/common/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "framework/core/error.h"

namespace oa::experiments {

namespace {
double median_of(std::vector<double> v) {
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  if (v.size() % 2) return v[mid];
  return (v[mid] + *std::max_element(v.begin(), v.begin() + mid)) / 2;
}

// The 2.5% and 97.5% percentiles of bootstrap replicates (sorted here) around `estimate`.
Interval percentile_interval(double estimate, std::vector<double> replicates) {
  std::sort(replicates.begin(), replicates.end());
  const double last = static_cast<double>(replicates.size() - 1);
  return {estimate, replicates[static_cast<std::size_t>(0.025 * last)],
          replicates[static_cast<std::size_t>(0.975 * last)]};
}

// A bootstrap resample of `values` (as many draws, with replacement) into `out`.
void resample(const std::vector<double>& values, std::mt19937_64& rng, std::vector<double>& out) {
  std::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
  out.resize(values.size());
  for (auto& v : out) v = values[pick(rng)];
}

// The bootstrap interval of statistic(x, y), with x and y resampled separately.
template <class Statistic>
Interval two_sample_bootstrap(const std::vector<double>& x, const std::vector<double>& y, std::int64_t resamples,
                              std::uint64_t seed, Statistic statistic) {
  OA_CHECK(!x.empty() && !y.empty(), "two-sample bootstrap: empty sample (sizes {} and {})", x.size(), y.size());
  OA_CHECK(resamples > 0, "two-sample bootstrap: resamples must be positive, got {}", resamples);
  std::mt19937_64 rng(seed);
  std::vector<double> xs, ys, replicates(static_cast<std::size_t>(resamples));
  for (auto& r : replicates) {
    resample(x, rng, xs);
    resample(y, rng, ys);
    r = statistic(xs, ys);
  }
  return percentile_interval(statistic(x, y), std::move(replicates));
}

// Hodges-Lehmann shift: the median of the |x| |y| differences x_i - y_j.
double hodges_lehmann(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> differences;
  differences.reserve(x.size() * y.size());
  for (double a : x)
    for (double b : y) differences.push_back(a - b);
  return median_of(std::move(differences));
}

double normal_two_sided_p(double z) { return std::erfc(std::abs(z) / std::sqrt(2.0)); }

// log of the binomial coefficient C(n, k).
double log_choose(std::int64_t n, std::int64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

// Two-sided p-value of Student's t statistic: P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
double t_two_sided_p(double t, double df) { return regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t)); }

// The sizes of the groups of equal values (only groups of two or more).
std::vector<double> tie_group_sizes(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::vector<double> sizes;
  for (std::size_t start = 0, end = 0; start < values.size(); start = end) {
    while (end < values.size() && values[end] == values[start]) ++end;
    if (end - start > 1) sizes.push_back(static_cast<double>(end - start));
  }
  return sizes;
}

// P(U >= u) for the Mann-Whitney U of samples of sizes m and n without ties. The number of
// rank arrangements with U = k is the coefficient of q^k in the Gaussian binomial
// [m + n choose m]_q = prod_{i=1..m} (1 - q^{n+i}) / (1 - q^i); each factor is applied in turn
// (multiply by 1 - q^{n+i}, divide by 1 - q^i as a running sum with stride i) and the
// coefficients rescaled by i / (n + i), so that they stay probabilities.
double mann_whitney_exact_sf(std::int64_t u, std::int64_t m, std::int64_t n) {
  const std::int64_t top = m * n;
  std::vector<double> p(static_cast<std::size_t>(top + 1), 0.0);
  p[0] = 1.0;
  for (std::int64_t i = 1; i <= m; ++i) {
    for (std::int64_t k = top; k >= n + i; --k) p[k] -= p[k - n - i];
    for (std::int64_t k = i; k <= top; ++k) p[k] += p[k - i];
    for (auto& v : p) v *= static_cast<double>(i) / static_cast<double>(n + i);
  }
  double tail = 0;
  for (std::int64_t k = std::max<std::int64_t>(u, 0); k <= top; ++k) tail += p[k];
  return tail;
}

// P(D <= c) for the number D of discordant pairs (inversions) of a uniformly random order of n
// values: its generating function is prod_{j=1..n} (1 + q + ... + q^{j-1}) / j.
double kendall_exact_cdf(std::int64_t c, std::int64_t n) {
  const std::int64_t top = n * (n - 1) / 2;
  std::vector<double> p(static_cast<std::size_t>(top + 1), 0.0);
  p[0] = 1.0;
  for (std::int64_t j = 2; j <= n; ++j) {
    // Multiply by (1 + q + ... + q^{j-1}) / j: a running window sum of width j.
    std::vector<double> next(p.size(), 0.0);
    double window = 0;
    for (std::int64_t k = 0; k <= top; ++k) {
      window += p[k];
      if (k >= j) window -= p[k - j];
      next[k] = window / static_cast<double>(j);
    }
    p = std::move(next);
  }
  double total = 0;
  for (std::int64_t k = 0; k <= c; ++k) total += p[k];
  return total;
}
}  // namespace

Summary summarize(const std::vector<double>& values, std::int64_t resamples, std::uint64_t seed) {
  Summary s;
  s.count = static_cast<std::int64_t>(values.size());
  if (values.empty()) return s;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  s.median = median_of(values);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
  std::vector<double> means(static_cast<std::size_t>(resamples)), medians(means.size()), resample(values.size());
  for (std::size_t r = 0; r < means.size(); ++r) {
    double total = 0;
    for (auto& v : resample) {
      v = values[pick(rng)];
      total += v;
    }
    means[r] = total / static_cast<double>(values.size());
    medians[r] = median_of(resample);
  }
  const Interval mean_interval = percentile_interval(s.mean, std::move(means));
  s.mean_ci_low = mean_interval.low;
  s.mean_ci_high = mean_interval.high;
  const Interval median_interval = percentile_interval(s.median, std::move(medians));
  s.median_ci_low = median_interval.low;
  s.median_ci_high = median_interval.high;
  return s;
}

Interval wilson_interval(std::int64_t successes, std::int64_t trials) {
  OA_CHECK(successes >= 0 && successes <= trials, "wilson_interval: {} successes out of {} trials", successes, trials);
  if (trials == 0) return {0.0, 0.0, 1.0};
  const double z = 1.959963984540054, n = static_cast<double>(trials), p = static_cast<double>(successes) / n;
  const double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
  return {p, std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

FisherResult fisher_exact(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) {
  OA_CHECK(a >= 0 && b >= 0 && c >= 0 && d >= 0, "fisher_exact: negative count in the table [[{}, {}], [{}, {}]]", a,
           b, c, d);
  FisherResult result;
  const double ad = static_cast<double>(a) * static_cast<double>(d);
  const double bc = static_cast<double>(b) * static_cast<double>(c);
  result.odds_ratio = bc > 0 ? ad / bc : (ad > 0 ? std::numeric_limits<double>::infinity()
                                                 : std::numeric_limits<double>::quiet_NaN());
  const std::int64_t row1 = a + b, row2 = c + d, column1 = a + c, total = row1 + row2;
  if (row1 == 0 || row2 == 0 || column1 == 0 || column1 == total) return result;
  // log P(first cell = k) = log [C(row1, k) C(row2, column1 - k) / C(total, column1)]
  const auto log_p = [&](std::int64_t k) {
    return log_choose(row1, k) + log_choose(row2, column1 - k) - log_choose(total, column1);
  };
  const double observed = log_p(a) + std::log1p(1e-7);
  double p = 0;
  for (std::int64_t k = std::max<std::int64_t>(0, column1 - row2); k <= std::min(column1, row1); ++k)
    if (log_p(k) <= observed) p += std::exp(log_p(k));
  result.p_value = std::min(1.0, p);
  return result;
}

MannWhitneyResult mann_whitney(const std::vector<double>& x, const std::vector<double>& y, std::int64_t resamples,
                               std::uint64_t seed) {
  OA_CHECK(!x.empty() && !y.empty(), "mann_whitney: empty sample (sizes {} and {})", x.size(), y.size());
  const auto n1 = static_cast<std::int64_t>(x.size()), n2 = static_cast<std::int64_t>(y.size());
  MannWhitneyResult result;
  for (double a : x)
    for (double b : y) result.u += a > b ? 1.0 : (a == b ? 0.5 : 0.0);

  std::vector<double> pooled = x;
  pooled.insert(pooled.end(), y.begin(), y.end());
  const auto ties = tie_group_sizes(pooled);
  const double u_max = std::max(result.u, static_cast<double>(n1 * n2) - result.u);
  result.exact = ties.empty() && std::min(n1, n2) <= 8;
  if (result.exact) {
    result.p_value = std::min(1.0, 2 * mann_whitney_exact_sf(static_cast<std::int64_t>(u_max), std::min(n1, n2),
                                                             std::max(n1, n2)));
  } else {
    // Normal approximation: mean n1 n2 / 2, variance n1 n2 / 12 ((n + 1) - sum(t^3 - t) / (n (n - 1)))
    // over the groups of t tied values; U is moved 1/2 towards the mean (continuity).
    const double n = static_cast<double>(n1 + n2);
    double tie_term = 0;
    for (double t : ties) tie_term += t * t * t - t;
    const double variance = static_cast<double>(n1 * n2) / 12 * ((n + 1) - tie_term / (n * (n - 1)));
    const double numerator = u_max - static_cast<double>(n1 * n2) / 2 - 0.5;
    result.p_value = variance > 0 ? std::min(1.0, std::erfc(numerator / std::sqrt(2 * variance))) : 1.0;
  }
  result.shift = two_sample_bootstrap(x, y, resamples, seed, hodges_lehmann);
  return result;
}

Interval median_difference(const std::vector<double>& x, const std::vector<double>& y, std::int64_t resamples,
                           std::uint64_t seed) {
  return two_sample_bootstrap(x, y, resamples, seed, [](const std::vector<double>& a, const std::vector<double>& b) {
    return median_of(a) - median_of(b);
  });
}

Regression least_squares(const std::vector<double>& y, const std::vector<std::vector<double>>& columns) {
  const std::size_t n = y.size(), p = columns.size() + 1;
  OA_CHECK(n > p, "least_squares: {} observations for {} coefficients (need more observations than coefficients)",
           n, p);
  for (std::size_t k = 0; k < columns.size(); ++k)
    OA_CHECK(columns[k].size() == n, "least_squares: column {} has {} values, y has {}", k, columns[k].size(), n);
  // The design row i: (1, columns[0][i], columns[1][i], ...).
  const auto x = [&](std::size_t i, std::size_t k) { return k == 0 ? 1.0 : columns[k - 1][i]; };

  // Normal equations: (X'X) beta = X'y, with (X'X)^-1 kept for the standard errors.
  std::vector<std::vector<double>> xtx(p, std::vector<double>(p, 0.0)), inverse(p, std::vector<double>(p, 0.0));
  std::vector<double> xty(p, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < p; ++j) {
      xty[j] += x(i, j) * y[i];
      for (std::size_t k = 0; k < p; ++k) xtx[j][k] += x(i, j) * x(i, k);
    }
  // Gauss-Jordan elimination with partial pivoting turns [X'X | I] into [I | (X'X)^-1].
  double largest_diagonal = 0;
  for (std::size_t j = 0; j < p; ++j) {
    inverse[j][j] = 1.0;
    largest_diagonal = std::max(largest_diagonal, xtx[j][j]);
  }
  for (std::size_t col = 0; col < p; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < p; ++r)
      if (std::abs(xtx[r][col]) > std::abs(xtx[pivot][col])) pivot = r;
    OA_CHECK(std::abs(xtx[pivot][col]) > 1e-12 * largest_diagonal,
             "least_squares: the columns are collinear (pivot {} for coefficient {})", xtx[pivot][col], col);
    std::swap(xtx[col], xtx[pivot]);
    std::swap(inverse[col], inverse[pivot]);
    const double scale = 1.0 / xtx[col][col];
    for (std::size_t k = 0; k < p; ++k) {
      xtx[col][k] *= scale;
      inverse[col][k] *= scale;
    }
    for (std::size_t r = 0; r < p; ++r) {
      if (r == col) continue;
      const double factor = xtx[r][col];
      for (std::size_t k = 0; k < p; ++k) {
        xtx[r][k] -= factor * xtx[col][k];
        inverse[r][k] -= factor * inverse[col][k];
      }
    }
  }
  std::vector<double> beta(p, 0.0);
  for (std::size_t j = 0; j < p; ++j)
    for (std::size_t k = 0; k < p; ++k) beta[j] += inverse[j][k] * xty[k];

  const double mean_y = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  double rss = 0, tss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double fitted = 0;
    for (std::size_t k = 0; k < p; ++k) fitted += x(i, k) * beta[k];
    rss += (y[i] - fitted) * (y[i] - fitted);
    tss += (y[i] - mean_y) * (y[i] - mean_y);
  }
  Regression result;
  result.degrees_of_freedom = static_cast<std::int64_t>(n - p);
  const double df = static_cast<double>(result.degrees_of_freedom);
  result.r_squared = tss > 0 ? 1 - rss / tss : 0.0;
  const double s2 = rss / df, t_critical = student_t_quantile(0.975, df);
  for (std::size_t k = 0; k < p; ++k) {
    Coefficient c;
    c.estimate = beta[k];
    c.standard_error = std::sqrt(s2 * inverse[k][k]);
    c.t = c.estimate / c.standard_error;
    c.p_value = t_two_sided_p(c.t, df);
    c.ci_low = c.estimate - t_critical * c.standard_error;
    c.ci_high = c.estimate + t_critical * c.standard_error;
    result.coefficients.push_back(c);
  }
  return result;
}

std::vector<double> holm(const std::vector<double>& p_values) {
  const std::size_t m = p_values.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m);
  double running_max = 0;
  for (std::size_t k = 0; k < m; ++k) {
    running_max = std::max(running_max, std::min(1.0, static_cast<double>(m - k) * p_values[order[k]]));
    adjusted[order[k]] = running_max;
  }
  return adjusted;
}

RankCorrelation kendall_tau(const std::vector<double>& x, const std::vector<double>& y) {
  OA_CHECK(x.size() == y.size() && x.size() >= 2, "kendall_tau: needs two samples of equal size >= 2, got {} and {}",
           x.size(), y.size());
  const auto n = static_cast<std::int64_t>(x.size());
  // Pairs: concordant (same order in x and y), discordant (opposite), tied in x, tied in y.
  std::int64_t concordant = 0, discordant = 0, tied_x = 0, tied_y = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const int order = ((x[i] > x[j]) - (x[i] < x[j])) * ((y[i] > y[j]) - (y[i] < y[j]));
      concordant += order > 0;
      discordant += order < 0;
      tied_x += x[i] == x[j];
      tied_y += y[i] == y[j];
    }
  const std::int64_t pairs = n * (n - 1) / 2;
  RankCorrelation result;
  if (tied_x == pairs || tied_y == pairs) {  // a constant sample: no order to correlate
    result.tau = result.p_value = std::numeric_limits<double>::quiet_NaN();
    return result;
  }
  const double s = static_cast<double>(concordant - discordant);
  result.tau = std::clamp(s / std::sqrt(static_cast<double>(pairs - tied_x) * static_cast<double>(pairs - tied_y)),
                          -1.0, 1.0);
  result.exact = tied_x == 0 && tied_y == 0 && n <= 33;
  if (result.exact) {
    const std::int64_t c = std::min(discordant, pairs - discordant);
    result.p_value = 4 * c == n * (n - 1) ? 1.0 : std::min(1.0, 2 * kendall_exact_cdf(c, n));
    return result;
  }
  // Var(S) = [n(n-1)(2n+5) - sum_x t(t-1)(2t+5) - sum_y u(u-1)(2u+5)] / 18
  //        + [sum_x t(t-1)] [sum_y u(u-1)] / (2 n (n-1))
  //        + [sum_x t(t-1)(t-2)] [sum_y u(u-1)(u-2)] / (9 n (n-1)(n-2)),  t, u the tie groups.
  double x0 = 0, x1 = 0, x2 = 0, y0 = 0, y1 = 0, y2 = 0;
  for (double t : tie_group_sizes(x)) {
    x0 += t * (t - 1);
    x1 += t * (t - 1) * (t - 2);
    x2 += t * (t - 1) * (2 * t + 5);
  }
  for (double u : tie_group_sizes(y)) {
    y0 += u * (u - 1);
    y1 += u * (u - 1) * (u - 2);
    y2 += u * (u - 1) * (2 * u + 5);
  }
  const double nn = static_cast<double>(n), m = nn * (nn - 1);
  double variance = (m * (2 * nn + 5) - x2 - y2) / 18 + x0 * y0 / (2 * m);
  if (x1 * y1 > 0) variance += x1 * y1 / (9 * m * (nn - 2));
  result.p_value = normal_two_sided_p(s / std::sqrt(variance));
  return result;
}

double regularized_incomplete_beta(double a, double b, double x) {
  OA_CHECK(a > 0 && b > 0, "regularized_incomplete_beta: a = {} and b = {} must be positive", a, b);
  if (x <= 0) return 0.0;
  if (x >= 1) return 1.0;
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); beyond, use
  // I_x(a, b) = 1 - I_{1-x}(b, a).
  if (x > (a + 1) / (a + b + 2)) return 1.0 - regularized_incomplete_beta(b, a, 1 - x);
  // I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1 / (1 + d_1 / (1 + d_2 / (1 + ...))) with
  //   d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
  //   d_{2m}   = m (b - m) x / ((a + 2m - 1)(a + 2m)),
  // the denominator evaluated by the modified Lentz method.
  const double log_front = a * std::log(x) + b * std::log1p(-x) - (std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b));
  const double tiny = 1e-300;
  double f = 1, c = 1, d = 0;
  for (int j = 1; j <= 1000; ++j) {
    const double m = static_cast<double>(j / 2);
    const double dj = j % 2 ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                            : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 + dj * d;
    d = 1 / (std::abs(d) < tiny ? tiny : d);
    c = 1 + dj / c;
    if (std::abs(c) < tiny) c = tiny;
    f *= c * d;
    if (std::abs(c * d - 1) < 1e-15) break;
  }
  return std::exp(log_front) / (a * f);
}

double student_t_cdf(double t, double df) {
  OA_CHECK(df > 0, "student_t_cdf: degrees of freedom must be positive, got {}", df);
  const double tail = 0.5 * t_two_sided_p(t, df);  // P(T >= |t|)
  return t > 0 ? 1 - tail : tail;
}

double student_t_quantile(double p, double df) {
  OA_CHECK(p > 0 && p < 1, "student_t_quantile: p = {} must lie in (0, 1)", p);
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  double low = 0, high = 1;
  while (student_t_cdf(high, df) < p) high *= 2;
  while (high - low > 1e-14 * high) {
    const double mid = (low + high) / 2;
    (student_t_cdf(mid, df) < p ? low : high) = mid;
  }
  return (low + high) / 2;
}

}  // namespace oa::experiments

#pragma once
// Statistics for per-sample results: summaries with bootstrap intervals, and the tests that
// compare two sets of samples (the OutlierAttack's S against its controls R and M), a
// regression that adjusts for a covariate, the Holm correction, and a rank trend test.
//
// Every p-value is two-sided. Bootstrap intervals are percentile intervals from `resamples`
// seeded resamples: the same values give the same interval. The reference values of the
// tests come from scipy (tests/attacks/make_statistics_references.py).
#include <cstdint>
#include <vector>

namespace oa::experiments {

struct Summary {
  std::int64_t count = 0;
  double mean = 0, median = 0;
  double mean_ci_low = 0, mean_ci_high = 0;      // bootstrap 95% interval of the mean
  double median_ci_low = 0, median_ci_high = 0;  // and of the median (the same resamples)
};

// Mean, median and percentile-bootstrap 95% confidence intervals of both
// (`resamples` resamples, seeded: the same values give the same intervals).
Summary summarize(const std::vector<double>& values, std::int64_t resamples = 2000, std::uint64_t seed = 0);

// An estimate with its bootstrap 95% interval.
struct Interval {
  double estimate = 0, low = 0, high = 0;
};

// The Wilson score 95% interval of a success rate, successes out of trials (estimate: the
// rate itself, 0 when trials is 0, with the interval [0, 1]):
//     (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),   z = 1.959964
// Unlike p -+ z sqrt(p(1-p)/n) it stays inside [0, 1] and is not empty at p = 0 or 1.
Interval wilson_interval(std::int64_t successes, std::int64_t trials);

// Fisher's exact test for the 2x2 table [[a, b], [c, d]] (rows: two groups; columns: success,
// failure). With the margins fixed, the count a is hypergeometric; the two-sided p-value adds the
// probabilities of every table no more probable than the observed one (relative tolerance 1e-7,
// as R's fisher.test). A table with an empty row or column gives p = 1. The odds ratio is the
// sample one, a d / (b c): infinite when b c = 0 < a d, NaN when both are 0.
struct FisherResult {
  double odds_ratio = 0;
  double p_value = 1;
};
FisherResult fisher_exact(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d);

// Mann-Whitney U test of x against y, and the Hodges-Lehmann shift: the median of all the
// differences x_i - y_j, with a bootstrap 95% interval (x and y resampled separately; each
// resample costs |x| |y| differences).
// p-value: exact (the null distribution of U counted over all rank arrangements) when there are
// no ties and one sample has at most 8 values; otherwise the normal approximation with the tie
// correction of the variance and a continuity correction of 1/2. This is scipy's
// mannwhitneyu(method="auto") rule.
struct MannWhitneyResult {
  double u = 0;         // U of x: the pairs with x_i > y_j, plus half the pairs with x_i = y_j
  double p_value = 1;   // two-sided
  bool exact = false;   // which of the two p-values above
  Interval shift;       // Hodges-Lehmann estimate of x - y
};
MannWhitneyResult mann_whitney(const std::vector<double>& x, const std::vector<double>& y,
                               std::int64_t resamples = 2000, std::uint64_t seed = 0);

// median(x) - median(y) with a bootstrap 95% interval (x and y resampled separately).
Interval median_difference(const std::vector<double>& x, const std::vector<double>& y, std::int64_t resamples = 2000,
                           std::uint64_t seed = 0);

// Ordinary least squares of y on an intercept and the given columns (each as long as y):
// coefficients[0] is the intercept, coefficients[k] that of columns[k - 1]. Standard errors
// from s^2 (X'X)^-1 with s^2 = RSS / (n - p); t statistics, two-sided p-values and 95%
// intervals from Student's t with n - p degrees of freedom. Throws when n <= p or when the
// columns are collinear.
struct Coefficient {
  double estimate = 0, standard_error = 0, t = 0, p_value = 1, ci_low = 0, ci_high = 0;
};
struct Regression {
  std::vector<Coefficient> coefficients;
  std::int64_t degrees_of_freedom = 0;
  double r_squared = 0;
};
Regression least_squares(const std::vector<double>& y, const std::vector<std::vector<double>>& columns);

// Holm's step-down adjustment of m p-values (in their given order): sort them ascending, the
// k-th smallest (k = 0..m-1) becomes max over j <= k of min(1, (m - j) p_(j)). Reject where the
// adjusted value is below alpha: the family-wise error rate stays at most alpha.
std::vector<double> holm(const std::vector<double>& p_values);

// Kendall's tau-b between x and y (e.g. a per-rung statistic against the rung's capacity), the
// trend test. p-value: exact (the distribution of the number of discordant pairs over all n!
// orders) when there are no ties and n <= 33; otherwise the normal approximation of
// concordant - discordant with the tie-corrected variance. scipy's kendalltau(method="auto")
// rule (it also goes exact for larger n with at most one discordant pair).
struct RankCorrelation {
  double tau = 0;
  double p_value = 1;
  bool exact = false;
};
RankCorrelation kendall_tau(const std::vector<double>& x, const std::vector<double>& y);

// Distributions behind the p-values.
// The regularised incomplete beta function I_x(a, b), by its continued fraction. Against scipy
// on 3000 random (a, b in [0.1, 1000], x in [0, 1]): relative error at most 2e-12 (the log of
// the beta function, from lgamma, loses digits as a and b grow).
double regularized_incomplete_beta(double a, double b, double x);
// P(T <= t) for Student's t with df degrees of freedom (df > 0, not necessarily an integer);
// against scipy on 3000 random (t, df in [1, 10^4]): relative error at most 6e-11.
double student_t_cdf(double t, double df);
// The t with student_t_cdf(t, df) = p, 0 < p < 1 (bisection to 1e-14 relative).
double student_t_quantile(double p, double df);

}  // namespace oa::experiments

#!/usr/bin/env python3
"""Reference values for tests/attacks/test_statistics.cpp, computed with scipy.

Run once with Debian's scipy (apt-get install python3-scipy); the C++ test includes the output,
which is kept in the repository (so the test itself needs no Python):

    /usr/bin/python3 tests/attacks/make_statistics_references.py > tests/attacks/statistics_references.inc

Inputs and answers both come from here, so the C++ test cannot drift from what scipy was asked.
scipy's own rules are used throughout (method="auto"), the same rules statistics.h documents.
"""
import numpy as np
import scipy
from scipy import optimize, special, stats


def cpp_double(v):
    if np.isinf(v):
        return "kInf" if v > 0 else "-kInf"
    return repr(float(v))


def cpp_vector(values):
    return "{" + ", ".join(cpp_double(v) for v in values) + "}"


def fisher_cases():
    tables = [(8, 2, 1, 5), (12, 38, 3, 47), (0, 10, 5, 5), (50, 950, 80, 920), (3, 3, 3, 3), (7, 0, 2, 9),
              (1, 19, 9, 11)]
    rows = []
    for a, b, c, d in tables:
        odds, p = stats.fisher_exact([[a, b], [c, d]])
        rows.append(f"    {{{a}, {b}, {c}, {d}, {cpp_double(odds)}, {cpp_double(p)}}},")
    return "const FisherCase kFisherCases[] = {\n" + "\n".join(rows) + "\n};"


def mann_whitney_cases():
    rng = np.random.default_rng(7)
    samples = [
        # exact: no ties, both small
        ([1.2, 3.4, 0.7, 2.2, 5.1], [4.4, 6.3, 2.9, 7.7, 5.6, 8.1, 3.8]),
        # exact: no ties, one sample of 4 and one of 30
        (list(np.round(rng.normal(0.0, 1.0, 4), 6)), list(np.round(rng.normal(0.8, 1.0, 30), 6))),
        # normal approximation with ties (query counts)
        ([10, 20, 20, 30, 40, 40, 40, 50, 60, 70, 80, 100], [20, 40, 50, 60, 60, 80, 90, 100, 100, 120, 150]),
        # normal approximation without ties, both larger than 8
        (list(np.round(rng.lognormal(0.0, 0.5, 20), 6)), list(np.round(rng.lognormal(0.3, 0.5, 25), 6))),
        # identical samples: p = 1
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]),
    ]
    rows = []
    for x, y in samples:
        x, y = np.array(x, dtype=float), np.array(y, dtype=float)
        res = stats.mannwhitneyu(x, y, alternative="two-sided", method="auto")
        pooled = np.concatenate([x, y])
        exact = len(np.unique(pooled)) == len(pooled) and not (len(x) > 8 and len(y) > 8)
        hodges_lehmann = np.median(np.subtract.outer(x, y))
        median_difference = np.median(x) - np.median(y)
        rows.append(f"    {{{cpp_vector(x)},\n     {cpp_vector(y)},\n     {cpp_double(res.statistic)}, "
                    f"{cpp_double(res.pvalue)}, {'true' if exact else 'false'}, {cpp_double(hodges_lehmann)}, "
                    f"{cpp_double(median_difference)}}},")
    return "const MannWhitneyCase kMannWhitneyCases[] = {\n" + "\n".join(rows) + "\n};"


def kendall_cases():
    rng = np.random.default_rng(11)
    samples = [
        # a short ladder: per-rung statistic against capacity, no ties (exact)
        ([1.0, 0.5, 0.25, 0.1, 0.05, 0.02], [0.31, 0.35, 0.34, 0.42, 0.47, 0.55]),
        ([1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]),
        # ties in both (normal approximation)
        ([1, 2, 2, 3, 4, 4, 4, 5, 6, 7, 7, 8], [2, 1, 3, 3, 5, 4, 6, 6, 6, 9, 8, 8]),
        # no ties, n = 40 (normal approximation)
        (list(np.round(rng.normal(0, 1, 40), 6)), None),
    ]
    rows = []
    for x, y in samples:
        x = np.array(x, dtype=float)
        if y is None:
            y = np.round(0.3 * x + rng.normal(0, 1, len(x)), 6)
        y = np.array(y, dtype=float)
        res = stats.kendalltau(x, y, method="auto")
        exact = len(np.unique(x)) == len(x) and len(np.unique(y)) == len(y) and len(x) <= 33
        rows.append(f"    {{{cpp_vector(x)},\n     {cpp_vector(y)},\n     {cpp_double(res.statistic)}, "
                    f"{cpp_double(res.pvalue)}, {'true' if exact else 'false'}}},")
    return "const KendallCase kKendallCases[] = {\n" + "\n".join(rows) + "\n};"


def t_quantile(p, df):
    """The root of scipy's t.cdf: scipy 1.10's t.ppf itself is off by up to 4e-10 relative
    (t.ppf(0.975, 5) = 2.5705818366, the root 2.5705818356, as mpmath finds at 30 digits)."""
    return optimize.brentq(lambda t: stats.t.cdf(t, df) - p, -50, 50, xtol=1e-15)


def distribution_cases():
    beta = [(0.5, 0.5, 0.3), (2.0, 3.0, 0.4), (10.0, 0.5, 0.9), (50.0, 0.5, 0.98), (0.5, 40.0, 0.01),
            (100.0, 100.0, 0.45)]
    beta_rows = [f"    {{{a}, {b}, {x}, {cpp_double(special.betainc(a, b, x))}}}," for a, b, x in beta]
    t = [(2.1, 3.0), (-0.7, 10.0), (4.5, 57.0), (1.96, 1000.0), (-12.0, 5.0), (0.3, 1.5)]
    t_rows = [f"    {{{v}, {df}, {cpp_double(stats.t.cdf(v, df))}}}," for v, df in t]
    q = [(0.975, 1.0), (0.975, 5.0), (0.975, 37.0), (0.995, 12.0), (0.025, 8.0), (0.6, 3.5)]
    q_rows = [f"    {{{p}, {df}, {cpp_double(t_quantile(p, df))}}}," for p, df in q]
    return ("const BetaCase kBetaCases[] = {\n" + "\n".join(beta_rows) + "\n};\n"
            "const TCdfCase kTCdfCases[] = {\n" + "\n".join(t_rows) + "\n};\n"
            "const TQuantileCase kTQuantileCases[] = {\n" + "\n".join(q_rows) + "\n};")


def regression_case():
    # log distance ~ 1 + A's margin + indicator[S], as run_outlier fits it.
    rng = np.random.default_rng(5)
    n = 40
    margin = np.round(rng.uniform(0.1, 4.0, n), 6)
    in_s = (np.arange(n) % 3 == 0).astype(float)
    log_distance = np.round(-2.0 + 0.35 * margin - 0.25 * in_s + rng.normal(0, 0.3, n), 6)
    design = np.column_stack([np.ones(n), margin, in_s])
    beta, rss, _, _ = np.linalg.lstsq(design, log_distance, rcond=None)
    df = n - design.shape[1]
    s2 = rss[0] / df
    se = np.sqrt(s2 * np.diag(np.linalg.inv(design.T @ design)))
    t = beta / se
    p = 2 * stats.t.sf(np.abs(t), df)
    crit = t_quantile(0.975, df)
    r2 = 1 - rss[0] / np.sum((log_distance - log_distance.mean()) ** 2)
    coefficients = "\n".join(
        f"    {{{cpp_double(beta[k])}, {cpp_double(se[k])}, {cpp_double(t[k])}, {cpp_double(p[k])}, "
        f"{cpp_double(beta[k] - crit * se[k])}, {cpp_double(beta[k] + crit * se[k])}}},"
        for k in range(3))
    return (f"const std::vector<double> kRegressionY = {cpp_vector(log_distance)};\n"
            f"const std::vector<double> kRegressionMargin = {cpp_vector(margin)};\n"
            f"const std::vector<double> kRegressionInS = {cpp_vector(in_s)};\n"
            f"const double kRegressionRSquared = {cpp_double(r2)};\n"
            f"const std::int64_t kRegressionDf = {df};\n"
            f"const Coefficient kRegressionCoefficients[] = {{  // intercept, margin, indicator[S]\n"
            f"{coefficients}\n}};")


if __name__ == "__main__":
    print(f"// --- generated by tests/attacks/make_statistics_references.py with scipy {scipy.__version__}, "
          f"numpy {np.__version__} ---")
    for block in (fisher_cases(), mann_whitney_cases(), kendall_cases(), distribution_cases(), regression_case()):
        print(block)
    print("// --- end of generated block ---")

#pragma once
// The verdicts on the study's five hypotheses, computed from results.json alone (the rules:
// results_schema.md beside this file; alpha = 0.05). Each verdict is "supported", "not
// supported" or "inconclusive", with the statistic behind it in one readable line and the
// numbers of every ladder, norm or pair in `details`. Missing data gives "inconclusive" with
// the reason (details.reason), never an exception.
//
// A hypothesis tested on several ladders, norms or pairs ("cells") is combined by one rule:
// supported when some cell supports it and none contradicts it; not supported when some cell
// contradicts it and none supports it; inconclusive when the cells disagree or none decides.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace oa::study {

inline constexpr double kAlpha = 0.05;

struct Verdict {
  std::string id;         // "H1" .. "H5"
  std::string statement;  // the hypothesis, in words
  std::string verdict;    // "supported" | "not supported" | "inconclusive"
  std::string statistic;  // e.g. "prune-global: Kendall tau(capacity, gap) = 0.87, p = 0.0028, n = 6 models"
  nlohmann::json details = nlohmann::json::object();  // reason, cells, ...
};

// {"id", "statement", "verdict", "statistic", "details"}: an element of results.json's "hypotheses".
nlohmann::json to_json(const Verdict& verdict);

// H1: lower capacity, smaller train-test gap. Per ladder, Kendall tau between capacity and
// gap = train - test accuracy: tau > 0 with p < alpha supports; tau < 0 with p < alpha
// contradicts; p >= alpha with >= 5 models is "no trend" (not supported); fewer than 4 models,
// or 4 without a significant trend, decide nothing. The prune ladders decide (the depth ladders
// when there is no prune ladder); the others can only contradict, by a significant reversal.
Verdict verdict_h1(const nlohmann::json& results);

// H2: more compression, larger minimal distance. Per ladder and norm, on attacks.before.test,
// over the samples every model attacked successfully: each sample's least-squares slope of its
// distance against ln(capacity); the mean slope with a Student t 95% interval. Interval below 0
// supports; above 0 contradicts; containing 0 but "tight" (every slope in it changes the
// distance by less than 5% of the mean distance across the ladder's capacity range) is "no
// trend" (not supported); otherwise, with fewer than 3 models or fewer than 5 paired samples,
// inconclusive. The train split is computed and shown, but only the test split decides.
Verdict verdict_h2(const nlohmann::json& results);

// H3: after equal adversarial fine-tuning, compressed models are more robust: H2's test on
// attacks.after (inconclusive, not run, without it), with Kendall tau of robust accuracy after
// fine-tuning against capacity shown per ladder.
Verdict verdict_h3(const nlohmann::json& results);

// H4: outliers break A more easily than margin-matched controls. Per A/B pair, the
// margin-adjusted coefficient of S: 95% interval below 0 supports, above 0 contradicts (outliers
// are harder), else inconclusive. The S-vs-M comparisons (with Holm p) are listed in details.
Verdict verdict_h4(const nlohmann::json& results);

// H5: the memorising model is the least robust. Per norm, the memorisation control's successful
// before/train distances against each ladder model's (Mann-Whitney, Holm over the models). The
// training split: what the control classifies correctly there is what it memorised (on the test
// split its index-parity answers are right by chance):
// supported when its median is the lowest and every Holm p < alpha; contradicted when some
// model has a lower median with Holm p < alpha; else inconclusive.
Verdict verdict_h5(const nlohmann::json& results);

// H1..H5 in order. A malformed part of results.json makes that verdict inconclusive (the
// reason names the error); nothing here throws.
std::vector<Verdict> compute_verdicts(const nlohmann::json& results);

// The combination rule above, over the cells' verdicts.
std::string combine_verdicts(const std::vector<std::string>& cell_verdicts);

}  // namespace oa::study

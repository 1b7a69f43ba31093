#pragma once
// The study's report, from run_study's results.json alone (the schema: results_schema.md beside
// this file): report.html (one self-contained file: inline CSS and SVG plots, no script, no
// network) and report.md (the same text and tables), top to bottom:
//   the run's facts; the verdicts on H1-H5 with their statistics; the sanity checks (a failure
//   in red); accuracy (train, test, gap) against capacity per ladder; mean and median minimal L2
//   and Linf distances against capacity with bootstrap 95% intervals, before and after
//   adversarial fine-tuning, train and test samples, and the trend behind H2/H3; robust accuracy
//   before and after; the OutlierAttack per A/B pair (success against queries for S, R, M and
//   the held-out sets, the comparisons with Holm p-values, the margin-adjusted effect); the
//   memorisation control against every ladder model. Each section says how to read it.
// A part that results.json lacks is shown as "not run"; it never stops the report.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "experiments/study/document.h"
#include "experiments/study/verdicts.h"

namespace oa::study {

// Writes dir/report.html and dir/report.md (atomically, creating dir) and returns the verdicts
// as results.json's "hypotheses" array (run_study stores it there).
nlohmann::json write_report(const nlohmann::json& results, const std::filesystem::path& dir);

// The report as a document, for the given verdicts (compute_verdicts(results)).
Document build_report(const nlohmann::json& results, const std::vector<Verdict>& verdicts);

}  // namespace oa::study

#pragma once
// What every attack reports, per sample, and the independent check that makes it trustworthy.
//
// A reported adversarial example is re-checked by a separate forward pass: it must be
// misclassified (or classified as the target) and lie inside the [0, 1] box. A sample whose
// example fails the check is a failure: its distances are NaN, never 0, and its adversarial
// input is the clean one only so that tensors keep their shape.
#include <cstdint>
#include <limits>
#include <vector>

#include "framework/nn/module.h"

namespace oa::attacks {

// A value that is not a measurement is NaN, never 0: the distances of a failure or of a
// sample never attacked, and c of the attacks that have none.
struct SampleResult {
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  bool success = false;
  double l2 = kNaN, linf = kNaN, l0 = kNaN;
  double c = kNaN;                           // the final constant of a CW search
  std::int64_t forwards = 0, backwards = 0;  // passes spent on this sample
  // Black-box queries: to the first success, or all spent on a failure. A column of the
  // black-box records only (white-box attacks count passes), so it is not in fields() below.
  std::int64_t queries = 0;

  // The fields in the order of their columns in samples.csv (experiments/common/record.h):
  // visit(name, member) for each. A new field is one line here.
  template <class Self, class Visit>
  static void fields(Self& r, Visit&& visit) {
    outcome_fields(r, visit);
    visit("c", r.c);
    visit("forwards", r.forwards);
    visit("backwards", r.backwards);
  }
  // The first of them, what every attack measures: success and the distances.
  template <class Self, class Visit>
  static void outcome_fields(Self& r, Visit&& visit) {
    visit("success", r.success);
    visit("l2", r.l2);
    visit("linf", r.linf);
    visit("l0", r.l0);
  }
};

struct AttackOutput {
  Tensor adversarial;                 // [N, C, H, W]; the clean input where the attack failed
  std::vector<SampleResult> samples;  // one per input
};

// A tensor holding `values` (row-major, of `shape`) with like's dtype and on like's device:
// how the attacks' host-side state (perturbations, constants) enters the model's graph.
Tensor tensor_like(const std::vector<double>& values, const Shape& shape, const Tensor& like);

// A [N] tensor of 1 where `flags` is true, 0 elsewhere, with like's dtype and device (the
// mask of the op where(), which picks per-sample rows such as the best example so far).
Tensor row_mask(const std::vector<bool>& flags, const Tensor& like);
// Per-sample values as a [N, 1, 1, 1] tensor like `like` (broadcast over each sample's pixels).
Tensor per_sample(const std::vector<double>& values, const Tensor& like);
// The L2 norm of each sample (row) of t [N, C, H, W], brought to the host.
std::vector<double> row_l2_norms(const Tensor& t);
// The Linf norm of each sample (row) of t [N, C, H, W], brought to the host.
std::vector<double> row_linf_norms(const Tensor& t);

// Throws unless x is [N, C, H, W] and labels int64 [N] (`op` names the attack).
void check_attack_inputs(const Tensor& x, const Tensor& labels, const char* op);

// The re-check: one forward pass of `model` (eval, no gradient) on `adversarial`; writes
// success and the L2 / Linf / L0 distances to `clean` into `out` (NaN where it failed), and
// resets the adversarial input of failed samples to the clean one. `targeted`: success means
// classified as labels[i], else anything but labels[i].
void verify(nn::Module& model, const Tensor& clean, const Tensor& labels, bool targeted, AttackOutput& out);

}  // namespace oa::attacks

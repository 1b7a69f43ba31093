#pragma once
// Small models for the attack tests.
//
// Linear classifiers z = W x + b over side x side inputs (4x4 unless asked), whose minimal
// adversarial distances are known in closed form. The smallest perturbation that changes the class of x (label y) has
// norm
//     L2:    d_2   = min_{j != y} (z_y - z_j) / || w_y - w_j ||_2   (straight to the boundary)
//     Linf:  d_inf = min_{j != y} (z_y - z_j) / || w_y - w_j ||_1   (along sign(w_j - w_y))
// (the distance to a hyperplane in a norm is the margin over the dual norm of its normal).
// The inputs are drawn near the middle of the box, so that small distances are exact: the
// minimal point stays inside [0, 1]. Labels are the model's own predictions.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "attacks/adversarial.h"
#include "framework/autograd/node.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"

namespace oa::test {

struct LinearSpec {
  std::int64_t samples = 10;
  std::int64_t classes = 3;
  std::uint64_t seed = 7;
  double weight_std = 2.0;
  double x_lo = 0.4, x_hi = 0.6;  // inputs uniform in [x_lo, x_hi]
  std::int64_t side = 4;           // inputs are 1 x side x side
};

struct LinearProblem {
  std::shared_ptr<nn::Sequential> model;
  Tensor x, labels;
  std::vector<double> d_2, d_inf;  // the exact minimal distances per sample
};

inline LinearProblem make_linear_problem(const LinearSpec& spec) {
  const std::int64_t features = spec.side * spec.side;
  const std::int64_t n = spec.samples, classes = spec.classes;
  Rng rng(spec.seed);
  LinearProblem p;
  p.model = std::make_shared<nn::Sequential>();
  p.model->add(std::make_shared<nn::Flatten>());
  auto fc = std::make_shared<nn::Linear>(features, classes, rng);
  p.model->add(fc);
  fc->weight.copy_(randn({classes, features}, rng, spec.weight_std));
  p.x = rand_uniform({n, 1, spec.side, spec.side}, rng, spec.x_lo, spec.x_hi);
  const auto w = fc->weight.to_vector<double>(), b = fc->bias.to_vector<double>(), x = p.x.to_vector<double>();
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> z(classes);
    for (std::int64_t k = 0; k < classes; ++k) {
      z[k] = b[k];
      for (std::int64_t f = 0; f < features; ++f) z[k] += w[k * features + f] * x[i * features + f];
    }
    const std::int64_t y = std::max_element(z.begin(), z.end()) - z.begin();
    labels[i] = y;
    double d_2 = std::numeric_limits<double>::infinity(), d_inf = d_2;
    for (std::int64_t j = 0; j < classes; ++j) {
      if (j == y) continue;
      double l1 = 0, l2sq = 0;
      for (std::int64_t f = 0; f < features; ++f) {
        const double u = w[y * features + f] - w[j * features + f];
        l1 += std::abs(u);
        l2sq += u * u;
      }
      d_2 = std::min(d_2, (z[y] - z[j]) / std::sqrt(l2sq));
      d_inf = std::min(d_inf, (z[y] - z[j]) / l1);
    }
    p.d_2.push_back(d_2);
    p.d_inf.push_back(d_inf);
  }
  p.labels = Tensor::from_vector(labels, {n});
  return p;
}

// The two-class problem of the PGD, CW-Linf and DDN tests.
inline LinearProblem make_two_class_problem(std::int64_t n) {
  return make_linear_problem({.samples = n, .classes = 2, .seed = 5, .weight_std = 3.0, .x_lo = 0.45, .x_hi = 0.55});
}

// A small nonlinear classifier (16 -> 32 -> ReLU -> 3) with fixed random weights, and n inputs
// in [0.2, 0.8] with the net's own predictions as labels. No closed form: the attacks are
// compared with each other there.
struct NetProblem {
  std::shared_ptr<nn::Sequential> model;
  Tensor x, labels;
};

inline NetProblem make_tiny_net_problem(std::int64_t n) {
  Rng rng(11);
  NetProblem p;
  p.model = std::make_shared<nn::Sequential>();
  p.model->add(std::make_shared<nn::Flatten>());
  p.model->add(std::make_shared<nn::Linear>(16, 32, rng));
  p.model->add(std::make_shared<nn::ReLU>());
  p.model->add(std::make_shared<nn::Linear>(32, 3, rng));
  p.x = rand_uniform({n, 1, 4, 4}, rng, 0.2, 0.8);
  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = (*p.model)(p.x);
  }
  const auto z = logits.to_vector<double>();
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) labels[i] = std::max_element(z.begin() + 3 * i, z.begin() + 3 * i + 3) - (z.begin() + 3 * i);
  p.labels = Tensor::from_vector(labels, {n});
  return p;
}

// A model that counts the input rows its inner model runs: the black-box tests compare it with
// the queries the query model reports.
class RowCounter : public nn::Module {
 public:
  explicit RowCounter(std::shared_ptr<nn::Module> inner) : inner_(register_module("inner", std::move(inner))) {}
  Tensor forward(const Tensor& x) override {
    rows += x.size(0);
    return (*inner_)(x);
  }
  std::int64_t rows = 0;

 private:
  std::shared_ptr<nn::Module> inner_;
};

// Other labels as targets: (label + 1) mod classes.
inline Tensor next_labels(const Tensor& labels, std::int64_t classes) {
  auto y = labels.to_vector<std::int64_t>();
  for (auto& label : y) label = (label + 1) % classes;
  return Tensor::from_vector(y, labels.shape());
}

// An attack that broke nothing reports it so: no success, NaN distances (never 0), and the
// clean inputs as its "adversarial" ones.
inline void check_all_failed(const attacks::AttackOutput& out, const Tensor& x) {
  for (const auto& r : out.samples) {
    CHECK_FALSE(r.success);
    CHECK(std::isnan(r.l2));
    CHECK(std::isnan(r.linf));
    CHECK(std::isnan(r.l0));
  }
  CHECK(out.adversarial.to_vector<float>() == x.to_vector<float>());
}

}  // namespace oa::test

// CW-L2 against the closed form: for a linear classifier z = W x + b, the smallest L2
// perturbation that changes the class of x (label y) is
//     d = min_{j != y} (z_y - z_j) / || w_y - w_j ||_2,
// reached by moving x straight towards the nearest decision boundary. The inputs are chosen
// so that this minimal point stays inside the [0, 1] box, where the box does not bind.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "attacks/cw_l2.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"

using oa::Tensor;

namespace {

struct LinearProblem {
  std::shared_ptr<oa::nn::Sequential> model;
  Tensor x, labels;
  std::vector<double> distance;  // the exact minimal L2 distance per sample
};

// `classes` classes over 4x4 inputs near the middle of the box; labels are the model's own
// predictions.
LinearProblem make_problem(std::int64_t n, std::int64_t classes = 3) {
  oa::Rng rng(7);
  LinearProblem p;
  p.model = std::make_shared<oa::nn::Sequential>();
  p.model->add(std::make_shared<oa::nn::Flatten>());
  auto fc = std::make_shared<oa::nn::Linear>(16, classes, rng);
  p.model->add(fc);
  fc->weight.copy_(oa::randn({classes, 16}, rng, 2.0));
  p.x = oa::rand_uniform({n, 1, 4, 4}, rng, 0.4, 0.6);
  const auto w = fc->weight.to_vector<double>(), b = fc->bias.to_vector<double>(), x = p.x.to_vector<double>();
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) {
    double z[3];
    for (int k = 0; k < classes; ++k) {
      z[k] = b[k];
      for (int f = 0; f < 16; ++f) z[k] += w[k * 16 + f] * x[i * 16 + f];
    }
    labels[i] = std::max_element(z, z + classes) - z;
    double best = std::numeric_limits<double>::infinity();
    for (int j = 0; j < classes; ++j) {
      if (j == labels[i]) continue;
      double norm2 = 0;
      for (int f = 0; f < 16; ++f) norm2 += std::pow(w[labels[i] * 16 + f] - w[j * 16 + f], 2);
      best = std::min(best, (z[labels[i]] - z[j]) / std::sqrt(norm2));
    }
    p.distance.push_back(best);
  }
  p.labels = Tensor::from_vector(labels, {n});
  return p;
}

}  // namespace

TEST_CASE("cw_l2 finds the closed-form minimal L2 distance of a linear classifier within 1%") {
  LinearProblem p = make_problem(12);
  // Inputs lie in [0.4, 0.6]: a perturbation of L2 norm d < 0.4 moves no pixel out of [0, 1].
  for (double d : p.distance) REQUIRE(d < 0.4);
  for (bool warm : {false, true}) {
    CAPTURE(warm);
    const auto out = oa::attacks::cw_l2(*p.model, p.x, p.labels,
                                        {.search_steps = 8, .iterations = 1000, .c0 = 1e-2, .warm_start = warm});
    double worst = 0;
    for (std::size_t i = 0; i < p.distance.size(); ++i) {
      CAPTURE(i);
      worst = std::max(worst, out.samples[i].l2 / p.distance[i] - 1);
      REQUIRE(out.samples[i].success);
      CHECK(out.samples[i].l2 >= p.distance[i] * (1 - 1e-4));  // never below the true minimum
      CHECK(out.samples[i].l2 <= p.distance[i] * 1.01);
      CHECK(out.samples[i].forwards > 0);
    }
    MESSAGE(std::string(warm ? "warm start" : "paper restarts") << ": worst L2 above the minimum by " << 100 * worst << "%");
  }
}

TEST_CASE("targeted cw_l2 on two classes reaches the closed-form distance to the target's side") {
  LinearProblem p = make_problem(40, 2);
  std::vector<std::int64_t> targets;
  for (auto y : p.labels.to_vector<std::int64_t>()) targets.push_back(1 - y);
  const auto out = oa::attacks::cw_l2(*p.model, p.x, Tensor::from_vector(targets, {40}),
                                      {.search_steps = 8, .iterations = 1000, .c0 = 1e-2, .targeted = true,
                                       .warm_start = true});
  int compared = 0;
  for (std::size_t i = 0; i < p.distance.size(); ++i) {
    CAPTURE(i);
    REQUIRE(out.samples[i].success);
    CHECK(out.samples[i].l2 >= p.distance[i] * (1 - 1e-4));
    if (p.distance[i] >= 0.4) continue;  // the box may bind: the closed form is only a lower bound
    CHECK(out.samples[i].l2 <= p.distance[i] * 1.01);
    ++compared;
  }
  CHECK(compared >= 5);
}

TEST_CASE("cw_l2 with an unbounded budget breaks every correctly classified sample") {
  LinearProblem p = make_problem(8);
  const auto out = oa::attacks::cw_l2(*p.model, p.x, p.labels, {.search_steps = 5, .iterations = 200, .c0 = 1.0});
  for (const auto& r : out.samples) CHECK(r.success);
}

TEST_CASE("cw_l2 failures are reported as failures, never as distance 0") {
  LinearProblem p = make_problem(4);
  // One iteration at a tiny constant cannot cross any boundary.
  const auto out = oa::attacks::cw_l2(*p.model, p.x, p.labels, {.search_steps = 1, .iterations = 1, .c0 = 1e-9});
  for (const auto& r : out.samples) {
    CHECK_FALSE(r.success);
    CHECK(std::isnan(r.l2));
  }
  CHECK(out.adversarial.to_vector<float>() == p.x.to_vector<float>());
}

TEST_CASE("cw_l2 leaves the model's parameters as it found them") {
  LinearProblem p = make_problem(2);
  oa::attacks::cw_l2(*p.model, p.x, p.labels, {.search_steps = 1, .iterations = 5});
  for (const auto& t : p.model->parameters()) CHECK(t.requires_grad());
}

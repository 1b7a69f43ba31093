#include "experiments/common/adversarial_training.h"

#include <algorithm>
#include <numeric>

#include "attacks/ddn.h"
#include "attacks/noise.h"
#include "attacks/query_model.h"
#include "framework/autograd/node.h"
#include "framework/dist/dist.h"
#include "framework/ops/ops.h"
#include "framework/util/progress_bar.h"

namespace oa::experiments {

attacks::Norm recipe_norm(const AdversarialRecipe& recipe) {
  return recipe.attack == "pgd-linf" ? attacks::Norm::Linf : attacks::Norm::L2;
}

decltype(AdversarialBatches::make) adversarial_example_maker(const AdversarialRecipe& r) {
  OA_CHECK(r.attack == "pgd-linf" || r.attack == "pgd-l2" || r.attack == "ddn",
           "adversarial training: unknown attack '{}' (pgd-linf, pgd-l2 or ddn)", r.attack);
  OA_CHECK(r.eps > 0 && r.steps >= 1 && r.step_size >= 0,
           "adversarial training: eps ({}) must be > 0, steps ({}) >= 1 and the step size ({}) >= 0", r.eps, r.steps,
           r.step_size);
  if (r.attack == "ddn")
    return [r](nn::Module& model, const Tensor& x, const Tensor& y, std::int64_t, std::int64_t, std::int64_t) {
      const attacks::AttackOutput out = attacks::ddn(model, x, y, {.steps = r.steps});
      // The cap: delta * min(1, eps / ||delta||_2) stays in the box (between x and x + delta).
      NoGradGuard no_grad;
      const Tensor delta = sub(out.adversarial, x);
      auto scale = attacks::row_l2_norms(delta);
      for (double& s : scale) s = s > r.eps ? r.eps / s : 1.0;
      return add(x, mul(delta, attacks::per_sample(scale, x)));
    };
  return [r](nn::Module& model, const Tensor& x, const Tensor& y, std::int64_t epoch, std::int64_t step,
             std::int64_t first_row) {
    // The same (seed, epoch, step) gives the same random start, in every rung and after a resume.
    const std::uint64_t seed = (r.seed * 1000003u + static_cast<std::uint64_t>(epoch)) * 1000003u +
                               static_cast<std::uint64_t>(step);
    return attacks::pgd_training_examples(model, x, y,
                                          {.norm = recipe_norm(r),
                                           .eps = r.eps,
                                           .step = r.step_size,
                                           .iterations = r.steps,
                                           .random_start = r.random_start,
                                           .seed = seed,
                                           .first_row = first_row});
  };
}

Robustness measure_robustness(nn::Module& model, const data::Dataset& data, const RobustnessOptions& o,
                              const std::string& label) {
  OA_CHECK(o.eps > 0 && o.steps >= 1 && o.restarts >= 1 && o.noise_draws >= 1 && o.batch_size >= 1,
           "robustness: eps ({}) must be > 0, steps ({}), restarts ({}), noise draws ({}) and batch size ({}) >= 1",
           o.eps, o.steps, o.restarts, o.noise_draws, o.batch_size);
  const std::int64_t n = data.size();
  const Device device = model.device();
  const std::int64_t batches = (n + o.batch_size - 1) / o.batch_size;
  // In a run of several ranks each measures its share of the batches (each batch's seeds
  // depend on the batch alone) and the counts are summed.
  const auto mine = dist::shard(batches, dist::rank(), dist::world_size());
  ProgressBar bar(label, static_cast<std::int64_t>(mine.size()), "batch");
  Robustness r{.samples = n};
  std::int64_t clean = 0, robust = 0, noise = 0, done = 0, batches_done = 0;
  std::string status;
  for (const std::int64_t b : mine) {
    std::vector<std::int64_t> rows(std::min(o.batch_size, n - b * o.batch_size));
    std::iota(rows.begin(), rows.end(), b * o.batch_size);
    const Tensor x = data::take_rows(data.images, rows).to(device), y = data::take_rows(data.labels, rows).to(device);
    const auto truth = y.to_vector<std::int64_t>();
    std::vector<bool> clean_ok(rows.size()), pgd_broken(rows.size(), false);
    {
      model.eval();
      NoGradGuard no_grad;
      const auto predicted = argmax_rows(model(x));
      for (std::size_t i = 0; i < rows.size(); ++i) clean_ok[i] = predicted[i] == truth[i];
    }
    for (std::int64_t restart = 0; restart < o.restarts; ++restart) {
      const auto out = attacks::pgd(model, x, y,
                                    {.norm = o.norm,
                                     .eps = o.eps,
                                     .iterations = o.steps,
                                     .random_start = true,
                                     .seed = o.seed + static_cast<std::uint64_t>(restart * 7919 + b)});
      for (std::size_t i = 0; i < rows.size(); ++i) pgd_broken[i] = pgd_broken[i] || out.samples[i].success;
    }
    attacks::LabelQueryModel queries(model, static_cast<std::int64_t>(rows.size()), o.noise_draws);
    attacks::AttackOutput by_noise = attacks::random_noise(
        queries, x, y, {.norm = o.norm, .eps = o.eps, .draws = o.noise_draws, .seed = o.seed + static_cast<std::uint64_t>(b)});
    attacks::verify(model, x, y, /*targeted=*/false, by_noise);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const bool noise_broken = by_noise.samples[i].success;
      clean += clean_ok[i];
      robust += clean_ok[i] && !pgd_broken[i];
      noise += clean_ok[i] && !noise_broken;
      r.broken_by_noise_only += clean_ok[i] && noise_broken && !pgd_broken[i];
    }
    done += static_cast<std::int64_t>(rows.size());
    status = fmt::format("clean {} robust {} noise {} of {}", clean, robust, noise, done);
    bar.update(++batches_done, status);
  }
  bar.finish(status);
  std::vector<double> counts = {double(clean), double(robust), double(noise), double(r.broken_by_noise_only)};
  dist::all_reduce_sum(counts);
  clean = std::llround(counts[0]), robust = std::llround(counts[1]), noise = std::llround(counts[2]);
  r.broken_by_noise_only = std::llround(counts[3]);
  const double count = static_cast<double>(std::max<std::int64_t>(1, n));
  r.clean_accuracy = static_cast<double>(clean) / count;
  r.robust_accuracy = static_cast<double>(robust) / count;
  r.noise_accuracy = static_cast<double>(noise) / count;
  r.seconds = bar.elapsed_seconds();
  return r;
}

}  // namespace oa::experiments

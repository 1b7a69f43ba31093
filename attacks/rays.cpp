#include "attacks/rays.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace oa::attacks {

namespace {

// The state of one sample: its best direction v*, its distance d* (infinite until a
// direction is adversarial) and the example there.
struct Ray {
  std::vector<double> direction;  // +-1 per coordinate
  double distance = std::numeric_limits<double>::infinity();
  std::vector<double> example;
};

// clip(x + d * v / sqrt(D), 0, 1). A Linf step of 1 already reaches the corner of the box,
// so d is capped at sqrt(D) (this is how d* = infinity is asked).
void point_on_ray(const double* x, const std::vector<double>& v, double d, double* out) {
  const double root_dim = std::sqrt(static_cast<double>(v.size()));
  const double step = std::min(d, root_dim) / root_dim;
  for (std::size_t k = 0; k < v.size(); ++k) out[k] = std::clamp(x[k] + step * v[k], 0.0, 1.0);
}

// One label query per listed sample: is the point at distance d[i] along v[i] adversarial?
std::vector<bool> adversarial_at(LabelQueryModel& model, const Tensor& x, const std::vector<double>& clean,
                                 const std::vector<std::int64_t>& y, const std::vector<std::int64_t>& rows,
                                 const std::vector<std::vector<double>>& v, const std::vector<double>& d,
                                 std::vector<std::int64_t>& queries) {
  const std::int64_t dim = x.numel() / x.size(0);
  std::vector<double> batch(rows.size() * dim);
  for (std::size_t b = 0; b < rows.size(); ++b)
    point_on_ray(clean.data() + rows[b] * dim, v[rows[b]], d[rows[b]], batch.data() + b * dim);
  const auto predicted = model.labels(candidate_batch(batch, static_cast<std::int64_t>(rows.size()), x), rows);
  std::vector<bool> adversarial(rows.size());
  for (std::size_t b = 0; b < rows.size(); ++b) {
    queries[rows[b]] += 1;
    adversarial[b] = predicted[b] != y[rows[b]];
  }
  return adversarial;
}

// The Linf distance of a sample's example (the box may have cut the ray short).
double linf_distance(const double* x, const std::vector<double>& example) {
  double d = 0;
  for (std::size_t k = 0; k < example.size(); ++k) d = std::max(d, std::abs(example[k] - x[k]));
  return d;
}

}  // namespace

AttackOutput rays(LabelQueryModel& model, const Tensor& x, const Tensor& labels, const RaysOptions& o) {
  check_blackbox_inputs(model, x, labels, "rays");
  OA_CHECK(o.eps >= 0 && o.tolerance > 0, "rays: invalid eps {} or tolerance {}", o.eps, o.tolerance);
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  const auto clean = x.to_vector<double>();
  const auto y = labels.to_vector<std::int64_t>();
  std::vector<Ray> rays(n);
  for (auto& ray : rays) ray.direction.assign(dim, 1.0);
  std::vector<std::int64_t> queries(n, 0);
  auto reached_eps = [&](std::int64_t i) {
    return o.eps > 0 && std::isfinite(rays[i].distance) && linf_distance(clean.data() + i * dim, rays[i].example) <= o.eps;
  };
  std::int64_t level = 0, block = 0;
  while (true) {
    std::vector<std::int64_t> active;
    for (std::int64_t i = 0; i < n; ++i)
      if (model.remaining(i) > 0 && !reached_eps(i)) active.push_back(i);
    if (active.empty()) break;
    // The direction to try: v* with the block [start, end) of level `level` flipped.
    const std::int64_t blocks = std::int64_t{1} << level;
    const std::int64_t block_size = (dim + blocks - 1) / blocks, start = block * block_size;
    const std::int64_t end = std::min(dim, start + block_size);
    std::vector<std::vector<double>> attempt(n);
    for (std::int64_t i : active) {
      attempt[i] = rays[i].direction;
      for (std::int64_t k = start; k < end; ++k) attempt[i][k] = -attempt[i][k];
    }
    // 1. Adversarial at the current best distance? Only then can it do better.
    std::vector<double> lo(n, 0.0), hi(n, 0.0);
    for (std::int64_t i : active) hi[i] = rays[i].distance;
    const auto at_best = adversarial_at(model, x, clean, y, active, attempt, hi, queries);
    std::vector<std::int64_t> searching, improved;
    for (std::size_t b = 0; b < active.size(); ++b) {
      const std::int64_t i = active[b];
      if (!at_best[b]) continue;
      hi[i] = std::min(rays[i].distance, std::sqrt(static_cast<double>(dim)));  // adversarial at hi
      improved.push_back(i);
      if (hi[i] - lo[i] > o.tolerance) searching.push_back(i);
    }
    // 2. Binary search of the boundary on [lo, hi] (hi always adversarial), while budget lasts.
    while (true) {
      std::vector<std::int64_t> asking;
      for (std::int64_t i : searching)
        if (model.remaining(i) > 0) asking.push_back(i);
      if (asking.empty()) break;
      std::vector<double> mid(n, 0.0);
      for (std::int64_t i : asking) mid[i] = (lo[i] + hi[i]) / 2;
      const auto at_mid = adversarial_at(model, x, clean, y, asking, attempt, mid, queries);
      searching.clear();
      for (std::size_t b = 0; b < asking.size(); ++b) {
        const std::int64_t i = asking[b];
        (at_mid[b] ? hi[i] : lo[i]) = mid[i];
        if (hi[i] - lo[i] > o.tolerance) searching.push_back(i);
      }
    }
    for (std::int64_t i : improved) {
      if (!(hi[i] < rays[i].distance)) continue;
      rays[i].distance = hi[i];
      rays[i].direction = attempt[i];
      rays[i].example.resize(dim);
      point_on_ray(clean.data() + i * dim, attempt[i], hi[i], rays[i].example.data());
    }
    // The next block; after a level's last block, the next level. Once blocks are single
    // coordinates (block_size 1), deeper levels are the same sweep: stay at this level.
    ++block;
    if (block == blocks || end == dim) {
      block = 0;
      if (block_size > 1) ++level;
    }
  }
  std::vector<double> adversarial = clean;
  std::vector<bool> success(n, false);
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(rays[i].distance)) continue;
    success[i] = o.eps > 0 ? reached_eps(i) : true;
    std::copy(rays[i].example.begin(), rays[i].example.end(), adversarial.begin() + i * dim);
  }
  return blackbox_output(adversarial, x, success, queries);
}

}  // namespace oa::attacks

#include "attacks/square.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "framework/core/random.h"
#include "framework/ops/ops.h"

namespace oa::attacks {

namespace {

// The pixels of one image [C, H, W], row-major.
struct Geometry {
  std::int64_t channels, height, width;
  std::int64_t at(std::int64_t ch, std::int64_t row, std::int64_t col) const { return (ch * height + row) * width + col; }
  std::int64_t size() const { return channels * height * width; }
};

// A window: the s x s square at (top, left) of every channel.
struct Window {
  std::int64_t top, left, side;
  bool contains(std::int64_t row, std::int64_t col) const {
    return row >= top && row < top + side && col >= left && col < left + side;
  }
};

std::int64_t uniform_int(Rng& rng, std::int64_t lo, std::int64_t hi) {  // in [lo, hi]
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng.engine());
}
double random_sign(Rng& rng) { return rng.uniform() < 0.5 ? -1.0 : 1.0; }

// A window of side s at a uniformly random position inside the image.
Window random_window(Rng& rng, const Geometry& g, std::int64_t side) {
  return {uniform_int(rng, 0, g.height - side), uniform_int(rng, 0, g.width - side), side};
}

// The authors' p schedule: p_init halved once for each of the iterations 10, 50, 200, 500,
// 1k, 2k, 4k, 6k, 8k (of 10k) that iteration `it` of a budget of `budget` queries has passed.
double p_schedule(double p_init, std::int64_t it, std::int64_t budget) {
  const auto t = static_cast<std::int64_t>(static_cast<double>(it) / static_cast<double>(budget) * 10000);
  double p = p_init;
  for (std::int64_t threshold : {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000})
    if (t > threshold) p /= 2;
  return p;
}

// Two candidates are the same point when no pixel moved by 1e-7 or more (the authors' test).
bool same_point(const double* a, const double* b, std::int64_t dim) {
  for (std::int64_t k = 0; k < dim; ++k)
    if (std::abs(a[k] - b[k]) >= 1e-7) return false;
  return true;
}

// ---- Linf ----------------------------------------------------------------------------------

// Vertical stripes: each column of each channel moves by one random +-eps.
void init_linf(const double* x, const Geometry& g, double eps, Rng& rng, double* out) {
  for (std::int64_t ch = 0; ch < g.channels; ++ch)
    for (std::int64_t col = 0; col < g.width; ++col) {
      const double shift = eps * random_sign(rng);
      for (std::int64_t row = 0; row < g.height; ++row)
        out[g.at(ch, row, col)] = std::clamp(x[g.at(ch, row, col)] + shift, 0.0, 1.0);
    }
}

// x_best with one random window of every channel set to a new random +-eps; the values (not
// the window) are redrawn until some pixel changes. eps > 0 makes +eps and -eps two distinct
// points of the box, so a redraw changes the window with probability at least 1 - 2^-C.
void propose_linf(const double* x, const double* best, const Geometry& g, double eps, std::int64_t side, Rng& rng,
                  double* out) {
  std::copy(best, best + g.size(), out);
  const Window w = random_window(rng, g, side);
  do {
    for (std::int64_t ch = 0; ch < g.channels; ++ch) {
      const double shift = eps * random_sign(rng);
      for (std::int64_t row = w.top; row < w.top + side; ++row)
        for (std::int64_t col = w.left; col < w.left + side; ++col)
          out[g.at(ch, row, col)] = std::clamp(x[g.at(ch, row, col)] + shift, 0.0, 1.0);
    }
  } while (same_point(out, best, g.size()));
}

// ---- L2 ------------------------------------------------------------------------------------

// A rows x cols bump of unit L2 norm: concentric rectangles around the centre, ring k
// (k = 0 the centre) adding 1 / (k + 1)^2 to every pixel it covers.
std::vector<double> pseudo_gaussian(std::int64_t rows, std::int64_t cols) {
  std::vector<double> bump(static_cast<std::size_t>(rows * cols), 0.0);
  if (bump.empty()) return bump;
  const std::int64_t row_c = rows / 2 + 1, col_c = cols / 2 + 1;
  for (std::int64_t k = 0; k < std::max(row_c, col_c); ++k) {
    const std::int64_t top = row_c - 1 - k, left = col_c - 1 - k;
    for (std::int64_t r = std::max<std::int64_t>(top, 0); r < std::min(top + 2 * k + 1, rows); ++r)
      for (std::int64_t c = std::max<std::int64_t>(left, 0); c < std::min(left + 2 * k + 1, cols); ++c)
        bump[r * cols + c] += 1.0 / static_cast<double>((k + 1) * (k + 1));
  }
  double norm = 0;
  for (double v : bump) norm += v * v;
  for (double& v : bump) v /= std::sqrt(norm);
  return bump;
}

// The s x s pattern of the L2 attack, unit norm: a bump in the top half, a negated bump in
// the bottom half, transposed with probability 1/2.
std::vector<double> two_bump_pattern(std::int64_t s, Rng& rng) {
  std::vector<double> pattern(static_cast<std::size_t>(s * s));
  const auto top = pseudo_gaussian(s / 2, s), bottom = pseudo_gaussian(s - s / 2, s);
  std::copy(top.begin(), top.end(), pattern.begin());
  std::transform(bottom.begin(), bottom.end(), pattern.begin() + static_cast<std::ptrdiff_t>(top.size()),
                 [](double v) { return -v; });
  double norm = 0;
  for (double v : pattern) norm += v * v;
  for (double& v : pattern) v /= std::sqrt(norm);
  if (rng.uniform() > 0.5)
    for (std::int64_t r = 0; r < s; ++r)
      for (std::int64_t c = r + 1; c < s; ++c) std::swap(pattern[r * s + c], pattern[c * s + r]);
  return pattern;
}

// clip(x + eps * delta / ||delta||_2, 0, 1)
void step_to_sphere(const double* x, const std::vector<double>& delta, double eps, double* out) {
  double norm = 0;
  for (double d : delta) norm += d * d;
  const double scale = norm > 0 ? eps / std::sqrt(norm) : 0.0;
  for (std::size_t k = 0; k < delta.size(); ++k) out[k] = std::clamp(x[k] + scale * delta[k], 0.0, 1.0);
}

// A tiling of two-bump patterns of side h/5 (each with a random sign per channel), starting
// where 5 tiles would be centred; tiles that do not fit inside the image are left out.
void init_l2(const double* x, const Geometry& g, double eps, Rng& rng, double* out) {
  const std::int64_t s = g.height / 5, start = (g.height - 5 * s) / 2;
  std::vector<double> delta(static_cast<std::size_t>(g.size()), 0.0);
  for (std::int64_t tile_row = 0; tile_row < g.height / s; ++tile_row)
    for (std::int64_t tile_col = 0; tile_col < g.width / s; ++tile_col) {
      const std::int64_t top = start + tile_row * s, left = start + tile_col * s;
      if (top + s > g.height || left + s > g.width) continue;
      const auto pattern = two_bump_pattern(s, rng);
      for (std::int64_t ch = 0; ch < g.channels; ++ch) {
        const double sign = random_sign(rng);
        for (std::int64_t r = 0; r < s; ++r)
          for (std::int64_t c = 0; c < s; ++c) delta[g.at(ch, top + r, left + c)] = sign * pattern[r * s + c];
      }
    }
  step_to_sphere(x, delta, eps, out);
}

// One proposal around x_best (perturbation delta = x_best - x), per channel:
//     new  = pattern * (random sign) + delta[w1] / ||delta[w1]||
//     new *= sqrt(max(eps^2 - ||delta||^2, 0) / C + ||delta[w1 u w2]||^2) / ||new||
//     delta[w2] = 0, delta[w1] = new
// so window 1 takes the mass of both windows (and any unused budget); then the whole
// perturbation is rescaled to norm eps and clipped to the box.
void propose_l2_once(const double* x, const double* best, const Geometry& g, double eps, std::int64_t side, Rng& rng,
                     double* out) {
  std::vector<double> delta(static_cast<std::size_t>(g.size()));
  double image_sq = 0;
  for (std::int64_t k = 0; k < g.size(); ++k) {
    delta[k] = best[k] - x[k];
    image_sq += delta[k] * delta[k];
  }
  const Window w1 = random_window(rng, g, side), w2 = random_window(rng, g, side);
  const auto pattern = two_bump_pattern(side, rng);
  std::vector<double> fresh(static_cast<std::size_t>(side * side));
  for (std::int64_t ch = 0; ch < g.channels; ++ch) {
    double w1_sq = 0, union_sq = 0;
    for (std::int64_t row = 0; row < g.height; ++row)
      for (std::int64_t col = 0; col < g.width; ++col) {
        const double d2 = delta[g.at(ch, row, col)] * delta[g.at(ch, row, col)];
        if (w1.contains(row, col)) w1_sq += d2;
        if (w1.contains(row, col) || w2.contains(row, col)) union_sq += d2;
      }
    const double sign = random_sign(rng);
    double fresh_sq = 0;
    for (std::int64_t r = 0; r < side; ++r)
      for (std::int64_t c = 0; c < side; ++c) {
        double& v = fresh[r * side + c];
        v = sign * pattern[r * side + c] + delta[g.at(ch, w1.top + r, w1.left + c)] / (1e-10 + std::sqrt(w1_sq));
        fresh_sq += v * v;
      }
    const double target = std::sqrt(std::max(eps * eps - image_sq, 0.0) / static_cast<double>(g.channels) + union_sq);
    for (std::int64_t r = 0; r < side; ++r)
      for (std::int64_t c = 0; c < side; ++c) delta[g.at(ch, w2.top + r, w2.left + c)] = 0.0;
    for (std::int64_t r = 0; r < side; ++r)
      for (std::int64_t c = 0; c < side; ++c)
        delta[g.at(ch, w1.top + r, w1.left + c)] = fresh[r * side + c] * target / std::sqrt(fresh_sq);
  }
  step_to_sphere(x, delta, eps, out);
}

// A proposal that reproduces x_best is redrawn (at most 100 times, so that a degenerate
// input, e.g. one the box pins to x_best, cannot loop forever; the last draw is then sent).
void propose_l2(const double* x, const double* best, const Geometry& g, double eps, std::int64_t side, Rng& rng,
                double* out) {
  constexpr int max_draws = 100;
  for (int draw = 0; draw < max_draws; ++draw) {
    propose_l2_once(x, best, g, eps, side, rng, out);
    if (!same_point(out, best, g.size())) return;
  }
}

// The window side for the fraction p of the pixels of a channel: Linf in [1, min(H, W) - 1]
// (the authors' bounds), L2 odd and in [3, min(H, W)].
std::int64_t window_side(Norm norm, double p, const Geometry& g) {
  const auto s = static_cast<std::int64_t>(std::round(std::sqrt(p * static_cast<double>(g.height * g.width))));
  const std::int64_t fit = std::min(g.height, g.width);
  if (norm == Norm::Linf) return std::clamp<std::int64_t>(s, 1, fit - 1);
  std::int64_t odd = std::max<std::int64_t>(s, 3);
  if (odd % 2 == 0) odd += 1;
  return std::min(odd, fit);
}

// One query per row: the margin loss z_y - max_{j != y} z_j of each candidate.
std::vector<double> margin_losses(ScoreQueryModel& model, const std::vector<double>& batch,
                                  const std::vector<std::int64_t>& rows, const std::vector<std::int64_t>& y,
                                  const Tensor& x) {
  std::vector<std::int64_t> row_labels(rows.size());
  for (std::size_t b = 0; b < rows.size(); ++b) row_labels[b] = y[rows[b]];
  const Tensor scores = model.scores(candidate_batch(batch, static_cast<std::int64_t>(rows.size()), x), rows);
  const Tensor labels = Tensor::from_vector(row_labels, {static_cast<std::int64_t>(rows.size())}).to(scores.device());
  return margin(scores, labels).to_vector<double>();
}

}  // namespace

AttackOutput square(ScoreQueryModel& model, const Tensor& x, const Tensor& labels, const SquareOptions& o) {
  check_blackbox_inputs(model, x, labels, "square");
  const bool linf = o.norm == Norm::Linf;
  const Geometry g{x.size(1), x.size(2), x.size(3)};
  const std::int64_t min_side = linf ? 2 : 5;
  OA_CHECK(std::min(g.height, g.width) >= min_side, "square: {} images need H, W >= {}, got {}",
           linf ? "Linf" : "L2", min_side, shape_str(x.shape()));
  const double p_init = o.p_init > 0 ? o.p_init : (linf ? 0.05 : 0.1);
  OA_CHECK(o.eps > 0 && p_init <= 1, "square: invalid eps {} or p_init {}", o.eps, o.p_init);
  const std::int64_t n = x.size(0), dim = g.size();
  const auto clean = x.to_vector<double>();
  const auto y = labels.to_vector<std::int64_t>();
  Rng rng(o.seed);
  std::vector<double> best = clean, loss(n, std::numeric_limits<double>::infinity());
  std::vector<bool> success(n, false);
  std::vector<std::int64_t> queries(n, 0);
  // it = -1: the initialisation; then one proposal per running sample and iteration.
  for (std::int64_t it = -1;; ++it) {
    std::vector<std::int64_t> running;  // samples not yet broken with budget left
    for (std::int64_t i = 0; i < n; ++i)
      if (!success[i] && model.remaining(i) > 0) running.push_back(i);
    if (running.empty()) break;
    const std::int64_t side = it < 0 ? 0 : window_side(o.norm, p_schedule(p_init, it, model.budget()), g);
    std::vector<double> batch(running.size() * dim);
    for (std::size_t b = 0; b < running.size(); ++b) {
      const double *x_i = clean.data() + running[b] * dim, *best_i = best.data() + running[b] * dim;
      double* out = batch.data() + b * dim;
      if (it < 0)
        (linf ? init_linf : init_l2)(x_i, g, o.eps, rng, out);
      else
        (linf ? propose_linf : propose_l2)(x_i, best_i, g, o.eps, side, rng, out);
    }
    const auto m = margin_losses(model, batch, running, y, x);
    for (std::size_t b = 0; b < running.size(); ++b) {
      const std::int64_t i = running[b];
      queries[i] += 1;
      if (m[b] < loss[i]) {  // keep the candidate only if the loss drops
        loss[i] = m[b];
        std::copy(batch.begin() + b * dim, batch.begin() + (b + 1) * dim, best.begin() + i * dim);
        success[i] = m[b] < 0;
      }
    }
  }
  return blackbox_output(best, x, success, queries);
}

}  // namespace oa::attacks

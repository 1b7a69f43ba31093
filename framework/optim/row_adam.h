#pragma once
// Adam (Kingma & Ba 2015) with independent state per row of a tensor w [N, ...]: each row has
// its own moments and its own step count t, so that one row can start afresh (reset) or
// stand still (not active) while the others go on. For a row at step t:
//     m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   w <- w - lr m^ / (sqrt(v^) + eps)
// with the bias corrections m^ = m / (1 - b1^t), v^ = v / (1 - b2^t). Used where each row is
// its own problem, e.g. one perturbation per sample of a batch. The moments live with w (on
// the GPU for a GPU tensor); only the N step counts are kept on the host.
#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::optim {

struct RowAdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class RowAdam {
 public:
  // Moments shaped, typed and placed like w [N, ...]; every row at step 0.
  RowAdam(const Tensor& w, const RowAdamOptions& options);
  // Zeroes the moments and the step count of the rows where rows[i] is true (N flags).
  void reset(const std::vector<bool>& rows);
  // One step, from grad (w's shape), on the rows of w where active[i] is true (N flags);
  // the other rows, their moments and their step counts stay as they are.
  void step(Tensor& w, const Tensor& grad, const std::vector<bool>& active);

 private:
  RowAdamOptions options_;
  Tensor m_, v_;
  std::vector<std::int64_t> steps_;  // steps taken, per row
};

}  // namespace oa::optim

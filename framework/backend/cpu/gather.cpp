// gather over the rows of x[N, C] (out[n] = x[n, index[n]]) and its backward; one_hot, the
// same scatter with ones.
#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

void gather_rows(const Tensor& x, const Tensor& index, Tensor& out) {
  dispatch_floating(x.dtype(), "gather", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t cols = x.size(1);
    const std::int64_t* pi = index.data<std::int64_t>();
    for (std::int64_t i = 0; i < x.size(0); ++i) out.data<T>()[i] = x.data<T>()[i * cols + pi[i]];
  });
}

void gather_rows_backward(const Tensor& grad_out, const Tensor& index, Tensor& grad_x) {
  fill(grad_x, 0.0);
  dispatch_floating(grad_x.dtype(), "gather backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t cols = grad_x.size(1);
    const std::int64_t* pi = index.data<std::int64_t>();
    for (std::int64_t i = 0; i < grad_x.size(0); ++i) grad_x.data<T>()[i * cols + pi[i]] = grad_out.data<T>()[i];
  });
}

void one_hot(const Tensor& labels, Tensor& out) {
  fill(out, 0.0);
  dispatch_floating(out.dtype(), "one_hot", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t cols = out.size(1);
    for (std::int64_t i = 0; i < out.size(0); ++i) out.data<T>()[i * cols + labels.data<std::int64_t>()[i]] = T(1);
  });
}

}  // namespace oa::cpu

// Kernels over rows of logits x[N, C]: log-softmax, gather, the CW margin, one-hot.
#include <cmath>
#include <limits>

#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

// y = (x - max(x)) - log(sum(exp(x - max(x))))
// Shifting by the max avoids overflow; subtracting it before the log term (not as one
// log-normaliser) keeps float32 precision when the logits are large.
void log_softmax_forward(const Tensor& x, Tensor& y) {
  dispatch_floating(x.dtype(), "log_softmax", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* row = px + i * cols;
      T mx = row[0];
      for (std::int64_t j = 1; j < cols; ++j) mx = std::max(mx, row[j]);
      T sum = 0;
      for (std::int64_t j = 0; j < cols; ++j) sum += std::exp(row[j] - mx);
      const T log_sum = std::log(sum);
      for (std::int64_t j = 0; j < cols; ++j) py[i * cols + j] = (row[j] - mx) - log_sum;
    }
  });
}

// dx = dy - softmax(x) * sum(dy), with softmax = exp(y)
void log_softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  dispatch_floating(y.dtype(), "log_softmax backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = y.size(0), cols = y.size(1);
    const T* py = y.data<T>();
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    for (std::int64_t i = 0; i < rows; ++i) {
      T sum = 0;
      for (std::int64_t j = 0; j < cols; ++j) sum += pg[i * cols + j];
      for (std::int64_t j = 0; j < cols; ++j) pgx[i * cols + j] = pg[i * cols + j] - std::exp(py[i * cols + j]) * sum;
    }
  });
}

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

void margin_forward(const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up) {
  dispatch_floating(x.dtype(), "margin", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const T* px = x.data<T>();
    const std::int64_t* py = labels.data<std::int64_t>();
    for (std::int64_t i = 0; i < rows; ++i) {
      T best = -std::numeric_limits<T>::infinity();
      std::int64_t arg = -1;
      for (std::int64_t j = 0; j < cols; ++j)
        if (j != py[i] && (px[i * cols + j] > best || arg < 0)) best = px[i * cols + j], arg = j;
      margin.data<T>()[i] = px[i * cols + py[i]] - best;
      runner_up.data<std::int64_t>()[i] = arg;
    }
  });
}

// d margin / d x[n, y_n] = 1,  d margin / d x[n, runner_up_n] = -1
void margin_backward(const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x) {
  fill(grad_x, 0.0);
  dispatch_floating(grad_x.dtype(), "margin backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t cols = grad_x.size(1);
    T* pgx = grad_x.data<T>();
    for (std::int64_t i = 0; i < grad_x.size(0); ++i) {
      const T g = grad_margin.data<T>()[i];
      pgx[i * cols + labels.data<std::int64_t>()[i]] += g;
      pgx[i * cols + runner_up.data<std::int64_t>()[i]] -= g;
    }
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

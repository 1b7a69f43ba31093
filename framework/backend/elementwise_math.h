#pragma once
// The per-element math of the elementwise ops, each derivative right under its function.
// Unary functors: forward(x) = y and backward(x, y) = dy/dx (y is passed so that exp and
// tanh reuse their output). Binary functors: forward(a, b) and the two partials.
// OA_HOST_DEVICE lets the CUDA back end compile the very same functors.
#include <algorithm>
#include <cmath>

#ifdef __CUDACC__
#define OA_HOST_DEVICE __host__ __device__
#else
#define OA_HOST_DEVICE
#endif

namespace oa::math {

// NaN goes through every max, min and ReLU, as in PyTorch, so that a broken input or weight
// shows as NaN rather than as a plausible number. x != x holds for NaN only.
template <class T> OA_HOST_DEVICE bool is_nan(T x) { return x != x; }
// Whether `candidate` replaces `best` as the running maximum: when it is larger, or the first
// NaN (a NaN already there stays).
template <class T> OA_HOST_DEVICE bool beats_max(T candidate, T best) {
  return candidate > best || (is_nan(candidate) && !is_nan(best));
}

struct Neg {
  template <class T> OA_HOST_DEVICE T forward(T x) const { return -x; }
  template <class T> OA_HOST_DEVICE T backward(T, T) const { return T(-1); }
};
struct Exp {  // d/dx e^x = e^x = y
  template <class T> OA_HOST_DEVICE T forward(T x) const { return std::exp(x); }
  template <class T> OA_HOST_DEVICE T backward(T, T y) const { return y; }
};
struct Log {  // d/dx ln x = 1/x
  template <class T> OA_HOST_DEVICE T forward(T x) const { return std::log(x); }
  template <class T> OA_HOST_DEVICE T backward(T x, T) const { return T(1) / x; }
};
struct Tanh {  // d/dx tanh x = 1 - tanh^2 x
  template <class T> OA_HOST_DEVICE T forward(T x) const { return std::tanh(x); }
  template <class T> OA_HOST_DEVICE T backward(T, T y) const { return T(1) - y * y; }
};
struct Abs {  // d/dx |x| = sign(x), taken as 0 at 0
  template <class T> OA_HOST_DEVICE T forward(T x) const { return std::abs(x); }
  template <class T> OA_HOST_DEVICE T backward(T x, T) const { return T((x > 0) - (x < 0)); }
};
struct Sqrt {  // d/dx sqrt x = 1 / (2 sqrt x)
  template <class T> OA_HOST_DEVICE T forward(T x) const { return std::sqrt(x); }
  template <class T> OA_HOST_DEVICE T backward(T, T y) const { return T(0.5) / y; }
};
struct Square {  // d/dx x^2 = 2x
  template <class T> OA_HOST_DEVICE T forward(T x) const { return x * x; }
  template <class T> OA_HOST_DEVICE T backward(T x, T) const { return T(2) * x; }
};
// d/dx max(x, 0) = [x > 0]; NaN stays NaN and passes its gradient on, as in PyTorch.
// "x > 0 or NaN" is written !(x <= 0), one comparison (false for NaN): a branch-free select
// that the compiler vectorises, where the two-test form compiled to an unpredictable branch per
// element (the ReLU backward was 16% of a ResNet-20 attack step).
struct Relu {
  template <class T> OA_HOST_DEVICE T forward(T x) const { return !(x <= T(0)) ? x : T(0); }
  // From the output: y > 0 or NaN exactly where x is, and the backward pass then never reads x.
  template <class T> OA_HOST_DEVICE T backward(T, T y) const { return !(y <= T(0)) ? T(1) : T(0); }
};
struct Sign {  // -1, 0 or 1; piecewise constant: derivative 0 (PyTorch's choice at 0 too)
  template <class T> OA_HOST_DEVICE T forward(T x) const { return T((x > T(0)) - (x < T(0))); }
  template <class T> OA_HOST_DEVICE T backward(T, T) const { return T(0); }
};
struct Clamp {  // derivative 1 on [lo, hi] (bounds included, as PyTorch), 0 outside
  double lo, hi;
  template <class T> OA_HOST_DEVICE T forward(T x) const {
    const T above_lo = x < T(lo) ? T(lo) : x;  // plain comparisons: std::min is host-only for nvcc
    return T(hi) < above_lo ? T(hi) : above_lo;
  }
  template <class T> OA_HOST_DEVICE T backward(T x, T) const { return (x >= T(lo) && x <= T(hi)) ? T(1) : T(0); }
};
struct AddScalar {
  double s;
  template <class T> OA_HOST_DEVICE T forward(T x) const { return x + T(s); }
  template <class T> OA_HOST_DEVICE T backward(T, T) const { return T(1); }
};
struct MulScalar {
  double s;
  template <class T> OA_HOST_DEVICE T forward(T x) const { return x * T(s); }
  template <class T> OA_HOST_DEVICE T backward(T, T) const { return T(s); }
};
struct PowScalar {  // d/dx x^p = p x^(p-1)
  double p;
  template <class T> OA_HOST_DEVICE T forward(T x) const { return std::pow(x, T(p)); }
  template <class T> OA_HOST_DEVICE T backward(T x, T) const { return T(p) * std::pow(x, T(p - 1)); }
};

// Binary: forward(a, b), d_a(a, b) = d out / d a, d_b(a, b) = d out / d b.
struct Add {
  template <class T> OA_HOST_DEVICE T forward(T a, T b) const { return a + b; }
  template <class T> OA_HOST_DEVICE T d_a(T, T) const { return T(1); }
  template <class T> OA_HOST_DEVICE T d_b(T, T) const { return T(1); }
};
struct Sub {
  template <class T> OA_HOST_DEVICE T forward(T a, T b) const { return a - b; }
  template <class T> OA_HOST_DEVICE T d_a(T, T) const { return T(1); }
  template <class T> OA_HOST_DEVICE T d_b(T, T) const { return T(-1); }
};
struct Mul {
  template <class T> OA_HOST_DEVICE T forward(T a, T b) const { return a * b; }
  template <class T> OA_HOST_DEVICE T d_a(T, T b) const { return b; }
  template <class T> OA_HOST_DEVICE T d_b(T a, T) const { return a; }
};
struct Div {  // d(a/b)/da = 1/b,  d(a/b)/db = -a/b^2
  template <class T> OA_HOST_DEVICE T forward(T a, T b) const { return a / b; }
  template <class T> OA_HOST_DEVICE T d_a(T, T b) const { return T(1) / b; }
  template <class T> OA_HOST_DEVICE T d_b(T a, T b) const { return -a / (b * b); }
};
struct Maximum {  // the gradient goes to the operand taken: the larger (a on ties), or a NaN (a if both)
  template <class T> OA_HOST_DEVICE static bool takes_a(T a, T b) { return a >= b || is_nan(a); }
  template <class T> OA_HOST_DEVICE T forward(T a, T b) const { return takes_a(a, b) ? a : b; }
  template <class T> OA_HOST_DEVICE T d_a(T a, T b) const { return takes_a(a, b) ? T(1) : T(0); }
  template <class T> OA_HOST_DEVICE T d_b(T a, T b) const { return takes_a(a, b) ? T(0) : T(1); }
};

struct Minimum {  // the gradient goes to the operand taken: the smaller (a on ties), or a NaN (a if both)
  template <class T> OA_HOST_DEVICE static bool takes_a(T a, T b) { return a <= b || is_nan(a); }
  template <class T> OA_HOST_DEVICE T forward(T a, T b) const { return takes_a(a, b) ? a : b; }
  template <class T> OA_HOST_DEVICE T d_a(T a, T b) const { return takes_a(a, b) ? T(1) : T(0); }
  template <class T> OA_HOST_DEVICE T d_b(T a, T b) const { return takes_a(a, b) ? T(0) : T(1); }
};

// The backward of a binary op, one operand at a time: grad * d out / d a (or / d b).
template <class F>
struct GradA {
  template <class T> OA_HOST_DEVICE T operator()(T a, T b, T grad) const { return grad * F{}.d_a(a, b); }
};
template <class F>
struct GradB {
  template <class T> OA_HOST_DEVICE T operator()(T a, T b, T grad) const { return grad * F{}.d_b(a, b); }
};

}  // namespace oa::math

// Parity with PyTorch. make_references.py saved, per case, the inputs, an upstream gradient
// R, PyTorch's output and the gradient of every input after out.backward(R). Each test runs
// our op on the same inputs, in float32 and in float64, backpropagates R and compares.
//
// Error metric, per compared tensor: max_i |ours_i - torch_i| / max(max_i |torch_i|, 1e-6),
// the largest deviation relative to the reference's scale. The references are float64
// results rounded to float32, so float64 runs are held to 1e-6 and float32 runs to 1e-4.
// Every comparison prints one line (see them with ctest -V).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "framework/io/npy.h"
#include "framework/ops/ops.h"

namespace fs = std::filesystem;
using oa::DType;
using oa::Tensor;

namespace {

// The reference directory named by OA_PARITY_REFS (ctest sets it after the fixture test
// parity_references has filled it). A missing or incomplete directory fails the test.
fs::path refs_dir() {
  const std::string hint =
      "run the parity tests through ctest (ctest -L parity): its test parity_references runs "
      "make_references.py, which needs PyTorch (apt install python3-torch)";
  const char* env = std::getenv("OA_PARITY_REFS");
  if (env == nullptr) FAIL("OA_PARITY_REFS is not set; " << hint);
  const std::string dir = env;
  if (!fs::exists(fs::path(dir) / "COMPLETE")) FAIL("no complete set of references in " << dir << "; " << hint);
  return dir;
}

template <class T>
constexpr double kTolerance = std::is_same_v<T, float> ? 1e-4 : 1e-6;

// One reference case, run with floating type T.
template <class T>
class Case {
 public:
  explicit Case(std::string name) : name_(std::move(name)), dir_(refs_dir()) {}

  // A differentiated input: converted to T; check() compares its gradient.
  Tensor input(const std::string& name) {
    Tensor t = load(name).to(oa::dtype_of<T>());
    t.set_requires_grad();
    inputs_.emplace_back(name, t);
    return t;
  }

  // A tensor without gradient: labels stay int64, floats are converted to T.
  Tensor constant(const std::string& name) const {
    const Tensor t = load(name);
    return t.dtype() == DType::Int64 ? t : t.to(oa::dtype_of<T>());
  }

  // Compares `out` with PyTorch's, then backpropagates R and compares every input's gradient.
  void check(const Tensor& out) {
    compare("out", out);
    out.backward(constant("R"));
    for (const auto& [name, t] : inputs_) compare("grad_" + name, t.grad());
  }

  // Compares `ours` with the reference tensor `name` of this case.
  void compare(const std::string& name, const Tensor& ours) const {
    const Tensor ref = load(name);
    INFO(name_ << "." << name << " in " << oa::dtype_name(oa::dtype_of<T>()));
    REQUIRE(ours.defined());
    REQUIRE(ours.shape() == ref.shape());
    const std::vector<double> a = ours.to_vector<double>(), b = ref.to_vector<double>();
    REQUIRE(std::ranges::all_of(a, [](double v) { return std::isfinite(v); }));
    double max_diff = 0, max_ref = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
      max_ref = std::max(max_ref, std::abs(b[i]));
    }
    const double error = max_diff / std::max(max_ref, 1e-6);
    fmt::print("{:<24} {:<18} {:<8} relative error {:.1e}\n", name_, name, oa::dtype_name(oa::dtype_of<T>()), error);
    CHECK(error <= kTolerance<T>);
  }

 private:
  Tensor load(const std::string& name) const {
    return oa::io::read_npy((dir_ / (name_ + "." + name + ".npy")).string());
  }

  std::string name_;
  fs::path dir_;
  std::vector<std::pair<std::string, Tensor>> inputs_;
};

}  // namespace

TEST_CASE_TEMPLATE("parity: conv2d", T, float, double) {
  struct Config {
    const char* name;
    bool bias;
    std::int64_t stride, padding, groups;
  };
  for (const Config& c : {Config{"conv2d_3x3_s1_p1", false, 1, 1, 1}, Config{"conv2d_3x3_s2_p1_bias", true, 2, 1, 1},
                          Config{"conv2d_1x1_s2", false, 2, 0, 1}, Config{"conv2d_3x3_p1_groups2", true, 1, 1, 2}}) {
    Case<T> ref(c.name);
    const Tensor x = ref.input("x"), w = ref.input("w");
    const Tensor b = c.bias ? ref.input("b") : Tensor();
    ref.check(oa::conv2d(x, w, b, c.stride, c.padding, c.groups));
  }
}

TEST_CASE_TEMPLATE("parity: batch_norm2d", T, float, double) {
  for (const bool training : {true, false}) {
    Case<T> ref(training ? "batch_norm2d_train" : "batch_norm2d_eval");
    const Tensor x = ref.input("x"), gamma = ref.input("weight"), beta = ref.input("bias");
    Tensor running_mean = ref.constant("running_mean"), running_var = ref.constant("running_var");
    ref.check(oa::batch_norm2d(x, gamma, beta, running_mean, running_var, training, 0.1, 1e-5));
    ref.compare("new_running_mean", running_mean);  // moved with momentum 0.1 when training,
    ref.compare("new_running_var", running_var);    // unchanged in eval mode
  }
}

TEST_CASE_TEMPLATE("parity: pooling", T, float, double) {
  struct Config {
    const char* name;
    Tensor (*pool)(const Tensor&, std::int64_t, std::int64_t, std::int64_t);
    std::int64_t kernel, stride, padding;
  };
  for (const Config& c : {Config{"max_pool2d_k2_s2", oa::max_pool2d, 2, 2, 0},
                          Config{"max_pool2d_k3_s2_p1", oa::max_pool2d, 3, 2, 1},
                          Config{"avg_pool2d_k2_s2", oa::avg_pool2d, 2, 2, 0},
                          Config{"avg_pool2d_k3_s1_p1", oa::avg_pool2d, 3, 1, 1}}) {
    Case<T> ref(c.name);
    ref.check(c.pool(ref.input("x"), c.kernel, c.stride, c.padding));
  }
  Case<T> ref("global_avg_pool2d");
  ref.check(oa::global_avg_pool2d(ref.input("x")));
}

TEST_CASE_TEMPLATE("parity: linear", T, float, double) {
  Case<T> ref("linear");
  const Tensor x = ref.input("input"), w = ref.input("weight"), b = ref.input("bias");
  ref.check(oa::linear(x, w, b));
}

TEST_CASE_TEMPLATE("parity: log_softmax", T, float, double) {
  Case<T> ref("log_softmax");
  ref.check(oa::log_softmax(ref.input("x")));
}

TEST_CASE_TEMPLATE("parity: cross_entropy", T, float, double) {
  for (const auto& [name, smoothing] : {std::pair{"cross_entropy", 0.0}, std::pair{"cross_entropy_smooth0.1", 0.1}}) {
    Case<T> ref(name);
    const Tensor logits = ref.input("logits");
    ref.check(oa::cross_entropy(logits, ref.constant("labels"), smoothing));
  }
}

// Tensors on the GPU: creation, casts, copies, views, autograd bookkeeping, Module::to, the
// errors for mixed devices, and the caching allocator.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "framework/autograd/node.h"
#include "tests/cuda/cuda_compare.h"
#ifdef OA_WITH_CUDA
#include "framework/backend/cuda/cuda_memory.h"
#endif

using namespace cuda_test;

namespace {

// The values of t, converted to double, read back from wherever t lives.
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Bitwise equality of two tensors' contents (so -0.0 and denormals count too).
bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor ha = a.to(Device::CPU), hb = b.to(Device::CPU);
  return ha.dtype() == hb.dtype() && ha.shape() == hb.shape() &&
         std::memcmp(ha.raw_data(), hb.raw_data(), ha.nbytes()) == 0;
}

// Runs f and checks that it throws an oa::Error whose message contains every one of `parts`.
void check_error(const std::string& what, const std::function<void()>& f, std::initializer_list<std::string> parts) {
  std::string message;
  try {
    f();
  } catch (const oa::Error& e) {
    message = e.what();
  }
  REQUIRE_MESSAGE(!message.empty(), what << ": no oa::Error was thrown");
  for (const auto& part : parts)
    CHECK_MESSAGE(message.find(part) != std::string::npos, what << ": \"" << message << "\" does not name " << part);
}

}  // namespace

TEST_CASE("cuda tensor creation: zeros, ones, full and fill_ give the requested values in every dtype") {
  for (DType dt : kAllTypes) {
    const double value = dt == DType::Int64 ? -7 : 2.5;
    const Shape shape{5, 7};
    expect_close(tag("zeros", dt), Tensor::zeros(shape, dt, Device::CUDA), Tensor::zeros(shape, dt));
    expect_close(tag("ones", dt), Tensor::ones(shape, dt, Device::CUDA), Tensor::ones(shape, dt));
    expect_close(tag("full", dt), Tensor::full(shape, value, dt, Device::CUDA), Tensor::full(shape, value, dt));
    Tensor t = Tensor::zeros(shape, dt, Device::CUDA);
    t.fill_(-value);
    expect_close(tag("fill_", dt), t, Tensor::full(shape, -value, dt));
    expect_close(tag("a 0-d full", dt), Tensor::full({}, value, dt, Device::CUDA), Tensor::full({}, value, dt));
  }
  // More elements than one grid of the elementwise kernels covers (65535 blocks of 256): the
  // grid-stride loop must reach the tail.
  const Shape large{(std::int64_t{65535} * 256) + 1001};
  const Tensor big = Tensor::full(large, 3.0, DType::Float32, Device::CUDA);
  const auto v = big.to_vector<float>();
  CHECK(std::count(v.begin(), v.end(), 3.0f) == static_cast<std::ptrdiff_t>(v.size()));
  // Empty tensors exist on the GPU too.
  CHECK(Tensor::zeros({0, 3}, DType::Float32, Device::CUDA).to(Device::CPU).numel() == 0);
}

TEST_CASE("cuda casts between float32, float64 and int64 give the CPU's values (int64: truncation)") {
  oa::Rng rng(20);
  const Tensor source = constant({6, 50}, DType::Float64, rng, -10, 10);
  for (DType from : kAllTypes)
    for (DType to : kAllTypes) {
      const Tensor cpu = source.to(from);
      const Tensor cuda = cpu.to(Device::CUDA).to(to);
      CHECK(cuda.device() == Device::CUDA);
      CHECK_MESSAGE(same_bits(cuda, cpu.to(to)), "cast " << oa::dtype_name(from) << " -> " << oa::dtype_name(to));
    }
}

TEST_CASE("cuda host <-> device round trips and copy_ keep every value bit for bit, in every dtype") {
  const std::vector<float> f32{0.0f, -0.0f, 1e-40f, -1e-38f, 3.4e38f, -7.25f, 1.0f / 3.0f,
                               std::numeric_limits<float>::infinity()};
  const std::vector<double> f64{0.0, -0.0, 1e-310, -2.2e-308, 1.7e308, -7.25, 1.0 / 3.0, 0.1};
  const std::vector<std::int64_t> i64{0, -1, 1, std::int64_t{1} << 53, -(std::int64_t{1} << 62), 42, 7, -9};
  for (const Tensor& host : {Tensor::from_vector(f32, {2, 4}), Tensor::from_vector(f64, {2, 4}),
                             Tensor::from_vector(i64, {2, 4})}) {
    const std::string dt(oa::dtype_name(host.dtype()));
    const Tensor device = host.to(Device::CUDA);
    CHECK(device.device() == Device::CUDA);
    CHECK(device.shape() == host.shape());
    CHECK_MESSAGE(same_bits(device, host), dt << ": host -> device -> host");
    CHECK_MESSAGE(device.to(Device::CUDA).same_storage(device), dt << ": to(CUDA) of a CUDA tensor is itself");
    // copy_ across devices, both ways, into existing tensors.
    Tensor on_device = Tensor::zeros(host.shape(), host.dtype(), Device::CUDA);
    on_device.copy_(host);
    CHECK_MESSAGE(same_bits(on_device, host), dt << ": copy_ host -> device");
    Tensor on_host = Tensor::zeros(host.shape(), host.dtype());
    on_host.copy_(device);
    CHECK_MESSAGE(same_bits(on_host, host), dt << ": copy_ device -> host");
  }
  // copy_ converts the dtype too: a float32 host tensor into a float64 device tensor.
  Tensor wide = Tensor::zeros({2, 4}, DType::Float64, Device::CUDA);
  wide.copy_(Tensor::from_vector(f32, {2, 4}));
  CHECK(same_bits(wide, Tensor::from_vector(f32, {2, 4}).to(DType::Float64)));
  // One element: item() reads it back from the GPU; at() is CPU-only and says so.
  const Tensor one = Tensor::full({}, -1.5, DType::Float32, Device::CUDA);
  CHECK(one.item() == -1.5);
  check_error("at() on a GPU tensor", [&] { (void)one.reshape({1}).at({0}); }, {"at", "cuda"});
}

TEST_CASE("cuda clone is a new GPU storage with the same values; reshape and flatten are views of it") {
  oa::Rng rng(21);
  const Tensor x = constant({4, 3, 5}, DType::Float32, rng).to(Device::CUDA);
  const Tensor copy = x.clone();
  CHECK(copy.device() == Device::CUDA);
  CHECK_FALSE(copy.same_storage(x));
  CHECK(same_bits(copy, x));
  Tensor scratch = x.clone();
  scratch.fill_(0);
  CHECK_MESSAGE(same_bits(copy, x), "filling a clone changed the original");

  const Tensor view = x.reshape({12, -1}), flat = x.flatten(0);
  CHECK(view.same_storage(x));
  CHECK(flat.same_storage(x));
  CHECK(view.shape() == Shape{12, 5});
  CHECK(values(flat) == values(x));
  // Autograd through views on the GPU: the gradient is reshaped back, and stays on the GPU.
  for (DType dt : kFloatTypes)
    check_op(tag("reshape and flatten views", dt),
             [](auto& in) { return oa::mul(in[0].reshape({12, 5}), in[0].flatten(1).reshape({12, 5})); },
             {input({4, 3, 5}, dt, rng)});
}

TEST_CASE("cuda autograd: gradients accumulate over two backward passes as on the CPU, and zero_grad clears them") {
  for (DType dt : kFloatTypes) {
    oa::Rng rng(22);
    const Tensor x0 = input({3, 4}, dt, rng);
    Tensor cpu = x0.clone().set_requires_grad(), cuda = x0.to(Device::CUDA).set_requires_grad();
    for (Tensor* x : {&cpu, &cuda})
      for (int pass = 0; pass < 2; ++pass) oa::sum(oa::mul(oa::tanh(*x), *x)).backward();
    expect_close(tag("accumulated gradient", dt), cuda.grad(), cpu.grad());
    cuda.zero_grad();
    CHECK_FALSE(cuda.grad().defined());
    // With recording off, nothing requires grad on the GPU either.
    oa::NoGradGuard no_grad;
    CHECK_FALSE(oa::mul(cuda, cuda).requires_grad());
  }
}

TEST_CASE("cuda Module::to(Device::CUDA) moves every parameter and floating buffer, keeps values and requires_grad, and back") {
  const auto model = small_model(3);
  const auto reference = small_model(3);  // the same weights, staying on the CPU
  model->to(Device::CUDA);
  CHECK(model->device() == Device::CUDA);
  const auto params = model->named_parameters(), ref_params = reference->named_parameters();
  const auto buffers = model->named_buffers(), ref_buffers = reference->named_buffers();
  REQUIRE(params.size() == ref_params.size());
  REQUIRE(buffers.size() == ref_buffers.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK_MESSAGE(params[i].second.device() == Device::CUDA, params[i].first);
    CHECK_MESSAGE(params[i].second.requires_grad(), params[i].first << " lost requires_grad");
    CHECK_MESSAGE(same_bits(params[i].second, ref_params[i].second), params[i].first);
  }
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    // Floating buffers move; int64 counters (num_batches_tracked) stay on the host.
    const Device expected = buffers[i].second.dtype() == DType::Int64 ? Device::CPU : Device::CUDA;
    CHECK_MESSAGE(buffers[i].second.device() == expected, buffers[i].first);
    CHECK_MESSAGE(same_bits(buffers[i].second, ref_buffers[i].second), buffers[i].first);
  }
  // The module's own handles (Conv2d::weight, ...) see the move: a forward runs on the GPU.
  oa::Rng rng(23);
  const Tensor x = constant({2, 2, 6, 6}, DType::Float32, rng);
  model->eval();
  reference->eval();
  expect_close("small model forward after Module::to(CUDA)", (*model)(x.to(Device::CUDA)), (*reference)(x));

  model->to(Device::CPU);
  CHECK(model->device() == Device::CPU);
  for (const auto& [name, t] : model->named_parameters()) CHECK_MESSAGE(t.device() == Device::CPU, name);
  for (const auto& [name, t] : model->named_buffers()) CHECK_MESSAGE(t.device() == Device::CPU, name);
  const auto back = model->named_parameters();
  for (std::size_t i = 0; i < back.size(); ++i) CHECK_MESSAGE(same_bits(back[i].second, ref_params[i].second), back[i].first);
}

TEST_CASE("cuda device mismatch: a CPU and a CUDA tensor in one op throw an oa::Error naming the op and both devices") {
  oa::Rng rng(24);
  const Tensor a = constant({2, 3}, DType::Float32, rng), a_gpu = a.to(Device::CUDA);
  const Tensor x = constant({1, 2, 6, 6}, DType::Float32, rng), x_gpu = x.to(Device::CUDA);
  const Tensor w = constant({4, 2, 3, 3}, DType::Float32, rng), w_gpu = w.to(Device::CUDA);
  const Tensor b = constant({4}, DType::Float32, rng);
  // Checked by the ops themselves.
  check_error("add", [&] { oa::add(a, a_gpu); }, {"add", "cpu", "cuda"});
  check_error("mul with broadcasting", [&] { oa::mul(a_gpu, constant({3}, DType::Float32, rng)); }, {"mul", "cpu", "cuda"});
  check_error("matmul", [&] { oa::matmul(a_gpu, oa::transpose(a)); }, {"matmul", "cpu", "cuda"});
  check_error("linear", [&] { oa::linear(a, a_gpu); }, {"linear", "cpu", "cuda"});
  check_error("conv2d input vs weight", [&] { oa::conv2d(x, w_gpu); }, {"conv2d", "cpu", "cuda"});
  // Caught where the kernel is entered (backend/dispatch.h), naming the kernel.
  check_error("conv2d bias", [&] { oa::conv2d(x_gpu, w_gpu, b); }, {"conv2d", "cpu", "cuda"});
  check_error("cross_entropy with CPU labels", [&] { oa::cross_entropy(a_gpu, labels(2, 3, rng)); },
              {"gather", "cpu", "cuda"});
  Tensor mean = Tensor::zeros({2}), var = Tensor::ones({2});
  check_error("batch_norm2d with CPU running statistics", [&] { oa::batch_norm2d(x_gpu, {}, {}, mean, var, true); },
              {"batch_norm2d", "cpu", "cuda"});
  // The everyday mistake: a CPU model on a GPU batch.
  const auto model = small_model(4);
  check_error("a CPU model on a GPU input", [&] { (*model)(x_gpu); }, {"conv2d", "cpu", "cuda"});
  // A kernel without a CUDA version refuses GPU tensors with its name, not a crash.
  const auto sparse = std::make_shared<const oa::SparseConvWeight>(oa::SparseConvWeight::from_dense(w));
  check_error("sparse_conv2d (CPU only) on a GPU input", [&] { oa::sparse_conv2d(x_gpu, sparse); },
              {"sparse_conv2d", "cuda", "CPU"});
}

#ifdef OA_WITH_CUDA
TEST_CASE("cuda memory cache: a released block is reused (one cudaMalloc for two same-size tensors); in_use returns") {
  oa::cuda::synchronize();
  oa::cuda::empty_cache();
  CHECK(oa::cuda::memory_stats().cached == 0);
  // A large block (3 MiB, rounded to 2 MiB units) and a small one (4000 bytes, 512-byte units).
  for (const Shape& shape : {Shape{3, 1 << 18}, Shape{1000}}) {
    CAPTURE(oa::shape_str(shape));
    const oa::cuda::MemoryStats before = oa::cuda::memory_stats();
    std::size_t bytes = 0;
    {
      const Tensor first = Tensor::empty(shape, DType::Float32, Device::CUDA);
      bytes = first.nbytes();
      const auto during = oa::cuda::memory_stats();
      CHECK(during.raw_allocations == before.raw_allocations + 1);
      CHECK(during.in_use >= before.in_use + bytes);
      CHECK(during.peak_in_use >= during.in_use);
    }
    const auto released = oa::cuda::memory_stats();
    CHECK(released.in_use == before.in_use);
    CHECK(released.cached >= before.cached + bytes);
    {
      const Tensor second = Tensor::empty(shape, DType::Float32, Device::CUDA);
      CHECK_MESSAGE(oa::cuda::memory_stats().raw_allocations == before.raw_allocations + 1,
                    "the second tensor of the same size was not served from the cache");
    }
    CHECK(oa::cuda::memory_stats().in_use == before.in_use);
  }
  oa::cuda::empty_cache();
  CHECK(oa::cuda::memory_stats().cached == 0);
}
#endif

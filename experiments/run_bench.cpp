// run_bench: our kernels and training step side by side with PyTorch, in one run, on the
// CPU or (--device cuda) on the GPU for both sides.
// Prints median seconds per iteration for both and the ratio ours / PyTorch (< 1: we are
// faster). The PyTorch column comes from experiments/bench_torch.py, started from here.
// Each round times every case on our side and then at once on PyTorch's, and each case keeps
// each side's fastest round: on a shared machine, where the speed drifts from minute to minute,
// the two sides of a ratio are then measured seconds apart, and a neighbour's burst slows one
// round, not a side.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>

#include "attacks/cw_l2.h"
#include "experiments/common/cli.h"
#include "framework/autograd/node.h"
#include "framework/core/random.h"
#include "framework/io/atomic_file.h"
#include "framework/nn/fold_batch_norm.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizer.h"
#include "framework/prune/magnitude.h"
#include "framework/prune/to_sparse.h"
#include "framework/util/runtime.h"
#include "models/zoo.h"

namespace {

using namespace oa;
using Clock = std::chrono::steady_clock;

Device g_device = Device::CPU;  // where our side runs (--device)

// Median seconds per call of fn: 2 warm-up calls, then at least 3 calls and min_time seconds.
// Each call waits for the device, so GPU time is counted in full.
double median_seconds(const std::function<void()>& body, double min_time) {
  const auto fn = [&] {
    body();
    synchronize(g_device);
  };
  fn();
  fn();
  std::vector<double> times;
  const auto start = Clock::now();
  while (times.size() < 3 || std::chrono::duration<double>(Clock::now() - start).count() < min_time) {
    const auto t0 = Clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

// The workloads. "quick" (the default): ResNet-20's convolution shapes on 28x28 and the
// small CNN and ResNet-20 steps at batch 128; "resnet50": the ImageNet depth ladder,
// ResNet-50, -101 and -152 at 3x224x224, batch 16;
// "sparse": ResNet-20 pruned globally to rising sparsities, dense path against the sparse
// one (prune::to_sparse), ours only. The list is sent to bench_torch.py.
nlohmann::json bench_cases(const std::string& suite, std::int64_t batch) {
  auto conv = [&](const char* name, std::int64_t cin, std::int64_t size, std::int64_t cout, std::int64_t stride) {
    return nlohmann::json{{"kind", "conv"}, {"name", name}, {"batch", batch}, {"cin", cin},      {"size", size},
                          {"cout", cout},   {"kernel", 3},  {"stride", stride}, {"pad", 1}};
  };
  auto model = [](const std::string& name, std::int64_t cin, std::int64_t size, std::int64_t b) {
    // The CW-L2 loop is timed over this many iterations (fewer for the slow 224x224 models).
    const std::int64_t cw_iterations = size >= 100 ? 3 : 20;
    return nlohmann::json{{"kind", "model"}, {"name", fmt::format("{} {}x{}x{} b{}", name, cin, size, size, b)},
                          {"model", name},   {"batch", b}, {"cin", cin}, {"size", size},
                          {"cw_iterations", cw_iterations}};
  };
  if (suite == "resnet50") {
    const std::int64_t b = batch == 128 ? 16 : batch;
    return nlohmann::json::array({model("resnet50", 3, 224, b), model("resnet101", 3, 224, b), model("resnet152", 3, 224, b)});
  }
  if (suite == "sparse") {
    auto cases = nlohmann::json::array();
    for (const double s : {0.5, 0.8, 0.9, 0.95, 0.98}) {
      auto c = model("resnet20", 1, 28, batch);
      c["kind"] = "sparse";
      c["sparsity"] = s;
      c["name"] = fmt::format("{} sparsity {:g}", c["name"].get<std::string>(), s);
      cases.push_back(c);
    }
    return cases;
  }
  OA_CHECK(suite == "quick", "--suite must be 'quick', 'resnet50' or 'sparse', got '{}'", suite);
  return nlohmann::json::array({conv("conv 16->16 28x28", 16, 28, 16, 1), conv("conv 32->32 14x14", 32, 14, 32, 1),
                                conv("conv 64->64 7x7", 64, 7, 64, 1), conv("conv 16->32 s2 28x28", 16, 28, 32, 2),
                                model("small-cnn", 1, 28, batch), model("resnet20", 1, 28, batch)});
}

constexpr const char* kSparseSuffix = " (sparse path)";

std::map<std::string, double> run_ours(const nlohmann::json& cases, double min_time) {
  std::map<std::string, double> out;
  Rng rng(0);
  for (const auto& c : cases) {
    const std::string name = c["name"];
    const std::int64_t batch = c["batch"], cin = c["cin"], size = c["size"];
    std::fprintf(stderr, "bench: ours %s\n", name.c_str());
    if (c["kind"] == "conv") {
      const std::int64_t cout = c["cout"], k = c["kernel"], stride = c["stride"], pad = c["pad"];
      Tensor x = rand_uniform({batch, cin, size, size}, rng, 0, 1).to(g_device).set_requires_grad();
      Tensor w = randn({cout, cin, k, k}, rng).to(g_device).set_requires_grad();
      out[name + "/forward"] = median_seconds(
          [&] {
            NoGradGuard no_grad;
            conv2d(x, w, Tensor(), stride, pad);
          },
          min_time);
      Tensor g;
      out[name + "/backward"] = median_seconds(
          [&] {
            // The backward alone is timed only approximately here: the forward is rerun
            // because our graph is freed after each backward. Subtract the forward time.
            Tensor y = conv2d(x, w, Tensor(), stride, pad);
            if (!g.defined()) g = randn(y.shape(), rng).to(g_device);
            x.zero_grad();
            w.zero_grad();
            y.backward(g);
          },
          min_time) - out[name + "/forward"];
    } else if (c["kind"] == "sparse") {
      OA_CHECK(g_device == Device::CPU, "--suite sparse: the sparse path is CPU only");
      // Inference and the attack step of a globally pruned model (first conv dense), through
      // the dense kernels and then through the sparse path.
      auto model = models::make_model({.name = c["model"], .in_channels = cin, .image_size = size}, rng);
      prune::magnitude_prune(*model, {.sparsity = c["sparsity"].get<double>(), .keep_first_dense = true});
      model->eval();
      model->set_requires_grad(false);
      const Tensor x = rand_uniform({batch, cin, size, size}, rng, 0, 1);
      const auto forward = [&] {
        NoGradGuard no_grad;
        (*model)(x);
      };
      const auto attack_step = [&] {
        Tensor x_adv = x.detach().clone().set_requires_grad();
        sum((*model)(x_adv)).backward();
      };
      out[name + "/eval_forward"] = median_seconds(forward, min_time);
      out[name + "/attack_step"] = median_seconds(attack_step, min_time);
      prune::to_sparse(*model, 0.0);  // every pruned conv sparse, to show the crossover
      out[name + "/eval_forward" + kSparseSuffix] = median_seconds(forward, min_time);
      out[name + "/attack_step" + kSparseSuffix] = median_seconds(attack_step, min_time);
    } else {
      auto model = models::make_model({.name = c["model"], .in_channels = cin, .image_size = size}, rng);
      model->to(g_device);
      optim::SGD opt(model->parameters(), {.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
      const Tensor x = rand_uniform({batch, cin, size, size}, rng, 0, 1).to(g_device);
      std::vector<std::int64_t> label_values(static_cast<std::size_t>(batch));
      for (auto& l : label_values) l = static_cast<std::int64_t>(rng.next() % 10);
      const Tensor labels = Tensor::from_vector(label_values, {batch}).to(g_device);
      model->train();
      out[name + "/train_step"] = median_seconds(
          [&] {
            opt.zero_grad();
            cross_entropy((*model)(x), labels).backward();
            opt.step();
          },
          min_time);
      // Evaluation and attacks run the model as run_eval and the attack executables load it:
      // eval mode, frozen, BatchNorm folded into the convolutions.
      model->eval();
      model->set_requires_grad(false);
      nn::fold_batch_norm(*model);
      out[name + "/eval_forward"] = median_seconds(
          [&] {
            NoGradGuard no_grad;
            (*model)(x);
          },
          min_time);
      // The attack step: gradient w.r.t. the input only.
      out[name + "/attack_step"] = median_seconds(
          [&] {
            Tensor x_adv = x.detach().clone().set_requires_grad();
            cross_entropy((*model)(x_adv), labels).backward();
          },
          min_time);
      // The whole CW-L2 loop (tanh change of variables, margin loss, per-sample Adam and
      // bookkeeping, the final verification), seconds per iteration: what an attack costs.
      const std::int64_t iterations = c["cw_iterations"];
      const attacks::CwL2Options cw{.search_steps = 1, .iterations = iterations, .abort_early = false};
      out[name + "/cw_l2_iteration"] =
          median_seconds([&] { attacks::cw_l2(*model, x, labels, cw); }, min_time) / static_cast<double>(iterations);
    }
  }
  return out;
}

std::map<std::string, double> run_torch(const std::string& python, const std::string& script,
                                        const nlohmann::json& cases, const experiments::RuntimeOptions& runtime,
                                        double min_time, std::string& version) {
  const std::string cmd = fmt::format("'{}' '{}' --threads {} --device {} --min-time {} --cases '{}'", python, script,
                                      runtime.threads, runtime.device, min_time, cases.dump());
  std::fprintf(stderr, "bench: PyTorch (%s)\n", python.c_str());
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  OA_CHECK(pipe != nullptr, "cannot start {}", python);
  std::string text;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) text += buffer;
  OA_CHECK(!text.empty(), "{} printed nothing: is python3-torch installed? (apt-get install python3-torch)", script);
  const auto parsed = nlohmann::json::parse(text);
  std::map<std::string, double> out;
  for (const auto& [key, value] : parsed.items())
    if (value.is_number()) out[key] = value.get<double>();
  version = parsed.value("torch_version", "?");
  return out;
}

// Keeps, for every case, the smaller of the time already in `fastest` and this round's.
void keep_fastest(std::map<std::string, double>& fastest, const std::map<std::string, double>& round) {
  for (const auto& [name, seconds] : round) {
    const auto [it, fresh] = fastest.emplace(name, seconds);
    if (!fresh) it->second = std::min(it->second, seconds);
  }
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  oa::experiments::RuntimeOptions runtime;
  double min_time = 1.0;
  std::int64_t batch = 128;
  int rounds = 3;
  std::string only;
  std::string python = OA_TORCH_PYTHON, script = OA_SOURCE_DIR "/experiments/bench_torch.py", out_path;
  bool skip_torch = false;
  std::string suite = "quick", conv_engine = "auto";
  CLI::App app{"Benchmark our kernels and training step side by side with PyTorch (CPU, or the GPU with --device "
               "cuda)."};
  runtime.add_to(app);  // both sides
  app.add_option("--min-time", min_time, "Seconds of timing per measurement")
      ->capture_default_str()
      ->check(oa::experiments::Positive);
  app.add_option("--rounds", rounds,
                 "Rounds; each times every case on both sides back to back and each side keeps its fastest round")
      ->capture_default_str()
      ->check(oa::experiments::Positive);
  app.add_option("--only", only, "Run only the cases whose name contains this text (e.g. 'resnet50')");
  app.add_option("--batch-size", batch, "Batch size (resnet50 suite: 16 unless given)")
      ->capture_default_str()
      ->check(oa::experiments::Positive);
  app.add_option("--suite", suite,
                 "quick: ResNet-20 shapes and models on 28x28; resnet50: ResNet-50/101/152 at 224x224; sparse: pruned "
                 "ResNet-20, dense against sparse path (ours only)")
      ->capture_default_str();
  app.add_option("--python", python, "Python interpreter with torch")->capture_default_str();
  app.add_option("--out", out_path, "Write the results as JSON to this file");
  app.add_flag("--no-torch", skip_torch, "Time ours only");
  app.add_option("--conv-engine", conv_engine,
                 "CPU float32 convolutions: auto (oneDNN), onednn, or im2col (ours: im2col + OpenBLAS GEMM)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "onednn", "im2col"}));
  return oa::experiments::run_cli(app, argc, argv, "run_bench", [&] {
    g_device = runtime.apply();
    oa::set_cpu_conv_engine(conv_engine == "im2col"   ? oa::CpuConvEngine::im2col
                            : conv_engine == "onednn" ? oa::CpuConvEngine::onednn
                                                      : oa::CpuConvEngine::automatic);
    auto cases = nlohmann::json::array();
    for (const auto& c : bench_cases(suite, batch))
      if (c["name"].get<std::string>().find(only) != std::string::npos) cases.push_back(c);
    OA_CHECK(!cases.empty(), "--only '{}': no case of suite {} has that in its name", only, suite);
    std::string torch_version = "not run";
    const bool with_torch = !skip_torch && suite != "sparse";
    std::map<std::string, double> ours, theirs;
    for (int round = 1; round <= rounds; ++round) {
      std::fprintf(stderr, "bench: round %d of %d\n", round, rounds);
      for (const auto& one_case : cases) {  // the two sides of a case back to back
        const nlohmann::json just_this = nlohmann::json::array({one_case});
        keep_fastest(ours, run_ours(just_this, min_time));
        if (with_torch) keep_fastest(theirs, run_torch(python, script, just_this, runtime, min_time, torch_version));
      }
    }
    std::printf("run_bench: suite %s, device %s, %d threads, BLAS kernels %s, PyTorch %s, fastest of %d rounds "
                "(batch sizes in the case names)\n",
                suite.c_str(), runtime.device.c_str(), runtime.threads, oa::blas_kernels().c_str(),
                torch_version.c_str(), rounds);
    // The engine of our convolutions in every row: cuDNN on the GPU; on the CPU oneDNN or im2col.
    const std::string engine = g_device == Device::CUDA ? "cudnn"
                               : oa::cpu_conv_engine(DType::Float32) == oa::CpuConvEngine::onednn ? "onednn"
                                                                                                   : "im2col";
    std::printf("%-40s %12s %12s %8s  %s\n", "case", "ours ms", "torch ms", "ratio", "our conv engine");
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& [name, seconds] : ours) {
      const auto it = theirs.find(name);
      const double torch_s = it == theirs.end() ? 0.0 : it->second;
      std::printf("%-40s %12.3f %12.3f %8s  %s\n", name.c_str(), 1e3 * seconds, 1e3 * torch_s,
                  torch_s > 0 ? fmt::format("{:.2f}", seconds / torch_s).c_str() : "-", engine.c_str());
      rows.push_back({{"case", name}, {"ours_s", seconds}, {"torch_s", torch_s},
                      {"ratio", torch_s > 0 ? seconds / torch_s : 0.0}, {"conv_engine", engine}});
    }
    std::printf("ratio = ours / PyTorch time (below 1: ours is faster)\n");
    for (const auto& [name, sparse_s] : ours) {  // the sparse suite: speed-up of the sparse path
      const auto cut = name.find(kSparseSuffix);
      if (cut == std::string::npos) continue;
      const double dense_s = ours.at(name.substr(0, cut));
      std::printf("speed-up of the sparse path, %-50s %6.2fx (dense %.1f ms, sparse %.1f ms)\n",
                  name.substr(0, cut).c_str(), dense_s / sparse_s, 1e3 * dense_s, 1e3 * sparse_s);
      rows.push_back({{"case", name}, {"dense_s", dense_s}, {"sparse_s", sparse_s}, {"speedup", dense_s / sparse_s}});
    }
    if (!out_path.empty())
      oa::io::write_file_atomic(out_path, nlohmann::json{{"threads", runtime.threads}, {"device", runtime.device}, {"batch", batch},
                                                         {"rounds", rounds}, {"blas", oa::blas_kernels()}, {"torch", torch_version},
                                                         {"rows", rows}}.dump(2));
    return 0;
  });
}

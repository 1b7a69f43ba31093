#include "experiments/common/ladder.h"

#include <cstdio>

#include "experiments/common/training.h"
#include "framework/dist/dist.h"
#include "framework/io/atomic_file.h"
#include "framework/io/npy.h"
#include "framework/prune/capacity.h"

namespace oa::experiments {

std::string rung_name(double sparsity) { return fmt::format("rung-{:g}", sparsity); }

const std::vector<std::string> kLadderColumns = {
    "rung",          "sparsity_target", "sparsity",        "nonzero_parameters", "parameters",
    "nonzero_weights", "weights",       "flops_dense",     "flops_effective",    "train_accuracy",
    "test_accuracy", "a_right_b_wrong", "a_wrong_b_right", "seconds"};

std::string ladder_csv(const nlohmann::json& rows, const std::vector<std::string>& columns) {
  std::string csv;
  for (const auto& column : columns) csv += (csv.empty() ? "" : ",") + column;
  csv += "\n";
  for (const auto& row : rows) {
    std::string line;
    for (const auto& column : columns) {
      const auto& v = row.at(column);
      line += std::string(line.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    csv += line + "\n";
  }
  return csv;
}

namespace {

void print_capacity(const prune::Capacity& c) {
  std::printf("  %-22s %-6s %10s %10s %8s %12s %12s\n", "layer", "kind", "weights", "nonzero", "sparsity", "MFLOPs",
              "eff. MFLOPs");
  for (const auto& l : c.layers)
    std::printf("  %-22s %-6s %10lld %10lld %8.4f %12.3f %12.3f\n", l.name.c_str(), l.kind.c_str(),
                (long long)l.weights, (long long)l.nonzero_weights,
                1.0 - double(l.nonzero_weights) / double(std::max<std::int64_t>(1, l.weights)), l.flops_dense / 1e6,
                l.flops_effective / 1e6);
  std::printf("  %-22s %-6s %10lld %10lld %8.4f %12.3f %12.3f   (all parameters: %lld, nonzero %lld)\n", "total", "",
              (long long)c.weights, (long long)c.nonzero_weights, c.sparsity(), c.flops_dense / 1e6,
              c.flops_effective / 1e6, (long long)c.parameters, (long long)c.nonzero_parameters);
}

}  // namespace

nlohmann::json measure_rung(nn::Module& model, const std::string& name, double target, double seconds,
                            const data::Dataset& train, const data::Dataset& test, std::int64_t dense_weights,
                            const std::vector<std::int64_t>& dense_predictions, const std::filesystem::path& dir,
                            std::vector<std::int64_t>& predictions) {
  const auto tr = evaluate(model, train, 500, name + " train", &predictions);
  const auto te = evaluate(model, test, 500, name + " test ");
  const auto capacity = prune::capacity(model, {train.images.size(1), train.images.size(2), train.images.size(3)});
  print_capacity(capacity);
  // Sparsity against the dense model's weights: pruned weights are zero, filter-pruned ones gone.
  const double sparsity =
      1.0 - double(capacity.nonzero_weights) / double(dense_weights > 0 ? dense_weights : capacity.weights);
  // A right and B wrong: the candidates of the OutlierAttack (and the reverse, for scale).
  const auto labels = train.labels.to_vector<std::int64_t>();
  const auto& a = dense_predictions.empty() ? predictions : dense_predictions;
  std::int64_t a_right_b_wrong = 0, a_wrong_b_right = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    a_right_b_wrong += a[i] == labels[i] && predictions[i] != labels[i];
    a_wrong_b_right += a[i] != labels[i] && predictions[i] == labels[i];
  }
  if (dist::rank() == 0) {  // every rank of a data-parallel run holds the same model
    std::filesystem::create_directories(dir);
    io::write_npy((dir / "train_predictions.npy").string(),
                  Tensor::from_vector(predictions, {static_cast<std::int64_t>(predictions.size())}));
    io::write_file_atomic((dir / "capacity.json").string(), prune::to_json(capacity).dump(2) + "\n");
  }
  return {{"rung", name},
          {"sparsity_target", target},
          {"sparsity", sparsity},
          {"nonzero_parameters", capacity.nonzero_parameters},
          {"parameters", capacity.parameters},
          {"nonzero_weights", capacity.nonzero_weights},
          {"weights", capacity.weights},
          {"flops_dense", capacity.flops_dense},
          {"flops_effective", capacity.flops_effective},
          {"train_accuracy", tr.accuracy},
          {"test_accuracy", te.accuracy},
          {"a_right_b_wrong", a_right_b_wrong},
          {"a_wrong_b_right", a_wrong_b_right},
          {"seconds", seconds}};
}

}  // namespace oa::experiments

#pragma once
// Attacks run the model in eval mode with frozen parameters, so that backward computes the
// input gradient only. FrozenModel does that for its scope and restores the flags afterwards.
#include <vector>

#include "framework/nn/module.h"

namespace oa::attacks {

class FrozenModel {
 public:
  explicit FrozenModel(nn::Module& model) : model_(model) {
    for (auto& p : model.parameters()) flags_.push_back(p.requires_grad());
    model.set_requires_grad(false);
    model.eval();
  }
  ~FrozenModel() {
    auto params = model_.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) params[i].set_requires_grad(flags_[i]);
  }
  FrozenModel(const FrozenModel&) = delete;
  FrozenModel& operator=(const FrozenModel&) = delete;

 private:
  nn::Module& model_;
  std::vector<bool> flags_;
};

}  // namespace oa::attacks

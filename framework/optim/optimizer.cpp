#include "framework/optim/optimizer.h"

#include "framework/backend/dispatch.h"
#include "framework/backend/elementwise_math.h"

namespace oa::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  for (const auto& p : params_) check_floating(p, "optimizer parameter");
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

namespace {
void multiply_by_mask(Tensor& t, const Tensor& mask) { backend::map_binary(t, mask, t, math::Mul{}); }
}  // namespace

void Optimizer::set_masks(std::vector<Tensor> masks) {
  OA_CHECK(masks.size() == params_.size(), "optimizer: {} masks for {} parameters", masks.size(), params_.size());
  for (std::size_t i = 0; i < masks.size(); ++i)
    if (masks[i].defined()) {
      check_same_shape(params_[i], masks[i], "optimizer mask");
      check_same_dtype(params_[i], masks[i], "optimizer mask");
    }
  masks_ = std::move(masks);
}

void Optimizer::step() {
  for (std::size_t i = 0; i < masks_.size(); ++i) {
    if (!masks_[i].defined()) continue;
    if (Tensor g = params_[i].grad(); g.defined()) multiply_by_mask(g, masks_[i]);
  }
  update();
  for (std::size_t i = 0; i < masks_.size(); ++i)
    if (masks_[i].defined()) multiply_by_mask(params_[i], masks_[i]);
}

void Optimizer::save_buffers(const std::string& kind, const std::vector<Tensor>& buffers, NamedState& out) {
  for (std::size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i].defined()) out.emplace_back(kind + "." + std::to_string(i), buffers[i]);
}

void Optimizer::restore_buffers(const std::string& kind, std::vector<Tensor>& buffers, const NamedState& state) const {
  for (const auto& [name, t] : state) {
    if (name.rfind(kind + ".", 0) != 0) continue;
    const std::string index_text = name.substr(kind.size() + 1);
    const std::size_t i = std::stoul(index_text);
    OA_CHECK(i < params_.size(), "optimizer state: {} names parameter {} of {}", name, i, params_.size());
    check_same_shape(params_[i], t, ("optimizer state " + name).c_str());
    buffers[i] = t.to(params_[i].dtype()).to(params_[i].device()).clone();
  }
}

SGD::SGD(std::vector<Tensor> params, const SgdOptions& options) : Optimizer(std::move(params), options.lr), options_(options) {
  OA_CHECK(options.momentum >= 0 && options.weight_decay >= 0, "SGD: negative momentum {} or weight decay {}",
           options.momentum, options.weight_decay);
  OA_CHECK(!options.nesterov || options.momentum > 0, "SGD: Nesterov needs a momentum > 0");
  momentum_buffers_.resize(params_.size());
}

void SGD::update() {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor& buf = momentum_buffers_[i];
    if (options_.momentum > 0 && !buf.defined()) buf = Tensor::zeros(p.shape(), p.dtype(), p.device());
    backend::sgd_step(p, g, buf, lr_, options_.momentum, options_.nesterov, options_.weight_decay);
  }
}

NamedState SGD::state() const {
  NamedState out;
  save_buffers("momentum", momentum_buffers_, out);
  return out;
}

void SGD::load_state(const NamedState& state) { restore_buffers("momentum", momentum_buffers_, state); }

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  OA_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
           "Adam: betas ({}, {}) must be in [0, 1)", options.beta1, options.beta2);
  m_.resize(params_.size());
  v_.resize(params_.size());
}

void Adam::update() {
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!m_[i].defined()) {
      m_[i] = Tensor::zeros(p.shape(), p.dtype(), p.device());
      v_[i] = Tensor::zeros(p.shape(), p.dtype(), p.device());
    }
    backend::adam_step(p, g, m_[i], v_[i], lr_, options_.beta1, options_.beta2, options_.eps, options_.weight_decay,
                       steps_);
  }
}


NamedState Adam::state() const {
  NamedState out{{"step", Tensor::full({}, static_cast<double>(steps_), DType::Int64)}};
  save_buffers("m", m_, out);
  save_buffers("v", v_, out);
  return out;
}

void Adam::load_state(const NamedState& state) {
  for (const auto& [name, t] : state)
    if (name == "step") steps_ = static_cast<std::int64_t>(t.item());
  restore_buffers("m", m_, state);
  restore_buffers("v", v_, state);
}

}  // namespace oa::optim

#include "framework/autograd/node.h"

#include <unordered_map>

#include "framework/backend/dispatch.h"

namespace oa {

// ---------------------------------------------------------------- grad mode

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

// ---------------------------------------------------------------- nodes

std::vector<Tensor> Node::apply(const Tensor& grad_output) {
  OA_CHECK(!released_,
           "backward through the graph a second time (node '{}'): the graph is freed after backward; "
           "run the forward pass again",
           name_);
  std::vector<bool> needs(next_.size());
  for (std::size_t i = 0; i < next_.size(); ++i) needs[i] = next_[i] != nullptr;
  return backward_(grad_output, needs);
}

void Node::release() {
  backward_ = nullptr;  // drops the captured (saved) tensors
  next_.clear();
  released_ = true;
}

GradAccumulator::GradAccumulator(std::shared_ptr<TensorImpl> leaf)
    : Node("GradAccumulator", {}, nullptr), leaf_(std::move(leaf)) {}

std::vector<Tensor> GradAccumulator::apply(const Tensor& grad_output) {
  Tensor leaf(leaf_);
  check_same_shape(leaf, grad_output, "gradient accumulation");
  if (!leaf_->grad) {
    leaf_->grad = grad_output.clone().impl_ptr();
  } else {
    Tensor accumulated(leaf_->grad);
    backend::axpy(1.0, grad_output, accumulated);  // leaf.grad += grad_output
  }
  return {};
}

// ---------------------------------------------------------------- recording

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

namespace {
// The edge to follow from an input: its producer, or a fresh accumulator for a leaf.
std::shared_ptr<Node> edge_of(const Tensor* t) {
  if (!t || !t->defined() || !t->requires_grad()) return nullptr;
  if (t->grad_fn()) return t->grad_fn();
  return std::make_shared<GradAccumulator>(t->impl_ptr());
}
}  // namespace

Tensor record(Tensor output, std::initializer_list<const Tensor*> inputs, const char* name,
              BackwardFn backward) {
  if (!any_requires_grad(inputs)) return output;
  std::vector<std::shared_ptr<Node>> next;
  next.reserve(inputs.size());
  for (const Tensor* t : inputs) next.push_back(edge_of(t));
  output.impl().requires_grad = true;
  output.impl().grad_fn = std::make_shared<Node>(name, std::move(next), std::move(backward));
  return output;
}

// ---------------------------------------------------------------- the engine

void run_backward(const Tensor& root, const Tensor& grad_output) {
  OA_CHECK(root.requires_grad(), "backward on a tensor that does not require grad {}", describe(root));
  check_same_shape(root, grad_output, "backward (output gradient)");
  std::shared_ptr<Node> start =
      root.grad_fn() ? root.grad_fn() : std::make_shared<GradAccumulator>(root.impl_ptr());

  // 1. Count, for every node, how many edges point at it (iterative DFS: deep nets are deep).
  std::unordered_map<Node*, int> pending;
  std::vector<std::shared_ptr<Node>> stack{start};
  pending[start.get()] = 0;
  while (!stack.empty()) {
    auto node = std::move(stack.back());
    stack.pop_back();
    for (const auto& child : node->next()) {
      if (!child) continue;
      if (pending.emplace(child.get(), 0).second) stack.push_back(child);
      ++pending[child.get()];
    }
  }

  // 2. Run nodes whose consumers have all delivered their gradient (Kahn's order).
  std::unordered_map<Node*, Tensor> grads;
  grads[start.get()] = grad_output;
  std::vector<std::shared_ptr<Node>> ready{start};
  while (!ready.empty()) {
    auto node = std::move(ready.back());
    ready.pop_back();
    Tensor grad = std::move(grads[node.get()]);
    grads.erase(node.get());
    std::vector<Tensor> input_grads = node->apply(grad);
    const auto next = node->next();  // copy: release() clears it
    node->release();
    for (std::size_t i = 0; i < next.size(); ++i) {
      Node* child = next[i].get();
      if (!child) continue;
      OA_CHECK(i < input_grads.size() && input_grads[i].defined(),
               "internal: node '{}' returned no gradient for input {}", node->name(), i);
      auto [it, inserted] = grads.try_emplace(child, input_grads[i]);
      if (!inserted) it->second = backend::add(it->second, input_grads[i]);  // several consumers: sum
      if (--pending[child] == 0) ready.push_back(next[i]);
    }
  }
}

}  // namespace oa

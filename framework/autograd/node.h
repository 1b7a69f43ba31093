#pragma once
// The define-by-run tape.
//
// Every op that has an input requiring a gradient records one Node. The node holds:
//  - `next`: for each input, the node that produced it (or the leaf's GradAccumulator),
//    or null where that input needs no gradient;
//  - a backward function that maps the gradient of the op's output to the gradients of
//    its inputs. It captures only the tensors it needs (detached, so no cycles).
// Backward walks the nodes in reverse topological order from the output. A leaf that is
// reached along several paths, or by several backward calls, sums its gradients (+=).
// After backward each node drops its saved tensors and edges: the graph is freed.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace oa {

// needs[i] is true when input i wants a gradient. A backward function computes only
// those: with frozen parameters (attacks) no weight-gradient kernel runs at all.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output,
                                                     const std::vector<bool>& needs)>;

class Node {
 public:
  Node(std::string name, std::vector<std::shared_ptr<Node>> next, BackwardFn backward)
      : name_(std::move(name)), next_(std::move(next)), backward_(std::move(backward)) {}
  virtual ~Node() = default;

  const std::string& name() const { return name_; }
  const std::vector<std::shared_ptr<Node>>& next() const { return next_; }

  // Gradients for each input (undefined where not needed). Throws if already released.
  virtual std::vector<Tensor> apply(const Tensor& grad_output);
  // Frees the saved tensors and the edges; called by the engine once the node ran.
  void release();

 protected:
  std::string name_;
  std::vector<std::shared_ptr<Node>> next_;
  BackwardFn backward_;
  bool released_ = false;
};

// The sink of a leaf tensor: adds the incoming gradient into leaf.grad.
class GradAccumulator final : public Node {
 public:
  explicit GradAccumulator(std::shared_ptr<TensorImpl> leaf);
  std::vector<Tensor> apply(const Tensor& grad_output) override;

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// Gradient recording is on by default; NoGradGuard turns it off for its scope (per thread).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and some input requires a gradient: the op must record.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);

// Records `output` as produced by an op named `name` from `inputs`, with `backward`.
// Does nothing (and drops `backward`) when no input requires a gradient or grad mode is off.
Tensor record(Tensor output, std::initializer_list<const Tensor*> inputs, const char* name,
              BackwardFn backward);

// Runs backward from `root` with the given output gradient (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace oa

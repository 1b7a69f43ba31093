// Convolution on the CPU through oneDNN (float32): the CPU twin of the cuDNN calls in
// cuda/conv2d.cu. Our tensors are NCHW (weights OIHW); oneDNN picks the memory formats its
// fastest kernel wants for this shape (format_tag::any: blocked nChw16c with AVX-512).
// Weights and bias are reordered into that format on every call where it differs (they are
// small next to the activations). Activations (the output, and the input gradient of the
// backward pass) are written in it and left so, declared packed (core/storage.h) when the
// blocked form has exactly as many elements (channels a multiple of the block): the next
// convolution reads them as they are, elementwise ops (ReLU, the residual sum) keep them so,
// and anything else gets NCHW on first access. A ResNet's activations thus go from one
// convolution to the next without the two reorders each way that an NCHW hand-over costs.
//
// Creating a primitive descriptor walks oneDNN's list of implementations, which costs far
// more than a small convolution; so every (direction, geometry, bias) is planned once per
// thread and kept: primitive, formats and the reorders around it. Threads: oneDNN here is
// built on OpenMP, the same runtime (and thread count) as our own kernels.
#include "framework/backend/cpu/conv2d_engine.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "framework/core/error.h"

namespace oa::cpu {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Plain layouts of our tensors. Grouped weights are [G, C_out/G, C_in/G, KH, KW] to oneDNN.
memory::desc activations(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, Tag tag) {
  return memory::desc({n, c, h, w}, memory::data_type::f32, tag);
}
memory::desc bias(const Conv2dGeometry& g) { return memory::desc({g.out_channels}, memory::data_type::f32, Tag::x); }

// Tag::any lets oneDNN choose; anything else means our plain layout.
memory::desc weights(const Conv2dGeometry& g, Tag tag) {
  const bool plain = tag != Tag::any;
  if (g.groups == 1)
    return memory::desc({g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}, memory::data_type::f32,
                        plain ? Tag::oihw : Tag::any);
  return memory::desc({g.groups, g.out_channels / g.groups, g.in_channels / g.groups, g.kernel_h, g.kernel_w},
                      memory::data_type::f32, plain ? Tag::goihw : Tag::any);
}

// A buffer that grows on demand and is kept: a fresh allocation of tens of megabytes on every
// call would be paid again in page faults. Each thread has one per argument position, shared
// by all its plans (a plan per shape holding its own would add up to gigabytes on ResNet-50).
class Scratch {
 public:
  void* at_least(std::size_t bytes) {
    if (bytes > bytes_) {
      data_.reset(static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
      OA_CHECK(data_ != nullptr, "out of memory: the oneDNN convolution needs {} bytes of scratch", bytes);
      bytes_ = bytes;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  std::size_t bytes_ = 0;
};

// A oneDNN memory format as a PackedLayout: the layout of activations a convolution wrote.
class OnednnLayout final : public PackedLayout {
 public:
  OnednnLayout(const memory::desc& plain, const memory::desc& packed)
      : plain_(plain), packed_(packed), shape_(plain.dims()),
        to_plain_(dnnl::reorder::primitive_desc(cpu_engine(), packed, cpu_engine(), plain)),
        to_packed_(dnnl::reorder::primitive_desc(cpu_engine(), plain, cpu_engine(), packed)) {}

  const Shape& shape() const override { return shape_; }
  bool same_as(const PackedLayout& other) const override {
    const auto* onednn = dynamic_cast<const OnednnLayout*>(&other);
    return onednn != nullptr && onednn->packed_ == packed_;
  }
  void unpack(const void* packed, void* row_major) const override { convert(to_plain_, packed_, packed, plain_, row_major); }
  void pack(const void* row_major, void* packed) const override { convert(to_packed_, plain_, row_major, packed_, packed); }
  const memory::desc& packed() const { return packed_; }

 private:
  static void convert(const dnnl::reorder& reorder, const memory::desc& from_desc, const void* from,
                      const memory::desc& to_desc, void* to) {
    auto& engine = cpu_engine();
    dnnl::stream stream(engine);
    memory source(from_desc, engine, const_cast<void*>(from));
    memory target(to_desc, engine, to);
    reorder.execute(stream, source, target);
    stream.wait();
  }

  memory::desc plain_, packed_;
  Shape shape_;
  dnnl::reorder to_plain_, to_packed_;
};

// One argument of a planned primitive: our plain layout, oneDNN's chosen one, and the reorder
// between them when they differ (plain -> chosen for inputs, chosen -> plain for the output).
// Activations in a chosen format with as many elements as the plain one also have it as a
// PackedLayout: inputs packed that way are read as they are, and the output is left that way.
struct Argument {
  int id;  // DNNL_ARG_...
  memory::desc plain, chosen;
  std::optional<dnnl::reorder> reorder;
  std::shared_ptr<const OnednnLayout> packing;

  enum class Kind { activation, parameter };

  Argument(int id_, const memory::desc& plain_, const memory::desc& chosen_, bool is_output, Kind kind)
      : id(id_), plain(plain_), chosen(chosen_) {
    if (plain == chosen) return;
    auto& engine = cpu_engine();
    reorder = is_output ? dnnl::reorder(dnnl::reorder::primitive_desc(engine, chosen, engine, plain))
                        : dnnl::reorder(dnnl::reorder::primitive_desc(engine, plain, engine, chosen));
    if (kind == Kind::activation && chosen.get_size() == plain.get_size())
      packing = std::make_shared<OnednnLayout>(plain, chosen);
  }

  // Whether t is already in the chosen format.
  bool packed_as_chosen(const Tensor& t) const {
    if (!packing) return false;
    const auto layout = t.packed_layout();
    return layout && layout->same_as(*packing);
  }
};

// A convolution primitive with its arguments: inputs read from our tensors, one output.
struct Plan {
  dnnl::primitive convolution;
  std::vector<Argument> inputs;
  std::optional<Argument> output;

  void run(const std::vector<const Tensor*>& input_tensors, Tensor& output_tensor) {
    thread_local std::array<Scratch, 4> scratch;  // the inputs' (at most 3), then the output's
    auto& engine = cpu_engine();
    dnnl::stream stream(engine);
    std::unordered_map<int, memory> args;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Argument& a = inputs[i];
      const Tensor& t = *input_tensors[i];
      if (a.packed_as_chosen(t)) {
        args.emplace(a.id, memory(a.chosen, engine, t.data_as_stored<float>()));
        continue;
      }
      memory user(a.plain, engine, t.data<float>());
      if (!a.reorder) {
        args.emplace(a.id, user);
        continue;
      }
      memory converted(a.chosen, engine, scratch[i].at_least(a.chosen.get_size()));
      a.reorder->execute(stream, user, converted);
      args.emplace(a.id, converted);
    }
    const bool write_packed = output->packing && output_tensor.covers_storage();
    if (write_packed) {
      args.emplace(output->id, memory(output->chosen, engine, output_tensor.impl().storage->write_packed(output->packing)));
      convolution.execute(stream, args);
    } else {
      memory user_out(output->plain, engine, output_tensor.data<float>());
      memory out = output->reorder ? memory(output->chosen, engine, scratch[3].at_least(output->chosen.get_size()))
                                   : user_out;
      args.emplace(output->id, out);
      convolution.execute(stream, args);
      if (output->reorder) output->reorder->execute(stream, out, user_out);
    }
    stream.wait();
  }
};

// forward_relu: the forward convolution with relu(.) applied as it writes its output (an
// eltwise post-op), so that the ReLU costs no pass of its own over the activations.
enum class Direction { forward, forward_relu, backward_data, backward_weights };

memory::dims strides(const Conv2dGeometry& g) { return {g.stride, g.stride}; }
memory::dims padding_left(const Conv2dGeometry& g) { return {g.padding, g.padding}; }
// The right/bottom padding that makes oneDNN's output size ours: out = (in + pl + pr - k) / s + 1.
memory::dims padding_right(const Conv2dGeometry& g) {
  return {(g.out_h - 1) * g.stride + g.kernel_h - g.in_h - g.padding,
          (g.out_w - 1) * g.stride + g.kernel_w - g.in_w - g.padding};
}

dnnl::convolution_forward::primitive_desc forward_descriptor(const Conv2dGeometry& g, bool with_bias, bool relu) {
  const auto src = activations(g.batch, g.in_channels, g.in_h, g.in_w, Tag::any);
  const auto dst = activations(g.batch, g.out_channels, g.out_h, g.out_w, Tag::any);
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                             src, weights(g, Tag::any), with_bias ? bias(g) : memory::desc(), dst,
                                             strides(g), padding_left(g), padding_right(g));
  dnnl::primitive_attr attributes;
  if (relu) {
    dnnl::post_ops post_ops;
    post_ops.append_eltwise(/*scale=*/1.0f, dnnl::algorithm::eltwise_relu, /*alpha (negative slope)=*/0.0f,
                            /*beta (unused)=*/0.0f);
    attributes.set_post_ops(post_ops);
  }
  return {desc, attributes, cpu_engine()};
}

// The descriptor of a backward convolution (data or weights: their descriptors take the same
// arguments), formats left to oneDNN, with the forward one as the hint both need.
template <class Backward>
typename Backward::primitive_desc backward_descriptor(const Conv2dGeometry& g,
                                                      const dnnl::convolution_forward::primitive_desc& forward) {
  const typename Backward::desc desc(dnnl::algorithm::convolution_direct,
                                     activations(g.batch, g.in_channels, g.in_h, g.in_w, Tag::any),
                                     weights(g, Tag::any),
                                     activations(g.batch, g.out_channels, g.out_h, g.out_w, Tag::any), strides(g),
                                     padding_left(g), padding_right(g));
  return {desc, cpu_engine(), forward};
}

Plan make_plan(Direction direction, const Conv2dGeometry& g, bool with_bias) {
  const auto x_plain = activations(g.batch, g.in_channels, g.in_h, g.in_w, Tag::nchw);
  const auto y_plain = activations(g.batch, g.out_channels, g.out_h, g.out_w, Tag::nchw);
  const auto w_plain = weights(g, Tag::oihw);
  const auto forward = forward_descriptor(g, with_bias, direction == Direction::forward_relu);
  using Kind = Argument::Kind;
  Plan plan;
  switch (direction) {
    case Direction::forward:
    case Direction::forward_relu: {
      plan.convolution = dnnl::convolution_forward(forward);
      plan.inputs.emplace_back(DNNL_ARG_SRC, x_plain, forward.src_desc(), false, Kind::activation);
      plan.inputs.emplace_back(DNNL_ARG_WEIGHTS, w_plain, forward.weights_desc(), false, Kind::parameter);
      if (with_bias) plan.inputs.emplace_back(DNNL_ARG_BIAS, bias(g), bias(g), false, Kind::parameter);
      plan.output.emplace(DNNL_ARG_DST, y_plain, forward.dst_desc(), true, Kind::activation);
      break;
    }
    case Direction::backward_data: {
      const auto pd = backward_descriptor<dnnl::convolution_backward_data>(g, forward);
      plan.convolution = dnnl::convolution_backward_data(pd);
      plan.inputs.emplace_back(DNNL_ARG_DIFF_DST, y_plain, pd.diff_dst_desc(), false, Kind::activation);
      plan.inputs.emplace_back(DNNL_ARG_WEIGHTS, w_plain, pd.weights_desc(), false, Kind::parameter);
      plan.output.emplace(DNNL_ARG_DIFF_SRC, x_plain, pd.diff_src_desc(), true, Kind::activation);
      break;
    }
    case Direction::backward_weights: {
      const auto pd = backward_descriptor<dnnl::convolution_backward_weights>(g, forward);
      plan.convolution = dnnl::convolution_backward_weights(pd);
      plan.inputs.emplace_back(DNNL_ARG_DIFF_DST, y_plain, pd.diff_dst_desc(), false, Kind::activation);
      plan.inputs.emplace_back(DNNL_ARG_SRC, x_plain, pd.src_desc(), false, Kind::activation);
      plan.output.emplace(DNNL_ARG_DIFF_WEIGHTS, w_plain, pd.diff_weights_desc(), true, Kind::parameter);
      break;
    }
  }
  return plan;
}

// The plan of one call, made on first use. Per thread, so that no lock is taken per call.
Plan& plan_for(Direction direction, const Conv2dGeometry& g, bool with_bias) {
  using Key = std::array<std::int64_t, 14>;
  thread_local std::map<Key, Plan> plans;
  const Key key{static_cast<std::int64_t>(direction), with_bias, g.batch, g.in_channels, g.in_h, g.in_w,
                g.out_channels, g.kernel_h, g.kernel_w, g.stride, g.padding, g.groups, g.out_h, g.out_w};
  auto it = plans.find(key);
  if (it == plans.end()) {
    try {
      it = plans.emplace(key, make_plan(direction, g, with_bias)).first;
    } catch (const dnnl::error& e) {
      throw Error(fmt::format("oneDNN cannot plan the convolution {}x{}x{}x{} -> {} channels, kernel {}x{}, stride {}, "
                              "padding {}, groups {}: {}",
                              g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.kernel_h, g.kernel_w, g.stride,
                              g.padding, g.groups, e.what()));
    }
  }
  return it->second;
}

void run_forward(Direction direction, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                 const Conv2dGeometry& g) {
  std::vector<const Tensor*> inputs{&x, &w};
  if (bias) inputs.push_back(bias);
  plan_for(direction, g, bias != nullptr).run(inputs, y);
}

}  // namespace

void onednn_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  run_forward(Direction::forward, x, w, bias, y, g);
}

void onednn_conv2d_relu_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                                const Conv2dGeometry& g) {
  run_forward(Direction::forward_relu, x, w, bias, y, g);
}

void onednn_conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g) {
  plan_for(Direction::backward_data, g, false).run({&grad_y, &w}, grad_x);
}

void onednn_conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g) {
  plan_for(Direction::backward_weights, g, false).run({&grad_y, &x}, grad_w);
}

}  // namespace oa::cpu

// The dispatch layer's out-of-line parts: the registry of call counters, the device check,
// and the argument checks of the row-wise kernels. The forwarders themselves are generated
// in dispatch.h.
#include "framework/backend/dispatch.h"

#include <mutex>

namespace oa::backend {

namespace {
// Every kernel's counter, linked through KernelCounter::next_. Taken when a counter registers
// (once per kernel) and when tests read or reset the counts, never on a kernel call.
std::mutex g_registry_mutex;
KernelCounter* g_first_counter = nullptr;
}  // namespace

KernelCounter::KernelCounter(const char* kernel) : kernel_(kernel) {
  std::lock_guard lock(g_registry_mutex);
  next_ = g_first_counter;
  g_first_counter = this;
}

Device KernelCounter::common_device(std::initializer_list<const Tensor*> tensors) const {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    if (!first) first = t;
    OA_CHECK(t->device() == first->device(), "{}: tensors on different devices: {} and {}", kernel_, describe(*first),
             describe(*t));
  }
  return first ? first->device() : Device::CPU;
}

// The sum over the counters of that name: a template kernel has one per instantiation.
long kernel_calls(std::string_view kernel) {
  std::lock_guard lock(g_registry_mutex);
  long calls = 0;
  for (const KernelCounter* c = g_first_counter; c; c = c->next_)
    if (kernel == c->kernel_) calls += c->calls_.load(std::memory_order_relaxed);
  return calls;
}

void reset_kernel_calls() {
  std::lock_guard lock(g_registry_mutex);
  for (KernelCounter* c = g_first_counter; c; c = c->next_) c->calls_.store(0, std::memory_order_relaxed);
}

void throw_no_cuda_version(const char* kernel) {
  throw Error(fmt::format("{}: this kernel has no CUDA version (the tensors are on {}); run it on the CPU", kernel,
                          device_name(Device::CUDA)));
}

void check_where_rows(const Tensor& mask, const Tensor& a, const Tensor& b, Tensor& out) {
  OA_CHECK(a.shape() == b.shape() && a.shape() == out.shape() && mask.numel() > 0 && a.numel() % mask.numel() == 0,
           "where_rows: {} and {} into {} do not split into the {} rows of the mask", describe(a), describe(b),
           describe(out), mask.numel());
}

void check_row_adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_size,
                         const Tensor& v_correction, double, double, double) {
  OA_CHECK(w.shape() == grad.shape() && w.shape() == m.shape() && w.shape() == v.shape() &&
               step_size.numel() == v_correction.numel() && step_size.numel() > 0 &&
               w.numel() % step_size.numel() == 0,
           "row_adam_step: w {}, grad {}, m {}, v {} and the per-row factors {} do not match", describe(w),
           describe(grad), describe(m), describe(v), describe(step_size));
}

}  // namespace oa::backend

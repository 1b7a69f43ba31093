#include "framework/data/labels.h"

namespace oa::data {

Tensor parity_labels(std::int64_t n) {
  OA_CHECK(n >= 0, "parity_labels: n must be >= 0, got {}", n);
  Tensor labels = Tensor::empty({n}, DType::Int64);
  std::int64_t* out = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) out[i] = i % 2;
  return labels;
}

Dataset with_parity_labels(Dataset d) {
  d.name += "/parity";
  d.labels = parity_labels(d.size());
  d.classes = 2;
  d.class_names = {"even", "odd"};
  return d;
}

}  // namespace oa::data

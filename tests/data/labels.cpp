// Parity labels, the memorisation control: label i % 2, images untouched.
#include <doctest/doctest.h>

#include <vector>

#include "framework/data/labels.h"

using oa::Tensor;

TEST_CASE("parity labels: even index -> 0, odd index -> 1") {
  CHECK(oa::data::parity_labels(5).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 0, 1, 0});
  CHECK(oa::data::parity_labels(0).numel() == 0);
  CHECK_THROWS_WITH(oa::data::parity_labels(-1), doctest::Contains("n must be >= 0"));

  const oa::data::Dataset d{"digits", Tensor::zeros({4, 1, 2, 2}), Tensor::full({4}, 7, oa::DType::Int64), 10};
  const auto parity = oa::data::with_parity_labels(d);
  CHECK(parity.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 0, 1});
  CHECK(parity.classes == 2);
  CHECK(parity.class_names == std::vector<std::string>{"even", "odd"});
  CHECK(parity.name == "digits/parity");
  CHECK(parity.images.same_storage(d.images));  // the images are shared, not copied
  CHECK(d.labels.at({0}) == 7);                  // the original keeps its labels
}

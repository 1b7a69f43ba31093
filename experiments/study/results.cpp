#include "experiments/study/results.h"

#include <cmath>
#include <limits>

namespace oa::study {

const json* find(const json& root, std::initializer_list<const char*> path) {
  const json* node = &root;
  for (const char* key : path) {
    if (!node->is_object()) return nullptr;
    const auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node->is_null() ? nullptr : node;
}

double number_at(const json& root, std::initializer_list<const char*> path) {
  const json* node = find(root, path);
  return node && node->is_number() ? node->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

std::string text_at(const json& root, std::initializer_list<const char*> path, const std::string& fallback) {
  const json* node = find(root, path);
  return node && node->is_string() ? node->get<std::string>() : fallback;
}

std::vector<const json*> array_at(const json& root, std::initializer_list<const char*> path) {
  std::vector<const json*> elements;
  const json* node = find(root, path);
  if (node && node->is_array())
    for (const auto& element : *node) elements.push_back(&element);
  return elements;
}

Distances read_distances(const json* dist, const std::string& norm) {
  Distances d;
  if (!dist || !dist->is_object()) return d;
  const auto indices = array_at(*dist, {"indices"});
  const auto values = array_at(*dist, {norm.c_str()});
  const auto successes = array_at(*dist, {("success_" + norm).c_str()});
  const auto attacked = array_at(*dist, {"attacked"});
  d.samples = static_cast<std::int64_t>(indices.size());
  if (attacked.size() == indices.size()) {
    d.attacked = 0;
    for (const json* a : attacked) d.attacked += a->is_boolean() && a->get<bool>();
  }
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (i >= values.size() || i >= successes.size() || !indices[i]->is_number_integer()) continue;
    const bool success = successes[i]->is_boolean() && successes[i]->get<bool>();
    if (!success || !values[i]->is_number() || !std::isfinite(values[i]->get<double>())) continue;
    d.indices.push_back(indices[i]->get<std::int64_t>());
    d.values.push_back(values[i]->get<double>());
  }
  return d;
}

const json* model_distances(const json& model, const std::string& stage, const std::string& split) {
  return find(model, {"attacks", stage.c_str(), split.c_str()});
}

}  // namespace oa::study

// Model weights on disk: synthetic, seeded, deterministic weights written once per tier x dtype x
// seed to a real safetensors file under $XDG_CACHE_HOME/tierbench/models (~/.cache/... when
// unset), and loaded from it, or from a user's own file of the same architecture.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph.h"

namespace tb::workloads {

std::string model_cache_dir();
// <cache>/<tier>-<dtype>-seed<seed>.safetensors
std::string cached_weights_path(const Graph& g, std::uint64_t seed);

// Writes the graph's weights file if it is not there yet (synthetic values from `seed`: each
// tensor from its own stream, so a tensor's values do not depend on the others). Returns
// whether it wrote the file.
Result<bool> ensure_weights_file(const Graph& full, const std::string& path, std::uint64_t seed);

struct LoadedWeights {
  std::vector<Tensor> tensors;  // in graph.weights order
  double seconds = 0;
  std::uint64_t bytes = 0;
};

// Reads every weight the graph names, checking names, dtypes and shapes against the graph (a
// mismatch names the tensor, what the file has and what the architecture needs).
Result<LoadedWeights> load_weights(const Graph& g, const std::string& path, bool cold);
// The same checks on the file's header alone (nothing is read beyond it): for refusing a
// user's --weights file before anything runs.
Result<void> check_weights_file(const Graph& g, const std::string& path);

}  // namespace tb::workloads

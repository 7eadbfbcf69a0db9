// What the decision engine needs to know about one model variant on one device and backend: the
// contract between whoever produces the figures (the predictor from a calibration or a shareable
// profile; the store's measured results, which the oracle uses) and whoever places requests
// (decide). Plain data with no dependencies, so that the small decision library that schedulers
// link stays free of the measuring stack.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tb::profiles {

// One layer boundary of the model's graph, in execution order: where a split may fall.
struct LayerEstimate {
  std::string name;                // the graph layer's name
  double latency_ms = 0;           // this layer's share of the steady-state latency
  std::uint64_t output_bytes = 0;  // the activations that cross a split placed after this layer
  // Of latency_ms, the graph run and transfers of the segment this layer starts: not the layer's
  // own computation (a layer profile times that alone).
  double overhead_ms = 0;
};

struct ModelEstimate {
  std::string workload;  // canonical tier string, e.g. "mobilenetv2:b1:f32", or a model hash
  std::string backend;   // the backend it ran or would run on ("onednn", "vulkan", ...)
  std::string source;    // "measured", "predicted" or "classes" (from a shareable profile)
  bool feasible = true;  // false: unsupported or does not fit; `why` says which
  std::string why;

  double latency_ms = -1;  // steady-state median of one inference
  // Cold start, split the way tiers measure it: weights read from storage, kernel or pipeline
  // compile, weight upload to the device, the first inference's excess over the steady state.
  double read_ms = 0, compile_ms = 0, upload_ms = 0, first_inference_ms = 0;
  std::uint64_t peak_memory_bytes = 0;
  std::uint64_t weight_bytes = 0;     // what a download of this variant costs
  std::vector<LayerEstimate> layers;  // empty when the figures are not per layer
  // Figures the source withheld (a shareable profile's "any" class, generalised away for
  // k-anonymity), taken at their worst plausible value, or a class of layers the calibration
  // lacked (the predictor): one note per figure saying what was assumed. The engine repeats them in
  // the reasons of every placement that relies on them.
  std::vector<std::string> assumed;
  bool memory_withheld = false;  // peak memory unknown: it cannot be shown to fit a stated limit
};

}  // namespace tb::profiles

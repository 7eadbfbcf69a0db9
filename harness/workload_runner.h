// Model tiers end to end on one backend: load (weights read cold and warm, kernels prepared with
// the backend's caches cold and warm, weights uploaded, first inference), validation against
// the reference backend, then steady-state latency. One ResultRecord per tier x variant x dtype
// x backend device, kind "workload", stored as soon as it is measured:
//   name     "mobilenetv2:b1:f32", "llm-135m:decode:kv1024:int8"
//   samples  inference latencies (host clock, whole graph, seconds)
//   metrics  {"load": {...}, "memory": {...}, "figures": {...}, "validation": {...},
//             "breakdown": {...}, "sampling": {...}, "layers": {...} with profile_layers}
// Statuses: passed / failed (output differs from the reference) / unsupported ("unsupported:
// <first missing op>") / skipped ("does not fit: needs X, has Y") / unavailable / error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models.h"
#include "runner.h"
#include "store.h"
#include "weights.h"

namespace tb {

struct WorkloadOptions {
  SamplingOptions sampling{1, 5, 200, 5.0, 0.02};
  int threads = 0;  // CPU backends; 0 = all hardware threads
  std::uint64_t seed = 42;
  std::string weights_path;              // a user's safetensors file; empty: cached synthetic
  std::uint64_t memory_limit_bytes = 0;  // 0: MemAvailable from /proc/meminfo
  bool validate = true;
  // Validate the full graph when its MACs are at most this; otherwise the tier's reduced
  // configuration (the reference backend is naive and slow).
  double full_validation_max_macs = 1.5e9;
  // After the timed samples, time every layer (metrics.layers): where a tier's time goes.
  bool profile_layers = false;
};

// Runs one workload on every device of `b`; returns the stored records.
std::vector<ResultRecord> run_workload(
    Store& store, std::int64_t run_id, Backend& b, const workloads::WorkloadName& w,
    const WorkloadOptions& o, const std::function<void(const ResultRecord&)>& on_result = {});

// A model from outside the tiers (an imported ONNX file: workloads/onnx_import.h), run exactly
// like a tier: load costs, validation against the reference (on the whole graph: there is no
// reduced configuration), latency, memory.
struct ExternalModel {
  workloads::WorkloadName name;  // tier "onnx-<content hash>", variant the input shape, dtype
  workloads::Graph graph;
  // Reads the model's weights (graph.weights order); cold: its files' page cache dropped first.
  std::function<Result<workloads::LoadedWeights>(bool cold)> load;
  nlohmann::json info;  // stored as metrics.model (ops, opset, hash; never the path)
};
std::vector<ResultRecord> run_external_model(
    Store& store, std::int64_t run_id, Backend& b, const ExternalModel& m, const WorkloadOptions& o,
    const std::function<void(const ResultRecord&)>& on_result = {});

// Workload suites for `tierbench run --workloads <suite>`.
struct WorkloadSuite {
  std::string name, description;
  std::vector<std::string> workloads;
};
const std::vector<WorkloadSuite>& workload_suites();
const WorkloadSuite* find_workload_suite(std::string_view name);

// Output tolerance of a whole graph against the reference, per dtype (relative, see validate.h):
// kernel tolerances grow through dozens of layers, and bf16 / int8 graphs re-round activations.
double graph_rtol(DType dt);

// Checks a user's weights file (--weights) against every selected tier before anything runs: a
// missing, malformed or mismatched file is an input error naming the file and what is wrong.
Result<void> check_user_weights(const std::vector<workloads::WorkloadName>& wl,
                                const std::string& path);

// Bytes from /proc/meminfo MemAvailable (0 when unreadable).
std::uint64_t mem_available_bytes();
// "1.5 GiB": bytes in the largest binary unit below 1024 of it (B .. TiB).
std::string human_bytes(double bytes);

}  // namespace tb

// An imported ONNX model as `tierbench list --model` shows it: the file's opset and producer, its
// input, the graph's figures, the ONNX ops, the importer's notes, and which backends run every
// op (reporter family "model" in reporter.h).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "onnx_import.h"

namespace tb::reports {

struct ModelListing {
  std::string path;                      // as the user gave it
  workloads::OnnxImportSummary summary;  // what the importer read
  // {workload, model, macs, params, weight_bytes, peak_activation_bytes, kernel_layers,
  // host_layers, backends: [{name, supported, reason}]}: the JSON format as it is.
  nlohmann::json figures;
};

std::string format_model_listing(const ModelListing& m);

}  // namespace tb::reports

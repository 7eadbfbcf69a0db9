// `--model FILE.onnx [--input NAME=SHAPE ...] [--dtype ...]` (run, list): the user's ONNX model
// imported (workloads/onnx_import.h) as an ExternalModel the runner runs like a tier.
#pragma once

#include <string>
#include <vector>

#include "onnx_import.h"
#include "workload_runner.h"

namespace tb::cli {

// --input bindings and a tier dtype name ("f32", "bf16", "int8") as import options; the error
// names the bad argument.
Result<workloads::OnnxImportOptions> model_import_options(const std::vector<std::string>& inputs,
                                                          const std::string& dtype);

// Imports `path` once (errors: the file's node and op, or the tensor) and returns the model with
// a loader that imports it again (cold: page cache dropped first) for the runner's load costs.
Result<ExternalModel> load_onnx_model(const std::string& path,
                                      const workloads::OnnxImportOptions& o,
                                      workloads::OnnxImportSummary* summary = nullptr);

}  // namespace tb::cli

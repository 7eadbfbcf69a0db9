#include "model_arg.h"

#include <chrono>
#include <memory>

#include "models.h"

namespace tb::cli {

Result<workloads::OnnxImportOptions> model_import_options(const std::vector<std::string>& inputs,
                                                          const std::string& dtype) {
  workloads::OnnxImportOptions o;
  for (const auto& s : inputs) {
    auto b = workloads::parse_input_binding(s);
    if (!b) return make_error("--input " + b.error().message);
    if (o.input_shapes.count(b->first)) return make_error("--input " + b->first + " given twice");
    o.input_shapes.insert(std::move(*b));
  }
  const auto dt = workloads::parse_tier_dtype(dtype);
  if (!dt) return make_error("--dtype: unknown data type '" + dtype + "' (valid: f32, bf16, int8)");
  o.dtype = *dt;
  return o;
}

Result<ExternalModel> load_onnx_model(const std::string& path,
                                      const workloads::OnnxImportOptions& o,
                                      workloads::OnnxImportSummary* summary) {
  auto im = workloads::import_onnx(path, o);
  if (!im) return im.error();
  const workloads::OnnxImportSummary& s = im->summary;
  ExternalModel m;
  m.name = {s.name, im->graph.variant, workloads::tier_dtype_name(o.dtype)};
  m.graph = std::move(im->graph);
  m.info = {{"source", "onnx"},
            {"sha256", s.hash},
            {"opset", s.opset},
            {"producer", s.producer},
            {"ops", s.op_counts},
            {"input", s.input_name},
            {"input_shape", s.input_shape},
            {"input_fed_nhwc", s.input_nhwc},
            {"file_bytes", s.file_bytes},
            {"external_data_files", static_cast<int>(s.files.size()) - 1},
            {"notes", s.notes}};
  // Each load imports the file again: protobuf parse, external data, layout conversion; the
  // same work a user's program does to load the model.
  m.load = [path, o, files = s.files,
            hash = s.hash](bool cold) -> Result<workloads::LoadedWeights> {
    if (cold)
      if (auto d = workloads::drop_file_cache(files); !d) return d.error();
    const auto t0 = std::chrono::steady_clock::now();
    auto again = workloads::import_onnx(path, o);
    if (!again) return again.error();
    if (again->summary.hash != hash) return make_error(path + " changed while it was benchmarked");
    workloads::LoadedWeights w;
    w.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    w.bytes = static_cast<std::uint64_t>(again->summary.file_bytes);
    w.tensors = std::move(again->weights);
    return w;
  };
  if (summary) *summary = s;
  return m;
}

}  // namespace tb::cli

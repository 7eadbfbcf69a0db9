// Fuzz target: ONNX models (`run --model`): the protobuf parse and the graph import
// (workloads/onnx_import*.cpp). Any bytes must be refused with a clean error naming what is
// wrong, or give a graph that verifies, whose weights are the ones the graph declares and whose
// values stay within the size limits given. A model that imports in f32 is imported again in
// bf16 and int8 (other builder paths); one refused only for an unbound dynamic dimension is
// imported again with each such dimension bound to 2, as `--input NAME=SHAPE` would.
// External data are looked up in an empty directory: nothing outside the input is ever read.
#include <onnx/onnx_pb.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "onnx_import.h"

namespace {

namespace wl = tb::workloads;

// Small limits keep an execution fast; the checks are the same code as the defaults'.
constexpr std::int64_t kMaxTensorBytes = std::int64_t{1} << 22;
constexpr std::int64_t kMaxWeightBytes = std::int64_t{1} << 24;

const std::string& empty_dir() {
  static const std::string dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "tb-fuzz-onnx-XXXXXX").string();
    if (!mkdtemp(t.data())) std::abort();
    return t;
  }();
  return dir;
}

bool is_hex(const std::string& s, std::size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// An accepted model must hold together; abort() is the finding.
void check(const wl::ImportedModel& m, const wl::OnnxImportOptions& o) {
  const auto& g = m.graph;
  if (!g.verify()) std::abort();
  if (m.weights.size() != g.weights.size()) std::abort();
  std::int64_t weight_bytes = 0;
  for (std::size_t w = 0; w < g.weights.size(); ++w) {
    if (m.weights[w].dtype() != g.weights[w].dtype) std::abort();
    if (m.weights[w].numel() != g.weights[w].numel()) std::abort();
    weight_bytes += g.weights[w].bytes();
  }
  // The initialisers are checked as f32 (4 bytes an element); the graph's copies are no wider.
  if (weight_bytes > o.max_weight_bytes) std::abort();
  for (const auto& v : g.values)
    if (v.numel() <= 0 || v.bytes() > o.max_tensor_bytes) std::abort();
  if (g.input < 0 || g.output < 0 || g.input == g.output) std::abort();
  if (!is_hex(m.summary.hash, 64) || m.summary.name != "onnx-" + m.summary.hash.substr(0, 12))
    std::abort();
  if (g.tier != m.summary.name || m.summary.opset < 11) std::abort();
}

tb::Result<wl::ImportedModel> import(const std::string& bytes, const wl::OnnxImportOptions& o) {
  auto r = wl::import_onnx_bytes(bytes, empty_dir(), o);
  if (!r && r.error().message.empty()) std::abort();  // a refusal says why
  if (r) check(*r, o);
  return r;
}

// The first graph input that is no initialiser, each dynamic dimension bound to 2.
bool bind_dynamic(const std::string& bytes, wl::OnnxImportOptions& o) {
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) return false;
  for (const auto& in : m.graph().input()) {
    bool init = false;
    for (const auto& t : m.graph().initializer()) init = init || t.name() == in.name();
    if (init || !in.type().has_tensor_type()) continue;
    std::vector<std::int64_t> shape;
    for (const auto& d : in.type().tensor_type().shape().dim())
      shape.push_back(d.has_dim_value() && d.dim_value() > 0 && d.dim_value() <= 64 ? d.dim_value()
                                                                                    : 2);
    o.input_shapes[in.name()] = shape;
    return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;  // the seeds are a few hundred bytes to a few KB
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  wl::OnnxImportOptions o;
  o.max_tensor_bytes = kMaxTensorBytes;
  o.max_weight_bytes = kMaxWeightBytes;
  auto r = import(bytes, o);
  if (!r && r.error().message.find("--input ") != std::string::npos && bind_dynamic(bytes, o))
    r = import(bytes, o);
  if (!r) return 0;
  for (const auto dt : {tb::DType::bf16, tb::DType::s8}) {
    o.dtype = dt;
    (void)import(bytes, o);
  }
  return 0;
}

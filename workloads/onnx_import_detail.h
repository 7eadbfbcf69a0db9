// Internals of the ONNX importer shared by its two files: constants (initialisers and what is
// folded from them, onnx_import_const.cpp) and the op mapping (onnx_import.cpp).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graph.h"

namespace tb::workloads::onnx_import {

using Shape = std::vector<std::int64_t>;

// Thrown inside the importer with what is wrong; caught at the node (or tensor) being read,
// which the error then names.
struct Fail {
  std::string what;
};

// Elements of `s`; Fail when a dimension is negative or the product exceeds `limit`.
std::int64_t checked_numel(const Shape& s, std::int64_t limit);

// A tensor known at import: floats (f32, f64, bf16 read as float) or integers (any int type and
// bool). Held row-major.
struct Const {
  bool is_float = true;
  Shape shape;
  std::vector<float> f;
  std::vector<std::int64_t> i;
  int elem = 0;  // the file's element type (onnx::TensorProto::DataType); 0 when folded
  std::int64_t numel() const;
  // Bounds-checked (std::out_of_range, which the importer reports naming the node): a file can
  // give a tensor fewer values than a pattern expects.
  double at(std::int64_t k) const {
    return is_float ? static_cast<double>(f.at(static_cast<std::size_t>(k)))
                    : static_cast<double>(i.at(static_cast<std::size_t>(k)));
  }
  static Const floats(Shape s, std::vector<float> v);
  static Const ints(Shape s, std::vector<std::int64_t> v);
};

// Reads initialisers' bytes: inline (raw_data or the typed fields) or external data in files
// beside the model (relative paths inside its directory only); feeds every byte read to `hash`.
class TensorReader {
 public:
  TensorReader(std::string dir, std::int64_t max_tensor_bytes,
               std::function<void(const void*, std::size_t)> hash)
      : dir_(std::move(dir)), max_bytes_(max_tensor_bytes), hash_(std::move(hash)) {}
  Const read(const onnx::TensorProto& t);
  const std::vector<std::string>& files() const { return files_; }
  std::int64_t external_bytes() const { return external_bytes_; }

 private:
  Const read_values(const onnx::TensorProto& t);
  std::string external(const onnx::TensorProto& t, std::size_t bytes);
  std::string dir_;
  std::int64_t max_bytes_;
  std::function<void(const void*, std::size_t)> hash_;
  std::vector<std::string> files_;
  std::int64_t external_bytes_ = 0;
};

// numpy broadcasting of `a` to `to` (Fail when it does not broadcast).
Const broadcast_to(const Const& a, const Shape& to);
Shape broadcast_shape(const Shape& a, const Shape& b);
// Out dim i = in dim perm[i].
Const transpose(const Const& a, const std::vector<int>& perm);
// Folds a node whose inputs are all constants (nullptr entries: absent optional inputs).
// Fail when the op is not one the importer folds.
std::vector<Const> fold(const onnx::NodeProto& n, const std::vector<const Const*>& in, int opset);

// Output shapes of the shape-only ops (shared by constants and runtime values). `axes` from the
// attribute (older opsets) or the constant input.
Shape reshape_shape(const Shape& in, const Const& spec, bool allowzero);
Shape flatten_shape(const Shape& in, std::int64_t axis);
Shape squeeze_shape(const Shape& in, const Shape& axes);
Shape unsqueeze_shape(const Shape& in, const Shape& axes);
// The axes of Squeeze / Unsqueeze / ReduceMean: attribute or input 1 (opset 13 / 18 on).
Shape node_axes(const onnx::NodeProto& n, const Const* axes_input);

// Attributes.
const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name);
std::int64_t attr_i(const onnx::NodeProto& n, const std::string& name, std::int64_t def);
float attr_f(const onnx::NodeProto& n, const std::string& name, float def);
std::string attr_s(const onnx::NodeProto& n, const std::string& name, const std::string& def);
Shape attr_ints(const onnx::NodeProto& n, const std::string& name, const Shape& def = {});
// Fail naming the first attribute not in `known`.
void check_attrs(const onnx::NodeProto& n, const std::vector<std::string>& known);
// Transpose's perm (default: reversed), checked to be a permutation of `rank` axes.
std::vector<int> perm_of(const onnx::NodeProto& n, std::size_t rank);
// An axis in [-rank, rank) normalised to [0, rank).
int norm_axis(std::int64_t axis, std::size_t rank);
// ONNX Slice along one axis of length d: the first index and the number taken, with start and
// end clamped as ONNX clamps them (step != 0; no overflow for any int64 inputs).
struct SliceRange {
  std::int64_t first = 0, count = 0;
};
SliceRange slice_range(std::int64_t start, std::int64_t end, std::int64_t step, std::int64_t d);

}  // namespace tb::workloads::onnx_import

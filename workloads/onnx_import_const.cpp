// ONNX import, constants: initialisers read (inline or external data, every size checked
// against the dims before anything is allocated), and the subgraphs of constants models carry
// (shape arithmetic, position ids, masks) folded at import.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

#include "dtype.h"
#include "onnx_import_detail.h"

namespace tb::workloads::onnx_import {

namespace fs = std::filesystem;

// Constants computed at import stay below this many elements (weights are read, not folded).
constexpr std::int64_t kFoldLimit = std::int64_t{1} << 26;

std::int64_t checked_numel(const Shape& s, std::int64_t limit) {
  std::int64_t n = 1;
  for (auto d : s) {
    if (d < 0) throw Fail{"negative dimension " + std::to_string(d)};
    if (d != 0 && n > limit / d)
      throw Fail{"dimensions too large (over " + std::to_string(limit) + " elements)"};
    n *= d;
  }
  return n;
}

std::int64_t Const::numel() const {
  return static_cast<std::int64_t>(is_float ? f.size() : i.size());
}
Const Const::floats(Shape s, std::vector<float> v) {
  Const c;
  c.shape = std::move(s), c.f = std::move(v);
  return c;
}
Const Const::ints(Shape s, std::vector<std::int64_t> v) {
  Const c;
  c.is_float = false, c.shape = std::move(s), c.i = std::move(v);
  return c;
}

namespace {

// A folded value into int64 or float: outside int64 (or NaN) is an error naming it, beyond float
// is an infinity, never an undefined conversion.
std::int64_t to_i64(double v) {
  if (!(v >= -0x1p63 && v < 0x1p63))
    throw Fail{"a constant (" + std::to_string(v) + ") outside int64"};
  return static_cast<std::int64_t>(v);
}
float to_f32(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (v > kMax) return std::numeric_limits<float>::infinity();
  if (v < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(v);
}

std::size_t elem_size(int t) {
  switch (t) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::UINT32:
      return 4;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::UINT64:
      return 8;
    case onnx::TensorProto::BFLOAT16:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
      return 2;
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      return 1;
    default:
      return 0;
  }
}

template <class T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Little-endian bytes of element type t -> Const.
Const from_bytes(int t, const Shape& shape, const std::string& b, std::int64_t n) {
  Const c;
  c.shape = shape;
  const std::size_t es = elem_size(t);
  c.is_float = t == onnx::TensorProto::FLOAT || t == onnx::TensorProto::DOUBLE ||
               t == onnx::TensorProto::BFLOAT16;
  if (c.is_float)
    c.f.resize(static_cast<std::size_t>(n));
  else
    c.i.resize(static_cast<std::size_t>(n));
  // The common case: one copy (none for an empty tensor, whose data() may be null).
  if (t == onnx::TensorProto::FLOAT) {
    if (n > 0) std::memcpy(c.f.data(), b.data(), static_cast<std::size_t>(n) * sizeof(float));
    return c;
  }
  for (std::int64_t k = 0; k < n; ++k) {
    const char* p = b.data() + static_cast<std::size_t>(k) * es;
    const auto u = static_cast<std::size_t>(k);
    switch (t) {
      case onnx::TensorProto::FLOAT:
        c.f[u] = load<float>(p);
        break;
      case onnx::TensorProto::DOUBLE:
        c.f[u] = to_f32(load<double>(p));
        break;
      case onnx::TensorProto::BFLOAT16:
        c.f[u] = bf16_to_f32(load<std::uint16_t>(p));
        break;
      case onnx::TensorProto::INT64:
      case onnx::TensorProto::UINT64:
        c.i[u] = load<std::int64_t>(p);
        break;
      case onnx::TensorProto::INT32:
        c.i[u] = load<std::int32_t>(p);
        break;
      case onnx::TensorProto::UINT32:
        c.i[u] = load<std::uint32_t>(p);
        break;
      case onnx::TensorProto::INT16:
        c.i[u] = load<std::int16_t>(p);
        break;
      case onnx::TensorProto::UINT16:
        c.i[u] = load<std::uint16_t>(p);
        break;
      case onnx::TensorProto::INT8:
        c.i[u] = load<std::int8_t>(p);
        break;
      default:  // UINT8, BOOL
        c.i[u] = load<std::uint8_t>(p);
        break;
    }
  }
  return c;
}

}  // namespace

std::string TensorReader::external(const onnx::TensorProto& t, std::size_t bytes) {
  std::string location;
  std::int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      if (kv.key() == "offset") offset = std::stoll(kv.value());
      if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      throw Fail{"external data " + kv.key() + " '" + kv.value() + "' is not a number"};
    }
  }
  const fs::path rel(location);
  if (location.empty()) throw Fail{"external data without a location"};
  if (rel.is_absolute() ||
      std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; }))
    throw Fail{"external data location '" + location + "' leaves the model's directory"};
  const fs::path path = fs::path(dir_) / rel;
  std::error_code ec;
  const auto size = static_cast<std::int64_t>(fs::file_size(path, ec));
  if (ec) throw Fail{"external data file " + path.string() + ": " + ec.message()};
  if (length < 0) length = static_cast<std::int64_t>(bytes);
  if (length != static_cast<std::int64_t>(bytes))
    throw Fail{"external data length " + std::to_string(length) + ", the dims need " +
               std::to_string(bytes) + " bytes"};
  if (offset < 0 || offset > size || length > size - offset)
    throw Fail{"external data [" + std::to_string(offset) + ", +" + std::to_string(length) +
               ") outside " + path.string() + " (" + std::to_string(size) + " bytes)"};
  std::ifstream f(path, std::ios::binary);
  std::string b(bytes, '\0');
  f.seekg(offset);
  f.read(b.data(), static_cast<std::streamsize>(bytes));
  if (!f) throw Fail{"cannot read " + path.string()};
  if (std::find(files_.begin(), files_.end(), path.string()) == files_.end())
    files_.push_back(path.string());
  external_bytes_ += length;
  hash_(b.data(), b.size());
  return b;
}

Const TensorReader::read(const onnx::TensorProto& t) {
  Const c = read_values(t);
  c.elem = t.data_type();
  return c;
}

Const TensorReader::read_values(const onnx::TensorProto& t) {
  const Shape shape(t.dims().begin(), t.dims().end());
  const std::size_t es = elem_size(t.data_type());
  if (es == 0)
    throw Fail{"element type " + onnx::TensorProto_DataType_Name(t.data_type()) +
               " is not supported"};
  const std::int64_t n = checked_numel(shape, max_bytes_ / static_cast<std::int64_t>(es));
  const auto bytes = static_cast<std::size_t>(n) * es;
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return from_bytes(t.data_type(), shape, external(t, bytes), n);
  if (t.has_raw_data()) {
    if (t.raw_data().size() != bytes)
      throw Fail{"raw_data holds " + std::to_string(t.raw_data().size()) + " bytes, the dims " +
                 "need " + std::to_string(bytes)};
    return from_bytes(t.data_type(), shape, t.raw_data(), n);
  }
  const auto check = [&](int have) {
    if (have != n)
      throw Fail{"holds " + std::to_string(have) + " values, the dims need " + std::to_string(n)};
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      check(t.float_data_size());
      return Const::floats(shape, {t.float_data().begin(), t.float_data().end()});
    case onnx::TensorProto::DOUBLE: {
      check(t.double_data_size());
      std::vector<float> v(t.double_data().begin(), t.double_data().end());
      return Const::floats(shape, std::move(v));
    }
    case onnx::TensorProto::INT64:
      check(t.int64_data_size());
      return Const::ints(shape, {t.int64_data().begin(), t.int64_data().end()});
    case onnx::TensorProto::BFLOAT16: {
      check(t.int32_data_size());
      std::vector<float> v;
      for (auto x : t.int32_data()) v.push_back(bf16_to_f32(static_cast<std::uint16_t>(x)));
      return Const::floats(shape, std::move(v));
    }
    default:  // int32 and the narrower types live in int32_data
      check(t.int32_data_size());
      return Const::ints(shape, {t.int32_data().begin(), t.int32_data().end()});
  }
}

// --- shapes -------------------------------------------------------------------------------------

std::vector<int> perm_of(const onnx::NodeProto& n, std::size_t rank) {
  const Shape p = attr_ints(n, "perm");
  std::vector<int> perm;
  for (std::size_t k = 0; k < rank; ++k)
    perm.push_back(p.empty() ? static_cast<int>(rank - 1 - k) : norm_axis(p.at(k), rank));
  std::vector<int> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t k = 0; k < rank; ++k)
    if (sorted[k] != static_cast<int>(k) || (!p.empty() && p.size() != rank))
      throw Fail{"perm " + std::to_string(p.size()) + " axes is not a permutation of " +
                 std::to_string(rank)};
  return perm;
}

int norm_axis(std::int64_t axis, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r)  // a rank-0 tensor has no axis: callers index shapes with it
    throw Fail{"axis " + std::to_string(axis) + " outside a rank-" + std::to_string(r) + " tensor"};
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

SliceRange slice_range(std::int64_t start, std::int64_t end, std::int64_t step, std::int64_t d) {
  const auto clamp = [d](std::int64_t i, std::int64_t lo, std::int64_t hi) {
    return std::clamp(i < 0 ? (i < -d ? lo : i + d) : i, lo, hi);
  };
  const std::int64_t s = step > 0 ? clamp(start, 0, d) : clamp(start, -1, d - 1);
  const std::int64_t e = step > 0 ? clamp(end, 0, d) : clamp(end, -1, d - 1);
  // Indices s, s + step, ... strictly before e: ceil(|e - s| / |step|) when e lies that way.
  const std::int64_t span = step > 0 ? e - s : s - e;
  const std::int64_t stride = step > 0 ? step
                              : step == std::numeric_limits<std::int64_t>::min()
                                  ? std::numeric_limits<std::int64_t>::max()
                                  : -step;
  return {s, span <= 0 ? 0 : (span - 1) / stride + 1};
}

Shape reshape_shape(const Shape& in, const Const& spec, bool allowzero) {
  if (spec.is_float) throw Fail{"Reshape's shape is not an integer tensor"};
  const std::int64_t n = checked_numel(in, std::numeric_limits<std::int64_t>::max());
  Shape out;
  int infer = -1;
  std::int64_t known = 1;
  for (std::size_t k = 0; k < spec.i.size(); ++k) {
    std::int64_t d = spec.i[k];
    if (d == 0 && !allowzero) {
      if (k >= in.size()) throw Fail{"Reshape copies dimension " + std::to_string(k) + ", absent"};
      d = in[k];
    }
    if (d == -1) {
      if (infer >= 0) throw Fail{"Reshape with two -1 dimensions"};
      infer = static_cast<int>(k);
      d = 1;
    } else if (d < 0) {
      throw Fail{"Reshape to a negative dimension " + std::to_string(d)};
    }
    out.push_back(d);
    if (__builtin_mul_overflow(known, d, &known))
      throw Fail{"Reshape to a shape of more than 2^63 elements"};
  }
  if (infer >= 0) {
    if (known == 0 || n % known != 0) throw Fail{"Reshape cannot infer its -1 dimension"};
    out[static_cast<std::size_t>(infer)] = n / known;
    known = n;
  }
  if (known != n)
    throw Fail{"Reshape of " + std::to_string(n) + " elements to " + std::to_string(known)};
  return out;
}

Shape flatten_shape(const Shape& in, std::int64_t axis) {
  const int a = axis == static_cast<std::int64_t>(in.size()) ? static_cast<int>(in.size())
                                                             : norm_axis(axis, in.size());
  std::int64_t outer = 1, inner = 1;
  for (std::size_t k = 0; k < in.size(); ++k) (static_cast<int>(k) < a ? outer : inner) *= in[k];
  return {outer, inner};
}

Shape squeeze_shape(const Shape& in, const Shape& axes) {
  std::vector<bool> drop(in.size(), false);
  for (auto a : axes) drop[static_cast<std::size_t>(norm_axis(a, in.size()))] = true;
  Shape out;
  for (std::size_t k = 0; k < in.size(); ++k) {
    if (axes.empty() ? in[k] == 1 : drop[k]) {
      if (in[k] != 1) throw Fail{"Squeeze of dimension " + std::to_string(k) + " of size > 1"};
      continue;
    }
    out.push_back(in[k]);
  }
  return out;
}

Shape unsqueeze_shape(const Shape& in, const Shape& axes) {
  const std::size_t rank = in.size() + axes.size();
  std::vector<bool> ins(rank, false);
  for (auto a : axes) ins[static_cast<std::size_t>(norm_axis(a, rank))] = true;
  Shape out;
  std::size_t k = 0;
  for (std::size_t j = 0; j < rank; ++j) out.push_back(ins[j] ? 1 : in.at(k++));
  return out;
}

Shape node_axes(const onnx::NodeProto& n, const Const* axes_input) {
  if (axes_input) {
    if (axes_input->is_float) throw Fail{"axes are not integers"};
    return axes_input->i;
  }
  return attr_ints(n, "axes");
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const std::size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (std::size_t k = 0; k < r; ++k) {
    const std::int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    const std::int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Fail{"shapes do not broadcast (" + std::to_string(da) + " vs " + std::to_string(db) +
                 ")"};
    out[k] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// For each element of `to`, the index of the element of `from` that broadcasts to it.
std::vector<std::int64_t> broadcast_index(const Shape& from, const Shape& to) {
  if (broadcast_shape(from, to) != to) throw Fail{"cannot broadcast to the wanted shape"};
  const std::size_t r = to.size(), off = r - from.size();
  Shape stride(r, 0);
  std::int64_t s = 1;
  for (std::size_t k = r; k-- > off;) {
    stride[k] = from[k - off] == 1 ? 0 : s;
    s *= from[k - off];
  }
  const std::int64_t n = checked_numel(to, kFoldLimit);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  Shape pos(r, 0);
  for (std::int64_t e = 0; e < n; ++e) {
    std::int64_t src = 0;
    for (std::size_t k = 0; k < r; ++k) src += pos[k] * stride[k];
    idx[static_cast<std::size_t>(e)] = src;
    for (std::size_t k = r; k-- > 0;) {
      if (++pos[k] < to[k]) break;
      pos[k] = 0;
    }
  }
  return idx;
}

Const gather_elems(const Const& a, const Shape& shape, const std::vector<std::int64_t>& idx) {
  Const c;
  c.is_float = a.is_float, c.shape = shape;
  for (auto k : idx) {
    if (a.is_float)
      c.f.push_back(a.f.at(static_cast<std::size_t>(k)));
    else
      c.i.push_back(a.i.at(static_cast<std::size_t>(k)));
  }
  return c;
}

Const elementwise(const Const& a, const Const& b, bool to_float,
                  const std::function<double(double, double)>& fn) {
  const Shape out = broadcast_shape(a.shape, b.shape);
  const auto ia = broadcast_index(a.shape, out), ib = broadcast_index(b.shape, out);
  Const c;
  c.is_float = to_float, c.shape = out;
  for (std::size_t e = 0; e < ia.size(); ++e) {
    const double v = fn(a.at(ia[e]), b.at(ib[e]));
    if (to_float)
      c.f.push_back(to_f32(v));
    else
      c.i.push_back(to_i64(v));
  }
  return c;
}

const Const& need_in(const std::vector<const Const*>& in, std::size_t k) {
  if (k >= in.size() || !in[k]) throw Fail{"input " + std::to_string(k) + " is missing"};
  return *in[k];
}

Const fold_slice(const onnx::NodeProto& n, const std::vector<const Const*>& in, int opset) {
  const Const& x = need_in(in, 0);
  Shape starts, ends, axes, steps;
  if (opset < 10) {
    starts = attr_ints(n, "starts"), ends = attr_ints(n, "ends"), axes = attr_ints(n, "axes");
  } else {
    starts = need_in(in, 1).i, ends = need_in(in, 2).i;
    if (in.size() > 3 && in[3]) axes = in[3]->i;
    if (in.size() > 4 && in[4]) steps = in[4]->i;
  }
  if (axes.empty())
    for (std::size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<std::int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  const std::size_t r = x.shape.size();
  Shape lo(r, 0), step(r, 1), out = x.shape;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const auto a = static_cast<std::size_t>(norm_axis(axes.at(k), r));
    const std::int64_t st = steps.at(k);
    if (st == 0) throw Fail{"Slice step 0"};
    const SliceRange sr = slice_range(starts[k], ends.at(k), st, x.shape[a]);
    lo[a] = sr.first, step[a] = st, out[a] = sr.count;
  }
  std::vector<std::int64_t> idx;
  const std::int64_t total = checked_numel(out, kFoldLimit);
  Shape pos(r, 0), stride(r, 1);
  for (std::size_t k = r; k-- > 1;) stride[k - 1] = stride[k] * x.shape[k];
  for (std::int64_t e = 0; e < total; ++e) {
    std::int64_t src = 0;
    for (std::size_t k = 0; k < r; ++k) src += (lo[k] + pos[k] * step[k]) * stride[k];
    idx.push_back(src);
    for (std::size_t k = r; k-- > 0;) {
      if (++pos[k] < out[k]) break;
      pos[k] = 0;
    }
  }
  return gather_elems(x, out, idx);
}

Const fold_gather(const onnx::NodeProto& n, const Const& data, const Const& ind) {
  const int axis = norm_axis(attr_i(n, "axis", 0), data.shape.size());
  if (ind.is_float) throw Fail{"Gather indices are not integers"};
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), ind.shape.begin(), ind.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  std::int64_t outer = 1, inner = 1;
  for (int k = 0; k < axis; ++k) outer *= data.shape[static_cast<std::size_t>(k)];
  for (std::size_t k = static_cast<std::size_t>(axis) + 1; k < data.shape.size(); ++k)
    inner *= data.shape[k];
  const std::int64_t d = data.shape[static_cast<std::size_t>(axis)];
  std::vector<std::int64_t> idx;
  for (std::int64_t o = 0; o < outer; ++o)
    for (auto j : ind.i) {
      if (j < -d || j >= d) throw Fail{"Gather index " + std::to_string(j) + " out of range"};
      const std::int64_t jj = j < 0 ? j + d : j;
      for (std::int64_t e = 0; e < inner; ++e) idx.push_back((o * d + jj) * inner + e);
    }
  return gather_elems(data, out, idx);
}

Const fold_concat(const onnx::NodeProto& n, const std::vector<const Const*>& in) {
  const Const& first = need_in(in, 0);
  const auto axis = static_cast<std::size_t>(norm_axis(attr_i(n, "axis", 0), first.shape.size()));
  Shape out = first.shape;
  out[axis] = 0;
  for (std::size_t k = 0; k < in.size(); ++k) {
    Shape s = need_in(in, k).shape;
    if (s.size() != first.shape.size()) throw Fail{"Concat of tensors of different ranks"};
    out[axis] += s[axis];
    s[axis] = first.shape[axis];
    if (s != first.shape) throw Fail{"Concat of tensors of different shapes"};
  }
  std::int64_t outer = 1;
  for (std::size_t k = 0; k < axis; ++k) outer *= out[k];
  Const c;
  c.is_float = first.is_float, c.shape = out;
  for (std::int64_t o = 0; o < outer; ++o)
    for (const Const* p : in) {
      if (p->is_float != first.is_float) throw Fail{"Concat of floats and integers"};
      const std::int64_t chunk = p->numel() / std::max<std::int64_t>(outer, 1);
      for (std::int64_t e = 0; e < chunk; ++e) {
        if (c.is_float)
          c.f.push_back(p->f[static_cast<std::size_t>(o * chunk + e)]);
        else
          c.i.push_back(p->i[static_cast<std::size_t>(o * chunk + e)]);
      }
    }
  return c;
}

// MatMul of constants (float, rank 2 or more, batch dimensions broadcast; a vector operand is
// not taken), as a rotary embedding's inv_freq times its positions folds.
Const fold_matmul(const Const& a, const Const& b) {
  const std::size_t ra = a.shape.size(), rb = b.shape.size();
  if (ra < 2 || rb < 2) throw Fail{"MatMul of a constant vector"};
  if (!a.is_float || !b.is_float) throw Fail{"MatMul of integer constants"};
  const std::int64_t m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
  if (b.shape[rb - 2] != k)
    throw Fail{"MatMul of constants " + std::to_string(k) + " by " +
               std::to_string(b.shape[rb - 2])};
  const Shape ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  Shape batch = broadcast_shape(ba, bb), sa = batch, sb = batch, out = batch;
  sa.insert(sa.end(), {m, k}), sb.insert(sb.end(), {k, n}), out.insert(out.end(), {m, n});
  if (static_cast<double>(checked_numel(out, kFoldLimit)) * static_cast<double>(k) >
      static_cast<double>(kFoldLimit))
    throw Fail{"MatMul of constants too large to fold"};
  const Const x = broadcast_to(a, sa), y = broadcast_to(b, sb);
  const std::int64_t nb = checked_numel(batch, kFoldLimit);
  std::vector<float> r;
  r.reserve(static_cast<std::size_t>(nb * m * n));
  for (std::int64_t e = 0; e < nb; ++e)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (std::int64_t t = 0; t < k; ++t)
          acc += static_cast<double>(x.f[static_cast<std::size_t>((e * m + i) * k + t)]) *
                 y.f[static_cast<std::size_t>((e * k + t) * n + j)];
        r.push_back(static_cast<float>(acc));
      }
  return Const::floats(out, std::move(r));
}

Const with_shape(Const c, Shape s) {
  c.shape = std::move(s);
  return c;
}

}  // namespace

Const broadcast_to(const Const& a, const Shape& to) {
  return gather_elems(a, to, broadcast_index(a.shape, to));
}

Const transpose(const Const& a, const std::vector<int>& perm) {
  const std::size_t r = a.shape.size();
  Shape out(r), stride(r, 1);
  for (std::size_t k = r; k-- > 1;) stride[k - 1] = stride[k] * a.shape[k];
  for (std::size_t k = 0; k < r; ++k) out[k] = a.shape[static_cast<std::size_t>(perm[k])];
  std::vector<std::int64_t> idx;
  Shape pos(r, 0);
  for (std::int64_t e = 0; e < a.numel(); ++e) {
    std::int64_t src = 0;
    for (std::size_t k = 0; k < r; ++k) src += pos[k] * stride[static_cast<std::size_t>(perm[k])];
    idx.push_back(src);
    for (std::size_t k = r; k-- > 0;) {
      if (++pos[k] < out[k]) break;
      pos[k] = 0;
    }
  }
  return gather_elems(a, out, idx);
}

std::vector<Const> fold(const onnx::NodeProto& n, const std::vector<const Const*>& in, int opset) {
  const std::string& op = n.op_type();
  const auto arith = [&](const std::function<double(double, double)>& fn) {
    const Const &a = need_in(in, 0), &b = need_in(in, 1);
    return elementwise(a, b, a.is_float || b.is_float, fn);
  };
  if (op == "Identity" || op == "Dropout") return {need_in(in, 0)};
  if (op == "Add") return {arith([](double a, double b) { return a + b; })};
  if (op == "Sub") return {arith([](double a, double b) { return a - b; })};
  if (op == "Mul") return {arith([](double a, double b) { return a * b; })};
  if (op == "Min") return {arith([](double a, double b) { return std::min(a, b); })};
  if (op == "Max") return {arith([](double a, double b) { return std::max(a, b); })};
  if (op == "Pow") return {arith([](double a, double b) { return std::pow(a, b); })};
  if (op == "Div") {
    const bool fl = need_in(in, 0).is_float || need_in(in, 1).is_float;
    return {arith([fl](double a, double b) {
      if (!fl && b == 0) throw Fail{"integer division by zero"};
      return fl ? a / b : std::trunc(a / b);
    })};
  }
  if (op == "Mod") {
    const bool fmod = attr_i(n, "fmod", 0) != 0;
    return {arith([fmod](double a, double b) {
      if (b == 0) throw Fail{"Mod by zero"};
      const double r = std::fmod(a, b);
      return fmod || r == 0 || (r < 0) == (b < 0) ? r : r + b;
    })};
  }
  if (op == "Equal") {
    Const c = arith([](double a, double b) { return a == b ? 1.0 : 0.0; });
    if (c.is_float) c = Const::ints(c.shape, {c.f.begin(), c.f.end()});
    return {c};
  }
  if (op == "Greater" || op == "Less" || op == "GreaterOrEqual" || op == "LessOrEqual" ||
      op == "And" || op == "Or") {
    const auto cmp = [&op](double a, double b) {
      const bool r = op == "Greater"          ? a > b
                     : op == "Less"           ? a < b
                     : op == "GreaterOrEqual" ? a >= b
                     : op == "LessOrEqual"    ? a <= b
                     : op == "And"            ? a != 0 && b != 0
                                              : a != 0 || b != 0;
      return r ? 1.0 : 0.0;
    };
    Const c = arith(cmp);
    if (c.is_float) c = Const::ints(c.shape, {c.f.begin(), c.f.end()});
    return {c};
  }
  if (op == "Not") {
    Const c = need_in(in, 0);
    if (c.is_float) throw Fail{"Not of floats"};
    for (auto& v : c.i) v = v == 0;
    return {c};
  }
  if (op == "Cos" || op == "Sin") {
    Const c = need_in(in, 0);
    if (!c.is_float) throw Fail{op + " of integers"};
    for (auto& v : c.f)
      v = static_cast<float>(op == "Cos" ? std::cos(static_cast<double>(v))
                                         : std::sin(static_cast<double>(v)));
    return {c};
  }
  if (op == "MatMul") return {fold_matmul(need_in(in, 0), need_in(in, 1))};
  if (op == "Where") {
    const Const &cond = need_in(in, 0), &x = need_in(in, 1), &y = need_in(in, 2);
    const Shape out = broadcast_shape(broadcast_shape(cond.shape, x.shape), y.shape);
    const Const c = broadcast_to(cond, out), a = broadcast_to(x, out), b = broadcast_to(y, out);
    Const r;
    r.is_float = x.is_float, r.shape = out;
    for (std::int64_t e = 0; e < c.numel(); ++e) {
      const double v = c.at(e) != 0 ? a.at(e) : b.at(e);
      if (r.is_float)
        r.f.push_back(to_f32(v));
      else
        r.i.push_back(to_i64(v));
    }
    return {r};
  }
  if (op == "Sqrt" || op == "Neg" || op == "Reciprocal") {
    Const c = need_in(in, 0);
    if (!c.is_float && op != "Neg") throw Fail{op + " of integers"};
    for (auto& v : c.f) v = op == "Sqrt" ? std::sqrt(v) : op == "Neg" ? -v : 1.0f / v;
    for (auto& v : c.i) {
      if (v == std::numeric_limits<std::int64_t>::min()) throw Fail{"Neg of -2^63"};
      v = -v;
    }
    return {c};
  }
  if (op == "Cast") {
    const Const& x = need_in(in, 0);
    const auto to = attr_i(n, "to", 0);
    const bool fl = to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE ||
                    to == onnx::TensorProto::FLOAT16 || to == onnx::TensorProto::BFLOAT16;
    if (fl) {
      std::vector<float> v;
      for (std::int64_t e = 0; e < x.numel(); ++e) v.push_back(to_f32(x.at(e)));
      if (to == onnx::TensorProto::BFLOAT16)  // rounded as ONNX casts (to nearest even)
        for (auto& f : v) f = bf16_to_f32(f32_to_bf16(f));
      return {Const::floats(x.shape, std::move(v))};
    }
    std::vector<std::int64_t> v;
    for (std::int64_t e = 0; e < x.numel(); ++e) {
      const double d = x.at(e);
      v.push_back(to == onnx::TensorProto::BOOL ? d != 0 : to_i64(d));
    }
    return {Const::ints(x.shape, std::move(v))};
  }
  if (op == "Reshape")
    return {with_shape(need_in(in, 0), reshape_shape(need_in(in, 0).shape, need_in(in, 1),
                                                     attr_i(n, "allowzero", 0) != 0))};
  if (op == "Flatten")
    return {with_shape(need_in(in, 0), flatten_shape(need_in(in, 0).shape, attr_i(n, "axis", 1)))};
  if (op == "Squeeze")
    return {with_shape(
        need_in(in, 0),
        squeeze_shape(need_in(in, 0).shape, node_axes(n, in.size() > 1 ? in[1] : nullptr)))};
  if (op == "Unsqueeze")
    return {with_shape(
        need_in(in, 0),
        unsqueeze_shape(need_in(in, 0).shape, node_axes(n, in.size() > 1 ? in[1] : nullptr)))};
  if (op == "Concat") return {fold_concat(n, in)};
  if (op == "Gather") return {fold_gather(n, need_in(in, 0), need_in(in, 1))};
  if (op == "Slice") return {fold_slice(n, in, opset)};
  if (op == "Transpose")
    return {transpose(need_in(in, 0), perm_of(n, need_in(in, 0).shape.size()))};
  if (op == "Expand") {
    const Const& x = need_in(in, 0);
    return {broadcast_to(x, broadcast_shape(x.shape, need_in(in, 1).i))};
  }
  if (op == "ConstantOfShape") {
    const Shape s = need_in(in, 0).i;
    checked_numel(s, kFoldLimit);
    Const v = Const::floats({}, {0.0f});
    if (const auto* a = find_attr(n, "value")) {
      TensorReader r("", std::int64_t{1} << 20, [](const void*, std::size_t) {});
      v = r.read(a->t());
    }
    return {broadcast_to(with_shape(v, {}), s)};
  }
  if (op == "Range") {
    const Const &s = need_in(in, 0), &l = need_in(in, 1), &d = need_in(in, 2);
    if (s.numel() != 1 || l.numel() != 1 || d.numel() != 1)
      throw Fail{"Range's start, limit and delta must be scalars"};
    const double st = s.at(0), li = l.at(0), de = d.at(0);
    if (de == 0) throw Fail{"Range with delta 0"};
    const auto cnt = to_i64(std::max(0.0, std::ceil((li - st) / de)));
    checked_numel({cnt}, kFoldLimit);
    Const c;
    c.is_float = s.is_float, c.shape = {cnt};
    for (std::int64_t e = 0; e < cnt; ++e) {
      const double v = st + static_cast<double>(e) * de;
      if (c.is_float)
        c.f.push_back(to_f32(v));
      else
        c.i.push_back(to_i64(v));
    }
    return {c};
  }
  throw Fail{"no import of " + op + " (on constants)"};
}

// --- attributes ---------------------------------------------------------------------------------

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
std::int64_t attr_i(const onnx::NodeProto& n, const std::string& name, std::int64_t def) {
  const auto* a = find_attr(n, name);
  return a ? a->i() : def;
}
float attr_f(const onnx::NodeProto& n, const std::string& name, float def) {
  const auto* a = find_attr(n, name);
  return a ? a->f() : def;
}
std::string attr_s(const onnx::NodeProto& n, const std::string& name, const std::string& def) {
  const auto* a = find_attr(n, name);
  return a ? a->s() : def;
}
Shape attr_ints(const onnx::NodeProto& n, const std::string& name, const Shape& def) {
  const auto* a = find_attr(n, name);
  return a ? Shape(a->ints().begin(), a->ints().end()) : def;
}
void check_attrs(const onnx::NodeProto& n, const std::vector<std::string>& known) {
  for (const auto& a : n.attribute())
    if (std::find(known.begin(), known.end(), a.name()) == known.end())
      throw Fail{"attribute '" + a.name() + "' is not supported"};
}

}  // namespace tb::workloads::onnx_import

// Helpers shared by the Desc implementations: reading and printing DIMS tokens from one table
// of fields per op, so that parse and print cannot drift apart.
#pragma once

#include <initializer_list>
#include <string>

#include "../problem.h"

namespace tb::ops {

inline constexpr std::int64_t kRequired = -1;

// The tensor type of the pool, row, binary, rope and embed ops: they compute in their dtype, and
// integer dtypes, which make no sense for them, are stored as f32.
inline DType storage_type(DType dt) {
  return dt == DType::bf16 || dt == DType::f16 ? dt : DType::f32;
}

// One dimension: its name, where it lives, its default (kRequired: must be given, always
// printed; otherwise omitted when equal to the default), and the smallest valid value.
struct Field {
  const char* name;
  std::int64_t* value;
  std::int64_t def;
  std::int64_t min = 1;
};

inline Result<void> read_dims(std::string_view op, const Dims& d,
                              std::initializer_list<Field> fields) {
  for (const auto& f : fields) *f.value = f.def;
  for (const auto& [name, v] : d) {
    bool known = false;
    for (const auto& f : fields)
      if (name == f.name) *f.value = v, known = true;
    if (!known) {
      std::string all;
      for (const auto& f : fields) all += std::string(all.empty() ? "" : ", ") + f.name;
      return make_error(std::string(op) + ": unknown dimension '" + name + "' (expected " + all +
                        ")");
    }
  }
  for (const auto& f : fields) {
    bool given = false;
    for (const auto& [name, v] : d) given |= name == f.name;
    if (f.def == kRequired && !given)
      return make_error(std::string(op) + ": dimension '" + f.name + "' is required");
    if (*f.value < f.min)
      return make_error(std::string(op) + ": dimension '" + f.name +
                        "' must be >= " + std::to_string(f.min));
  }
  return {};
}

inline std::string print_dims(std::initializer_list<Field> fields) {
  std::string s;
  for (const auto& f : fields)
    if (f.def == kRequired || *f.value != f.def) s += f.name + std::to_string(*f.value);
  return s;
}

// For const members in print tables.
inline std::int64_t* mut(const std::int64_t& v) {
  return const_cast<std::int64_t*>(&v);
}

}  // namespace tb::ops

// Host tensors: dense, row-major, 64-byte aligned, with guard bands on both sides so that an
// out-of-bounds write by a kernel (or a download of the wrong size) is caught by guards_intact().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dtype.h"

namespace tb {

class Tensor {
 public:
  static constexpr std::size_t kGuardBytes = 64;
  static constexpr std::uint8_t kGuardByte = 0xA5;

  Tensor() = default;
  Tensor(DType dtype, std::vector<std::int64_t> shape);
  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t numel() const { return numel_; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  std::string shape_str() const;

  std::byte* raw() { return buf_ ? buf_.get() + kGuardBytes : nullptr; }
  const std::byte* raw() const { return buf_ ? buf_.get() + kGuardBytes : nullptr; }
  template <class T>
  T* data() {
    return reinterpret_cast<T*>(raw());
  }
  template <class T>
  const T* data() const {
    return reinterpret_cast<const T*>(raw());
  }

  // Element i converted to double, whatever the dtype (for validation and references).
  double at(std::int64_t i) const;
  // Stores v into element i, rounding to the tensor's dtype (saturating for integers).
  void set(std::int64_t i, double v);
  // Fills with a recognisable non-zero pattern, so that a kernel that never writes is caught.
  void poison();
  bool guards_intact() const;

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  DType dtype_ = DType::f32;
  std::vector<std::int64_t> shape_;
  std::int64_t numel_ = 0;
  std::unique_ptr<std::byte[], Free> buf_;
};

}  // namespace tb

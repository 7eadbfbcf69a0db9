#include "tensor.h"

#include "host_memory.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace tb {

void Tensor::Free::operator()(std::byte* p) const {
  std::free(p);
}

Tensor::Tensor(DType dtype, std::vector<std::int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = 1;
  for (auto d : shape_) {
    if (d < 0) throw std::invalid_argument("negative tensor dimension");
    numel_ *= d;
  }
  const std::size_t payload = (bytes() + 63) / 64 * 64;
  const std::size_t total = payload + 2 * kGuardBytes;
  auto* p = host_alloc(total);
  if (!p) throw std::bad_alloc();
  buf_.reset(p);
  std::memset(p, kGuardByte, kGuardBytes);
  std::memset(p + kGuardBytes + bytes(), kGuardByte, total - kGuardBytes - bytes());
  std::memset(p + kGuardBytes, 0, bytes());
}

Tensor::Tensor(const Tensor& other) : Tensor(other.dtype_, other.shape_) {
  if (other.buf_) std::memcpy(raw(), other.raw(), bytes());
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) *this = Tensor(other);
  return *this;
}

std::string Tensor::shape_str() const {
  std::string s = "[";
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape_[i]);
  }
  return s + "]";
}

double Tensor::at(std::int64_t i) const {
  switch (dtype_) {
    case DType::f32:
      return data<float>()[i];
    case DType::f16:
      return f16_to_f32(data<std::uint16_t>()[i]);
    case DType::bf16:
      return bf16_to_f32(data<std::uint16_t>()[i]);
    case DType::s8:
      return data<std::int8_t>()[i];
    case DType::u8:
      return data<std::uint8_t>()[i];
    case DType::s32:
      return data<std::int32_t>()[i];
  }
  return 0;
}

namespace {
template <class I>
I saturate(double v) {
  if (std::isnan(v)) return 0;  // converting NaN to an integer is undefined behaviour
  const double r = std::nearbyint(v);
  if (r <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
  if (r >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(r);
}
}  // namespace

void Tensor::set(std::int64_t i, double v) {
  switch (dtype_) {
    case DType::f32:
      data<float>()[i] = static_cast<float>(v);
      break;
    case DType::f16:
      data<std::uint16_t>()[i] = f32_to_f16(static_cast<float>(v));
      break;
    case DType::bf16:
      data<std::uint16_t>()[i] = f32_to_bf16(static_cast<float>(v));
      break;
    case DType::s8:
      data<std::int8_t>()[i] = saturate<std::int8_t>(v);
      break;
    case DType::u8:
      data<std::uint8_t>()[i] = saturate<std::uint8_t>(v);
      break;
    case DType::s32:
      data<std::int32_t>()[i] = saturate<std::int32_t>(v);
      break;
  }
}

void Tensor::poison() {
  // 0x7F bytes: a large finite f32 / bf16 / f16 value, and 127 for integers.
  if (buf_) std::memset(raw(), 0x7F, bytes());
}

bool Tensor::guards_intact() const {
  if (!buf_) return true;
  const std::size_t payload = (bytes() + 63) / 64 * 64;
  const std::byte* p = buf_.get();
  const auto is_guard = [](std::byte b) { return b == std::byte{kGuardByte}; };
  return std::all_of(p, p + kGuardBytes, is_guard) &&
         std::all_of(p + kGuardBytes + bytes(), p + 2 * kGuardBytes + payload, is_guard);
}

}  // namespace tb

// Sizes no device can run, refused by Problem::parse() naming the limit: a dimension above
// 2^31 - 1, a tensor above 1 TiB. Within them every size product (elements, bytes, flops) stays
// in range of int64.
#pragma once

#include <cstdint>

#include "problem.h"

namespace tb {

inline constexpr std::int64_t kMaxDim = (std::int64_t{1} << 31) - 1;
inline constexpr std::uint64_t kMaxTensorBytes = std::uint64_t{1} << 40;

// Whether every input and output of `p` stays within kMaxTensorBytes (overflow-safe); for
// problems built in code (--size) rather than parsed.
Result<void> check_size(const Problem& p);

}  // namespace tb

#include "host_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

namespace tb {

std::byte* host_alloc(std::size_t bytes) {
  constexpr std::size_t kHuge = std::size_t{2} << 20, kPage = 4096;
  bytes = (std::max<std::size_t>(bytes, 1) + 63) / 64 * 64;
  if (bytes < kHuge) return static_cast<std::byte*>(std::aligned_alloc(64, bytes));
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kHuge, (bytes + kHuge - 1) / kHuge * kHuge));
  // Advice only (ignored where THP is off); the partial 2 MiB at the end stays in 4 KiB pages.
  if (p) (void)::madvise(p, (bytes + kPage - 1) / kPage * kPage, MADV_HUGEPAGE);
  return p;
}

}  // namespace tb

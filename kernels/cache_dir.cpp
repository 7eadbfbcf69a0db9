#include "cache_dir.h"

#include <cstdlib>

namespace tb {

std::filesystem::path cache_root() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::filesystem::path(x) / "tierbench";
  if (const char* h = std::getenv("HOME"); h && *h)
    return std::filesystem::path(h) / ".cache" / "tierbench";
  return {};
}

}  // namespace tb

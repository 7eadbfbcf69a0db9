// Where tierbench keeps what it can rebuild: compiled OpenCL programs, Vulkan pipeline caches,
// synthetic model weights. The one definition; each user adds its own subfolder.
#pragma once

#include <filesystem>

namespace tb {

// $XDG_CACHE_HOME/tierbench, else $HOME/.cache/tierbench, else empty (nothing persisted). Not
// created here: a user creates the subfolder it writes.
std::filesystem::path cache_root();

}  // namespace tb

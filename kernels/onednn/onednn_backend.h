// The oneDNN backend: CPU primitives used the way benchdnn uses them (blocked weight layouts
// where oneDNN prefers them, fused post-ops, primitive cache).
#pragma once

#include <memory>

#include "../backend.h"

namespace tb {

std::unique_ptr<Backend> make_onednn_backend();

}  // namespace tb

// The oneDNN backend's graph execution (device_graph.h): see onednn_graph.cpp.
#pragma once

#include <memory>

#include "../device_graph.h"

namespace tb::onednn {

// `self` prepares the nodes that run as kernels; `threads` is resolved (> 0).
Result<std::unique_ptr<PreparedGraph>> prepare_graph(tb::Backend& self, const DeviceGraph& g,
                                                     const PrepareOptions& o, int threads);

}  // namespace tb::onednn

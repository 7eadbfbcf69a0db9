// The Vulkan backend's resident graph (device_graph.h): every node's pipeline created and one
// command buffer recorded at prepare (input copies, every dispatch with barriers where a node
// depends on an earlier one or reuses its buffer, output copies), descriptor sets written once,
// intermediates in an arena of shared device buffers, weights uploaded once in each kernel's
// layout. One submit and one fence wait per inference.
#pragma once

#include <memory>
#include <string>

#include "../device_graph.h"
#include "vulkan_context.h"

namespace tb::vulkan {

// Fails (with the reason) when a node cannot run resident, e.g. a non-f32 gemm whose activation
// operand would need a transpose on the device; the backend then falls back to the staged graph.
Result<std::unique_ptr<PreparedGraph>> prepare_resident_graph(std::shared_ptr<Context> ctx,
                                                              const DeviceGraph& g);

// Wraps the staged graph (make_staged_graph) so that its config() says why it was used.
std::unique_ptr<PreparedGraph> staged_fallback(std::unique_ptr<PreparedGraph> staged,
                                               std::string why);

}  // namespace tb::vulkan

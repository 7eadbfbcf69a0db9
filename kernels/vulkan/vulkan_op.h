// The shared shape of the Vulkan backend's non-GEMM kernels (conv, attention, pool, row ops,
// binary, rope, embed): one device buffer per input and output of the problem, one compute
// pipeline and one dispatch over `items` work items (shaders/op_common.glsl), recorded once and
// timed with device timestamps. An op family only describes its dispatch as an OpPlan
// (vulkan_<family>.cpp: conv, attention, pool, rowwise, binary, rope, embed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../backend.h"
#include "vulkan_context.h"

namespace tb::vulkan {

struct OpPlan {
  std::string blob;                 // embedded SPIR-V variant (CMakeLists.txt)
  std::vector<std::uint32_t> spec;  // specialization constants from id 1 (id 0: workgroup size)
  std::vector<std::uint32_t> push;  // push constants; push[0] must be `items`
  std::uint64_t items = 0;          // work items, one invocation each
  std::uint32_t workgroup = 64;     // invocations per workgroup
  // Binding i of the shader is tensor bindings[i] of inputs ++ outputs; -1 binds a dummy buffer.
  std::vector<int> bindings;
  std::vector<std::pair<std::string, double>> details;
};

// Every tensor of the problem is non-empty, has fewer than 2^31 elements and fits one storage
// buffer range.
Support check_op_sizes(const Problem& p, const Context& ctx);

Result<std::unique_ptr<PreparedKernel>> prepare_op(std::shared_ptr<Context> ctx, const Problem& p,
                                                   OpPlan plan);

// A plan's pipeline and dispatch grid, without buffers: what OpKernel and the resident graph
// (vulkan_graph.cpp, which binds its own buffers) share. Clamps plan.workgroup to the device.
struct OpDispatch {
  std::shared_ptr<vk::ComputePipeline> pipeline;
  PipelineStats stats;
  std::uint32_t gx = 1, gy = 1;
};
Result<OpDispatch> make_op_dispatch(Context& ctx, OpPlan& plan);

// llvmpipe (lavapipe, and so any CPU-type Vulkan device we meet) ends every loop of a shader
// invocation once all its loops together have taken 65535 back-edges (its infinite-loop guard,
// LP_MAX_TGSI_LOOP_ITERATIONS), silently leaving wrong results. On CPU devices a plan whose
// invocations would take more than `iterations` (estimated, with a margin) is unsupported.
Support check_loop_budget(const Context& ctx, double iterations, const std::string& what);

// Activation code of the shaders (shaders/activation.glsl).

// Whether conv / attention kernels of this element type run on the device (f16 needs 16-bit
// storage and shaderFloat16; bf16 and int8 live in 32-bit words and need no feature).
Support conv_dtype_supported(DType dt, const Context& ctx);
// What the pool, row, binary, rope and embed ops share: f32, no epilogue (then `extra`, then the
// sizes: check_op_sizes).
Support supports_small_op(const Problem& p, const Context& ctx, Support extra = Support::yes());
// What the permute, slice and embed families share: f32, f16 or bf16 (`what`: "tables", ...), the
// 16-bit types moved as 32-bit words, two to a word, so that `count` (the elements that must pair
// up) must be even for them; no epilogue; then the sizes.
Support supports_copy_op(const Problem& p, const Context& ctx, const char* what,
                         std::int64_t count);
// A push constant.
inline std::uint32_t u32(std::int64_t v) {
  return static_cast<std::uint32_t>(v);
}

// Op families: support checks and plans. The problem must hold that family's desc.
Support supports_conv(const Problem& p, const Context& ctx);
Support supports_attention(const Problem& p, const Context& ctx);
Support supports_pool(const Problem& p, const Context& ctx);
Support supports_rowwise(const Problem& p, const Context& ctx);
Support supports_binary(const Problem& p, const Context& ctx);
Support supports_rope(const Problem& p, const Context& ctx);
Support supports_embed(const Problem& p, const Context& ctx);
Support supports_kvwrite(const Problem& p, const Context& ctx);
Support supports_permute(const Problem& p, const Context& ctx);
Support supports_slice(const Problem& p, const Context& ctx);
Result<OpPlan> conv_plan(const Problem& p, const Context& ctx);
Result<OpPlan> attention_plan(const Problem& p, const Context& ctx);
Result<OpPlan> pool_plan(const Problem& p, const Context& ctx);
Result<OpPlan> rowwise_plan(const Problem& p, const Context& ctx);
Result<OpPlan> binary_plan(const Problem& p, const Context& ctx);
Result<OpPlan> rope_plan(const Problem& p, const Context& ctx);
Result<OpPlan> embed_plan(const Problem& p, const Context& ctx);
Result<OpPlan> kvwrite_plan(const Problem& p, const Context& ctx);
Result<OpPlan> permute_plan(const Problem& p, const Context& ctx);
Result<OpPlan> slice_plan(const Problem& p, const Context& ctx);
// in_place: the cache is bound as the output too, and only the token's rows are written (the
// resident graph's states).
Result<OpPlan> kvwrite_plan(const Problem& p, const Context& ctx, bool in_place);

// The backend's dispatch, one entry per op family (a new alternative of OpDesc without one does
// not compile): whether the device runs p, and the plan of a problem that runs as one dispatch
// (a GEMM has none: it runs through vulkan_gemm.h, as does a pointwise conv it takes over).
Support supports_problem(const Problem& p, const Context& ctx);
Result<OpPlan> op_plan(const Problem& p, const Context& ctx);

}  // namespace tb::vulkan

// GEMM on Vulkan (f32, f16, bf16 x bf16 -> f32, u8 x s8 -> s32 with the +scales epilogue):
// shader configurations, the prepared kernel, and the bounded tuner.
//
// Four shaders (shaders/*.comp, variants in CMakeLists.txt):
//   naive  one C element per invocation, inputs as given (the in-run anchor and the fallback;
//          f32 only);
//   reg    TM x TN of C per invocation from packed A (m x K) and B^T (n x K), vector loads along
//          k, no shared memory: for CPU devices (lavapipe), where barriers are costly; also the
//          f16 / bf16 / int8 path of GPUs (int8: packed dot products where the device enables
//          shaderIntegerDotProduct, int8_dot_enabled());
//   sg     as reg, but the 8 invocations of a subgroup share the TM rows of A, each loading TM / 8
//          of them and broadcasting (subgroupBroadcast): for 8-lane subgroups (lavapipe/AVX2);
//   tiled  BM x BN per workgroup through shared memory: for GPUs (f32).
// The block per invocation (TM x TN) is a compile-time variant (see shaders/gemm_common.glsl for
// why not a specialization constant); the workgroup size and epilogue are specialization
// constants. The tuner picks among the compiled blocks per device and driver.
// Packing (transposes, k rounded up with zeros to the load width) happens in upload(): a measured
// load cost (upload_s, pack_s in details()).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../backend.h"
#include "../tuning.h"
#include "vulkan_context.h"

namespace tb::vulkan {

// wide: the reg shader loading f32 8 k values at a time (u64vec4; needs shaderInt64).
enum class GemmShader { naive, reg, tiled64, tiled32, sg, wide };

struct GemmConfig {
  GemmShader shader = GemmShader::naive;
  std::uint32_t tm = 1, tn = 1;    // C per invocation
  std::uint32_t lx = 16, ly = 16;  // workgroup size
  std::string str() const;         // "naive:16x16", "reg:tm8tn8:8x1", "sg:tm32tn8:8x1", "tiled64"
  static std::optional<GemmConfig> parse(std::string_view s);
  bool operator==(const GemmConfig&) const = default;
};

GemmConfig naive_config();
// The TM x TN blocks of a packed shader (reg, sg) compiled in for a problem dtype (each a SPIR-V
// variant, read from the table CMakeLists.txt generates). Empty when the shader has no variant.
const std::vector<std::pair<std::uint32_t, std::uint32_t>>& gemm_blocks(GemmShader s, DType dt);
GemmConfig tiled_config(GemmShader s);  // fixed tile geometry of a tiled variant
// Whether `c` can run problem dtype `dt` on this device (compiled variant, subgroups, limits);
// the reason when not.
Support config_supported(const Context& ctx, const GemmConfig& c, DType dt);
// The configuration used when nothing was tuned: by device type, problem size and dtype.
GemmConfig default_gemm_config(const Context& ctx, const GemmDesc& g, DType dt = DType::f32);
// Candidates the tuner tries on this device (bounded; the default first).
std::vector<GemmConfig> gemm_candidates(const Context& ctx, const GemmDesc& g,
                                        DType dt = DType::f32);
// Why the device cannot run gemm of this dtype (missing feature), or yes.
Support gemm_dtype_supported(const Context& ctx, DType dt);

struct GemmPrepareOptions {
  std::optional<GemmConfig> config;  // none: tuned winner if persisted, else the default
  bool reuse_pipeline = true;        // share pipelines created earlier in this process
};

Result<std::unique_ptr<PreparedKernel>> prepare_gemm(std::shared_ptr<Context> ctx, const Problem& p,
                                                     const GemmPrepareOptions& opts);

// The configuration prepare_gemm takes when none is given: the stored tuner winner for this
// device, shape class and dtype when it still runs here, else default_gemm_config(); *source
// says which ("tuned" or "default").
GemmConfig chosen_gemm_config(const Context& ctx, const GemmDesc& g, DType dt,
                              std::string* source = nullptr);
// Whether the device runs the GEMM p (its dtype, and every operand within 32-bit indices and one
// storage-buffer range).
Support supports_gemm(const Problem& p, const Context& ctx);
// A pointwise conv (1 x 1, stride 1, no padding, one group; any dtype) as the GEMM over the NHWC
// bytes as they are: A = src as pixels x c, B^T = weights as k x c, C = dst (and residual) as
// pixels x k, per-channel scales and bias as the GEMM's per-column ones, the inputs in the same
// order. The packed GEMM shaders run it several times faster than the conv shaders on lavapipe
// once the reduction is deep; the kernel and the resident graph run it so
// (TB_VULKAN_GRAPH_CONV_AS_CONV=1 or TB_VULKAN_CONV_DIRECT=1: as a conv, the A/B anchors).
std::optional<GemmDesc> pointwise_gemm(const Problem& p);

// A configuration's pipeline, push constants and grid, without buffers: what GemmKernel and the
// resident graph (vulkan_graph.cpp, which binds its own buffers) share. Bindings: 0 A, 1 B, 2 C,
// 3 bias, 4 residual, 5 a_scale, 6 b_scale (+scales). Packed shaders read A as batch x m rows of kp
// elements (k contiguous, zero-padded) and B transposed as batch x n rows of kp
// (pack_gemm_operand); naive reads both as given.
struct GemmDispatch {
  static constexpr std::uint32_t kBindings = 7;
  GemmConfig cfg;
  std::shared_ptr<vk::ComputePipeline> pipeline;
  PipelineStats stats;
  std::vector<std::uint32_t> push;  // gemm_common.glsl's Push
  std::uint32_t gx = 1, gy = 1, gz = 1;
  bool packed = false;    // operands in the packed layout above
  std::int64_t kp = 0;    // packed row length in elements (k rounded up to the load width)
  bool int8_dot = false;  // the int8 variant with packed dot products
};
Result<GemmDispatch> make_gemm_dispatch(Context& ctx, const GemmDesc& g, DType dt,
                                        const Epilogue& post, const GemmConfig& cfg, bool reuse);
// One operand (`rows` = m for A, n for B) into the packed layout: batch x rows x kp, k
// contiguous, zero-padded. rows_contiguous_k: the source is rows x k (else k x rows).
std::vector<unsigned char> pack_gemm_operand(const void* src, std::size_t elem_bytes,
                                             std::int64_t batch, std::int64_t rows, std::int64_t k,
                                             std::int64_t kp, bool rows_contiguous_k);

// ---- tuner ----------------------------------------------------------------------------------
struct TuneOptions {
  double budget_s = 10;  // stop trying new candidates after this much time
  int reps = 3;          // timed runs per candidate (median taken)
  bool persist = true;   // put the winner in tune_store() (kernels/tuning.h)
  // The winner minimises create_warm_s + runs * run_s: the pipeline creation every later process
  // pays (once the driver's shader cache holds it: the first, cold compile is paid once, by the
  // tuner itself) amortised over this many runs. 0 ranks by run time alone.
  double runs = 100;
  // Progress hooks (TuneRequest's, kernels/tuning.h); either may be empty.
  std::function<void(const std::string& config)> on_candidate;
  std::function<void(const TuneWinner& best_so_far)> on_best;
};
struct TuneEntry {
  GemmConfig config;
  double gflops = 0;         // median over reps (device timestamps)
  double run_s = 0;          // that median's time
  double create_s = 0;       // first pipeline creation here (vk call + first dispatch): cold
                             // unless the driver's shader cache already held it
  double create_warm_s = 0;  // the same pipeline created again (driver caches warm)
  double score_s = 0;        // create_warm_s + runs * run_s (run_s alone when runs = 0)
};
struct TuneResult {
  GemmConfig best;
  std::vector<TuneEntry> tried;           // the candidates that passed, timed
  std::vector<TuneCandidate> candidates;  // every candidate, with its status
  TuneWinner winner;                      // what is (or would be) stored
};
// Tunes on the problem's own shape; every candidate is checked against the reference first (a
// wrong candidate is dropped, never chosen).
Result<TuneResult> tune_gemm(const std::shared_ptr<Context>& ctx, const Problem& p,
                             const TuneOptions& opts);
// Stored winner for this device + driver and the problem's shape class and dtype, if any.
std::optional<GemmConfig> lookup_tuned(const Context& ctx, const GemmDesc& g,
                                       DType dt = DType::f32);
// The shape class: e.g. "m1024n1024k1024:f32" (m, n, k rounded up to powers of 2; u8 as s8).
std::string tuning_bucket(const GemmDesc& g, DType dt = DType::f32);
// The key of the winner for this device, driver, GEMM shader build and shape class.
TuneKey gemm_tune_key(const Context& ctx, const GemmDesc& g, DType dt);
// Backend::tune_key and Backend::tune: a GEMM, or a pointwise conv as the GEMM the graph runs.
std::optional<TuneKey> problem_tune_key(const Context& ctx, const Problem& p);
Result<TuneOutcome> tune_problem(const std::shared_ptr<Context>& ctx, const Problem& p,
                                 const TuneRequest& r);

// The process-wide Vulkan instance and per-device contexts used by the backend.
Result<std::shared_ptr<vk::Instance>> shared_instance();
Result<std::shared_ptr<Context>> shared_context(int device);

}  // namespace tb::vulkan

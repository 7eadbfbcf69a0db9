// f32 GEMM on Vulkan: shader configurations, the prepared kernel, and the bounded tuner.
//
// Three shaders (shaders/*.comp, variants in CMakeLists.txt):
//   naive  one C element per invocation, inputs as given (the in-run anchor and the fallback);
//   reg    TM x TN of C per invocation from packed A (m x k4) and B^T (n x k4), vec4 along k, no
//          shared memory: for CPU devices (lavapipe), where barriers are costly;
//   tiled  BM x BN per workgroup through shared memory: for GPUs.
// Packing (transposes, k rounded up to 4 with zeros) happens in upload(): a measured load cost.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../backend.h"
#include "vulkan_context.h"

namespace tb::vulkan {

enum class GemmShader { naive, reg, tiled64, tiled32 };

struct GemmConfig {
  GemmShader shader = GemmShader::naive;
  std::uint32_t tm = 1, tn = 1;    // C per invocation
  std::uint32_t lx = 16, ly = 16;  // workgroup size
  std::string str() const;         // "naive:16x16", "reg:tm8tn8:8x1", "tiled64"
  static std::optional<GemmConfig> parse(std::string_view s);
  bool operator==(const GemmConfig&) const = default;
};

GemmConfig naive_config();
// The TM x TN blocks of the reg shader compiled in (each a SPIR-V variant).
const std::vector<std::pair<std::uint32_t, std::uint32_t>>& reg_blocks();
GemmConfig tiled_config(GemmShader s);  // fixed tile geometry of a tiled variant
// The configuration used when nothing was tuned: by device type and problem size.
GemmConfig default_gemm_config(const vk::PhysicalDeviceInfo& dev, const GemmDesc& g);
// Candidates the tuner tries on this device (bounded; the default first).
std::vector<GemmConfig> gemm_candidates(const vk::PhysicalDeviceInfo& dev, const GemmDesc& g);

struct GemmPrepareOptions {
  std::optional<GemmConfig> config;  // none: tuned winner if persisted, else the default
  bool reuse_pipeline = true;        // share pipelines created earlier in this process
};

Result<std::unique_ptr<PreparedKernel>> prepare_gemm(std::shared_ptr<Context> ctx, const Problem& p,
                                                     const GemmPrepareOptions& opts);

// ---- tuner ----------------------------------------------------------------------------------
struct TuneOptions {
  double budget_s = 10;  // stop trying new candidates after this much time
  int reps = 3;          // timed runs per candidate (median taken)
  bool persist = true;   // store the winner under cache_root()/vulkan/gemm_tuning.json
};
struct TuneEntry {
  GemmConfig config;
  double gflops = 0;    // median over reps (device timestamps)
  double create_s = 0;  // pipeline creation
};
struct TuneResult {
  GemmConfig best;
  std::vector<TuneEntry> tried;
};
// Tunes on the problem's own shape; every candidate is checked against the reference first (a
// wrong candidate is dropped, never chosen).
Result<TuneResult> tune_gemm(const std::shared_ptr<Context>& ctx, const Problem& p,
                             const TuneOptions& opts);
// Persisted winner for this device + driver and the problem's size class, if any.
std::optional<GemmConfig> lookup_tuned(const Context& ctx, const GemmDesc& g);
std::string tuning_bucket(const GemmDesc& g);  // e.g. "m1024n1024k1024" rounded to powers of 2

// The process-wide Vulkan instance and per-device contexts used by the backend.
Result<std::shared_ptr<vk::Instance>> shared_instance();
Result<std::shared_ptr<Context>> shared_context(int device);

}  // namespace tb::vulkan

// Shared machinery of the oneDNN backend: the check macro, the engine, and Plan -- a list of
// primitives (and a few hand-written CPU steps) over numbered buffers, which every op builder
// fills and one PreparedKernel class runs.
//
// Two phases, so that supports() never pollutes the primitive cache nor allocates:
//   build   (the op builders): memory descriptors and primitive descriptors only (cheap);
//   realise (prepare):         primitives created (timed: primitive_create_s) and buffers
//   allocated.
// Weights whose layout oneDNN chooses (format_tag::any) get a user buffer in the problem's plain
// layout plus a reorder to the chosen layout that upload() runs (timed: reorder_s).
#pragma once

#include <dnnl.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../problem.h"
#include "../result.h"

namespace tb::onednn {

// Raised (inside the backend only) by TB_DNNL; guard() turns it into a tb::Error at the API edge.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const char* file, int line, const char* call, const char* what);

// Evaluates a oneDNN C++ API call; a dnnl::error becomes a Failure naming file, line and call.
#define TB_DNNL(call)                                          \
  ([&]() -> decltype(auto) {                                   \
    try {                                                      \
      return (call);                                           \
    } catch (const dnnl::error& e) {                           \
      ::tb::onednn::fail(__FILE__, __LINE__, #call, e.what()); \
    }                                                          \
  }())

// Runs f, turning a Failure (or any std::exception, e.g. bad_alloc) into an Error.
template <class F>
auto guard(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return make_error(e.what());
  }
}

// Implementations of the linked oneDNN that were seen writing out of bounds or computing wrongly
// (kKnownBadImpls in onednn_common.cpp says where and how). skip_impls moves pd past every
// implementation whose name (impl_info_str) is in `names` to the next one oneDNN offers; false
// when none is left (the caller falls back or reports unsupported). skip_known_bad applies the
// list to the linked oneDNN's version and counts what it skipped (known_bad_skipped()).
bool skip_impls(dnnl::primitive_desc& pd, const std::vector<std::string>& names);
bool skip_known_bad(dnnl::primitive_desc& pd);
int known_bad_skipped();

// Whether oneDNN's u8 x s8 kernels, at the ISA in effect, sum each pair of products into int16
// with saturation (vpmaddubsw: SSE4.1, AVX, AVX2 and AVX-512 without VNNI, also where
// ONEDNN_MAX_CPU_ISA caps a VNNI CPU). Their result is then exact only for weights of at most
// int8_weight_limit() in magnitude (255 x 63 x 2 fits in int16); 0 where every s8 weight is exact.
int int8_weight_limit();

// Whether oneDNN has bf16 matmuls and convolutions at the ISA in effect: from AVX-512 (core) up
// in the 2.x that Debian links; an AVX2 CPU has none (their primitive descriptors fail).
bool bf16_primitives();

dnnl::engine& cpu_engine();
dnnl::memory::data_type to_dnnl(DType t);
using dims = dnnl::memory::dims;
using tag = dnnl::memory::format_tag;
dnnl::memory::desc plain_md(const dims& d, DType t);  // dense row-major

// Appends `act` as an eltwise post-op with the reference's semantics (nothing for none).
void append_activation(dnnl::post_ops& po, Activation act);

// A gemm/conv epilogue as oneDNN post-ops, and the problem inputs those post-ops read.
//
// Without scales the bias is the primitive's own input (DNNL_ARG_BIAS, bias_input) and the
// post-ops are the activation and the residual add. With scales (integer problems, f32 dst) the
// chain is binary_mul a_scale (broadcast), binary_mul b_scale (per channel), binary_add bias (per
// channel), activation, residual add. Why not output scales: oneDNN 2.x adds DNNL_ARG_BIAS
// *before* the output scale (v3 semantics differ), and runtime output scales (the scales are
// inputs, unknown when the primitive is created) have no brgemm/VNNI matmul and no convolution
// implementation in 2.6, while per-channel binary post-ops run fused in the brgemm kernels. So
// nothing is multiplied on the host: a_scale * b_scale[n] happens inside the timed primitive.
// (The graph, whose scales are constants, creates its int8 primitives with static output
// scales instead: onednn_graph.cpp, Folded.)
struct EpilogueArgs {
  dnnl::post_ops ops;
  int bias_input = -1;  // the input to pass as DNNL_ARG_BIAS, or -1
  struct Arg {
    int post_op, input;
    dnnl::memory::desc md;
  };
  std::vector<Arg> args;  // DNNL_ARG_ATTR_MULTIPLE_POST_OP(post_op) | DNNL_ARG_SRC_1 <- input
};
// first_input: the input after the weights. dst_md: the op's dst (also the residual's layout);
// channel_dim: its output-channel dimension (gemm n, conv k).
EpilogueArgs epilogue_post_ops(const Epilogue& e, int first_input, const dnnl::memory::desc& dst_md,
                               int channel_dim);

// A hand-written step runs on the realised buffers.
using CustomFn = std::function<void(std::vector<dnnl::memory>& buffers)>;

class Plan {
 public:
  // A buffer filled by upload() from problem input `input` (its bytes, as-is: user_md must
  // describe the tensor's dense layout, perhaps with permuted strides).
  int input(int input, const dnnl::memory::desc& user_md);
  // Like input(), but the primitive wants `wanted`: when it differs, upload() reorders into a
  // second buffer (a load cost). Returns the buffer the primitive reads.
  int weights(int input, const dnnl::memory::desc& user_md, const dnnl::memory::desc& wanted);
  // A buffer download() copies into problem output `output`; md must be dense row-major.
  int output(int output, const dnnl::memory::desc& md);
  int scratch(const dnnl::memory::desc& md);  // an intermediate
  // A buffer filled once when the kernel is prepared (e.g. an attention mask).
  int constant(const dnnl::memory::desc& md, std::function<void(void* data)> fill);
  void primitive(const dnnl::primitive_desc& pd, std::vector<std::pair<int, int>> args);
  void custom(std::string name, CustomFn fn);

  // A named figure the kernel's details() reports, e.g. {"attention_fused", 1}.
  void detail(std::string name, double value) { details_.emplace_back(std::move(name), value); }

  // oneDNN implementation names of the primitives, e.g. "brg:avx512_core".
  std::string impl_info() const;

 private:
  friend class Kernel;
  struct Buffer {
    dnnl::memory::desc md;
    int input = -1, output = -1;
    std::function<void(void*)> fill;
  };
  struct Reorder {
    int from, to;
  };
  struct Step {
    dnnl::primitive_desc pd;  // empty for a custom step
    std::vector<std::pair<int, int>> args;
    std::string name;
    CustomFn fn;
  };
  std::vector<Buffer> buffers_;
  std::vector<Reorder> reorders_;
  std::vector<Step> steps_;
  std::vector<std::pair<std::string, double>> details_;
};

}  // namespace tb::onednn

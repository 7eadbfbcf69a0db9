// Builder: what the tier definitions (model_*.cpp) write graphs with. Its layer helpers are
// dtype-agnostic: linear() and conv() emit, for the graph's dtype,
//   f32:  one kernel with bias, activation and residual fused;
//   bf16: a host cast of the activation to bf16, then a bf16 kernel (f32 out) with the epilogue;
//   s8:   a host quantize of the activation to u8, a u8 x s8 -> s32 kernel, and a host
//         dequantize applying the per-channel scales, bias, activation and residual (which the
//         executor fuses into the kernel as +scales where the backend has it; executor.h).
// Weights are named like the usual checkpoints ("layers.3.mlp.up_proj.weight"); linear weights
// are [out][in] (gemm trans_b), conv weights [k][r][s][c/g] as ConvDesc lays them out.
#pragma once

#include <string>
#include <vector>

#include "graph.h"

namespace tb::workloads {

class Builder {
 public:
  Builder(std::string tier, std::string variant, DType dtype);

  Graph& graph() { return g_; }
  DType dtype() const { return g_.dtype; }
  // The dtype the layer helpers build for from here on (an int8 graph's f32 layer: set, build,
  // set back).
  void set_dtype(DType dt) { g_.dtype = dt; }
  const Value& value(int v) const { return g_.values[static_cast<std::size_t>(v)]; }

  int input(const std::string& name, DType dt, std::vector<std::int64_t> shape);
  int state(const std::string& name, DType dt, std::vector<std::int64_t> shape);
  int constant(const std::string& name, DType dt, std::vector<std::int64_t> shape, ConstKind kind,
               std::int64_t pos0 = 0, double theta = 1e4);
  // Adds a weight, or returns the existing one of that name (tied weights).
  int weight(const std::string& name, DType dt, std::vector<std::int64_t> shape, Init init,
             bool is_scale = false);

  int kernel(const std::string& name, Problem p, std::vector<Operand> in);
  int host(const std::string& name, HostOp op, std::vector<Operand> in, DType out_dt,
           std::vector<std::int64_t> out_shape, Activation act = Activation::none);

  // y[m][n] = act(x[m][k] W^T + b) (+ residual); W is `weight_name` [n][k] (default name.weight).
  // gain scales the initialiser (residual branches use < 1 so that deep nets stay bounded).
  int linear(const std::string& name, int x, std::int64_t m, std::int64_t k, std::int64_t n,
             bool bias, Activation act = Activation::none, int residual = -1, double gain = 1.0,
             const std::string& weight_name = {});
  // NHWC convolution of x [n][h][w][c] with bias (batch norm folded into it, as deployed models
  // do). pad_end: extra padding at the bottom and right (ConvDesc::pad_end).
  int conv(const std::string& name, int x, std::int64_t k, std::int64_t r, std::int64_t stride,
           std::int64_t pad, std::int64_t groups, Activation act, int residual = -1,
           double gain = 1.0, std::int64_t pad_end = 0);
  int row(const std::string& name, RowKind kind, int x, std::int64_t m, std::int64_t n);
  // pad_end: extra padding at the bottom and right (PoolDesc::pad_end).
  int pool(const std::string& name, PoolKind kind, int x, std::int64_t r, std::int64_t stride,
           std::int64_t pad, std::int64_t pad_end = 0);
  int binary(const std::string& name, BinaryKind kind, int a, int b);
  // Multi-head attention over head-major q [h][t][d], k, v [kv][s][d] (cast to bf16 in bf16 tiers).
  int attention(const std::string& name, int q, int k, int v, AttentionDesc d);
  int permute(const std::string& name, int x, std::int64_t a, std::int64_t b, std::int64_t c);
  // Host concat of xs (values or weights), each [outer][n_i] in memory order, into `shape`
  // ([outer][sum n_i] in memory order; the inputs' dtype).
  int concat(const std::string& name, std::vector<Operand> xs, std::int64_t outer,
             std::vector<std::int64_t> shape);
  int concat(const std::string& name, const std::vector<int>& xs, std::int64_t outer,
             std::vector<std::int64_t> shape);
  // Host slice of x [outer][d][inner] (memory order): rows start, start + step, ... (cnt of them,
  // step != 0) into `shape` ([outer][cnt][inner]; x's dtype).
  int slice(const std::string& name, int x, std::int64_t outer, std::int64_t inner,
            std::int64_t start, std::int64_t step, std::vector<std::int64_t> shape);
  // A static scale and u8 zero point for the quantize layer named `layer` (an s8 linear() or
  // conv() named N quantises its input in "N.quant"); false when there is no such layer.
  bool fix_quantize(const std::string& layer, float scale, int zp);
  // Host fake quantisation of the f32 value x with a static scale and u8 zero point (HostOp).
  int fake_quant(const std::string& name, int x, float scale, int zp);
  // Pool, row and binary ops compute in f32 in every tier (bf16 kernels produce f32): what they
  // read.
  DType elementwise_dtype() const { return DType::f32; }

  Graph finish(int output);

 private:
  Init uniform_for(std::int64_t fan_in, Activation act, double gain) const;
  int to_kernel_input(const std::string& name, int x);  // cast for bf16 tiers

  Graph g_;
};

}  // namespace tb::workloads

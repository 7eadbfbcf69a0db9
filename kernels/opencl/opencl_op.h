// The shared shape of the OpenCL backend's non-GEMM kernels (conv, attention, pool, row ops,
// binary, rope, embed): one device buffer per input and output of the problem (its own, or a
// graph's bound by bind()), upload / upload_input / download checked against the problem's tensor
// specs, and execute() timed from the first to the last profiled launch. An op derives from
// OpKernel, builds its program in init(), enqueues its launches in enqueue() through launch(),
// and repacks an operand that changed in refresh().
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "opencl_internal.h"

namespace tb::ocl {

template <class T>
cl_int set_arg(cl_kernel k, cl_uint i, const T& v) {
  return clSetKernelArg(k, i, sizeof(T), &v);
}

// Sets the arguments of `k` in order: set_args(k, a, b, c) is args 0, 1, 2.
template <class... Ts>
cl_int set_args(cl_kernel k, const Ts&... vs) {
  cl_int err = CL_SUCCESS;
  cl_uint i = 0;
  ((err = err == CL_SUCCESS ? set_arg(k, i++, vs) : err), ...);
  return err;
}

class OpKernel : public DeviceKernel {
 public:
  OpKernel(std::shared_ptr<DeviceCtx> d, Problem p, Buffers buffers = Buffers::own);

  Result<void> upload(std::span<const Tensor> inputs) override;
  Result<void> upload_input(std::size_t index, const Tensor& t) override;
  Result<Timing> execute() override;
  Result<void> download(std::span<Tensor> outputs) override;
  MemoryStats memory() const override { return mem_; }
  std::vector<std::pair<std::string, double>> details() const override;
  Result<void> bind(std::span<const cl_mem> ins, cl_mem out) override;

 protected:
  // Builds `source` (with -cl-std=CL1.2 and `options`) through the binary cache, then (own
  // buffers) allocates one buffer per input and output spec.
  Result<void> init_program(const std::string& source, const std::string& options);
  Result<Kernel> make_kernel(const char* name);
  // A buffer of the kernel's own (counted in memory()).
  Result<Mem> alloc(std::size_t bytes);

  cl_mem in(std::size_t i) const { return in_ptr_[i]; }
  cl_mem out(std::size_t i) const { return out_ptr_[i]; }

  Problem p_;
  Program program_;
  std::vector<std::pair<std::string, double>> extra_details_;

 private:
  std::vector<TensorSpec> in_specs_, out_specs_;
  std::vector<Mem> in_, out_;             // own buffers
  std::vector<cl_mem> in_ptr_, out_ptr_;  // the buffers the launches use: own or bound
  double build_s_ = 0;
  bool cache_hit_ = false;
  MemoryStats mem_;
};

// Rounds x up to a multiple of m.
inline std::size_t round_up(std::size_t x, std::size_t m) {
  return (x + m - 1) / m * m;
}

// Every tensor of the problem has fewer than 2^31 elements and fits one device allocation.
Support check_sizes(const Problem& p, const DeviceCtx& d);

// What the pool, row-op, binary, rope and embed families share: f32, no epilogue (then `extra`,
// a family's own condition, then the sizes).
Support supports_small_op(const Problem& p, const DeviceCtx& d, Support extra = Support::yes());
// What the kvwrite, permute, slice and embed families share: f32, f16 or bf16 (`what`: "caches",
// "tables", ...), no epilogue, then the sizes.
Support supports_copy_op(const Problem& p, const DeviceCtx& d, const char* what);

// One launch of one kernel of cl/<source>.cl, the shape of those families (opencl_pool.cpp,
// opencl_rowwise.cpp, opencl_binary.cpp, opencl_rope.cpp, opencl_embed.cpp): a family derives,
// calls init_kernel() from its init(), and sets its arguments and grid in enqueue().
class SingleKernel : public OpKernel {
 public:
  using OpKernel::OpKernel;

 protected:
  // common: cl/gemm_common.cl first (its load / store helpers: bf16 rounding, ...).
  Result<void> init_kernel(const char* source, const std::string& options, const char* name,
                           bool common = false);
  static cl_int I(std::int64_t v) { return static_cast<cl_int>(v); }
  static std::size_t Z(std::int64_t v) { return static_cast<std::size_t>(v); }

  Kernel k_;
};

// A K (a SingleKernel with init()) for `p`, once `s` says that `p` is supported.
template <class K>
Result<std::unique_ptr<DeviceKernel>> prepare_single(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                     Buffers buffers, const Support& s) {
  if (!s.supported) return make_error(s.reason);
  auto k = std::make_unique<K>(std::move(d), p, buffers);
  if (auto r = k->init(); !r) return r.error();
  return std::unique_ptr<DeviceKernel>(std::move(k));
}

// One support check and one prepare per op family. The problem must hold that family's desc:
// the backend's dispatch (opencl_backend.cpp) visits Problem::op.
Support supports_conv(const Problem& p, const DeviceCtx& d);
Support supports_attention(const Problem& p, const DeviceCtx& d);
Support supports_pool(const Problem& p, const DeviceCtx& d);
Support supports_rowwise(const Problem& p, const DeviceCtx& d);
Support supports_binary(const Problem& p, const DeviceCtx& d);
Support supports_rope(const Problem& p, const DeviceCtx& d);
Support supports_embed(const Problem& p, const DeviceCtx& d);
Support supports_kvwrite(const Problem& p, const DeviceCtx& d);
Support supports_permute(const Problem& p, const DeviceCtx& d);
Support supports_slice(const Problem& p, const DeviceCtx& d);
Result<std::unique_ptr<DeviceKernel>> prepare_conv(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_attention(std::shared_ptr<DeviceCtx> d,
                                                        const Problem& p,
                                                        Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_pool(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_rowwise(std::shared_ptr<DeviceCtx> d,
                                                      const Problem& p,
                                                      Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_binary(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                     Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_rope(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_embed(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                    Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_kvwrite(std::shared_ptr<DeviceCtx> d,
                                                      const Problem& p,
                                                      Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_permute(std::shared_ptr<DeviceCtx> d,
                                                      const Problem& p,
                                                      Buffers buffers = Buffers::own);
Result<std::unique_ptr<DeviceKernel>> prepare_slice(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                    Buffers buffers = Buffers::own);

}  // namespace tb::ocl

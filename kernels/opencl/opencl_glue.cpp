// The small op families on OpenCL, f32, one launch each (kernels in cl/glue.cl): pooling (max /
// avg / global), row ops (softmax, layer norm, RMS norm), binary (add / mul), RoPE, embedding
// lookup.
#include <algorithm>
#include <variant>

#include "opencl_op.h"
#include "program_cache.h"

namespace tb::ocl {

namespace {

// Work-group size of the row kernels: a power of two the device accepts.
int row_wg(const DeviceCtx& d) {
  int wg = d.is_cpu ? 16 : 256;
  while (wg > 1 && wg > d.info.max_workgroup_size) wg /= 2;
  return wg;
}

const char* kernel_name(const PoolDesc& d) {
  return d.kind == PoolKind::global ? "global_pool" : "pool2d";
}
const char* kernel_name(const RowDesc& d) {
  switch (d.kind) {
    case RowKind::softmax:
      return "softmax_rows";
    case RowKind::layernorm:
      return "layernorm_rows";
    case RowKind::rmsnorm:
      return "rmsnorm_rows";
  }
  return "softmax_rows";
}
const char* kernel_name(const BinaryDesc&) {
  return "binary";
}
const char* kernel_name(const RopeDesc&) {
  return "rope";
}
const char* kernel_name(const EmbedDesc&) {
  return "embed";
}

// One launch of a kernel of cl/glue.cl for an op of family Desc (pool, row op, binary, rope or
// embed); enqueue_op() sets that family's arguments and grid.
template <class Desc>
class SmallOpKernel final : public OpKernel {
 public:
  using OpKernel::OpKernel;

  Result<void> init() {
    wg_ = row_wg(*d_);
    if (auto r = init_program(cl_source("glue"), "-DWG=" + std::to_string(wg_)); !r) return r;
    auto k = make_kernel(kernel_name(desc()));
    if (!k) return k.error();
    k_ = std::move(k.value());
    return {};
  }

 protected:
  Result<void> enqueue() override { return enqueue_op(desc()); }

 private:
  const Desc& desc() const { return *p_.template as<Desc>(); }
  static cl_int I(std::int64_t v) { return static_cast<cl_int>(v); }
  static std::size_t Z(std::int64_t v) { return static_cast<std::size_t>(v); }

  Result<void> enqueue_op(const PoolDesc& pd) {
    cl_kernel k = k_.get();
    if (pd.kind == PoolKind::global) {
      TB_CL_CHECK(set_args(k, in(0), out(0), I(pd.h * pd.w), I(pd.c)));
      const std::size_t g[2] = {Z(pd.c), Z(pd.n)};
      return launch(k, 2, g);
    }
    TB_CL_CHECK(set_args(k, in(0), out(0), I(pd.h), I(pd.w), I(pd.c), I(pd.oh()), I(pd.ow()),
                         I(pd.r), I(pd.s), I(pd.stride), I(pd.pad),
                         I(pd.kind == PoolKind::max ? 1 : 0)));
    const std::size_t g[3] = {Z(pd.c), Z(pd.ow()), Z(pd.n * pd.oh())};
    return launch(k, 3, g);
  }
  Result<void> enqueue_op(const RowDesc& r) {
    cl_kernel k = k_.get();
    const cl_float eps = static_cast<cl_float>(RowDesc::kEps);
    if (r.kind == RowKind::softmax) TB_CL_CHECK(set_args(k, in(0), out(0), I(r.n)));
    if (r.kind == RowKind::layernorm)
      TB_CL_CHECK(set_args(k, in(0), out(0), in(1), in(2), I(r.n), eps));
    if (r.kind == RowKind::rmsnorm) TB_CL_CHECK(set_args(k, in(0), out(0), in(1), I(r.n), eps));
    const std::size_t g[1] = {Z(r.m) * static_cast<std::size_t>(wg_)};
    const std::size_t l[1] = {static_cast<std::size_t>(wg_)};
    return launch(k, 1, g, l);
  }
  Result<void> enqueue_op(const BinaryDesc& b) {
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), in(1), out(0), I(b.kind == BinaryKind::mul ? 1 : 0)));
    const std::size_t g[1] = {Z(b.n)};
    return launch(k, 1, g);
  }
  Result<void> enqueue_op(const RopeDesc& r) {
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), in(1), in(2), out(0), I(r.h), I(r.d)));
    const std::size_t g[3] = {Z(r.d / 2), Z(r.h), Z(r.t)};
    return launch(k, 3, g);
  }
  Result<void> enqueue_op(const EmbedDesc& e) {
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), in(1), out(0), I(e.v), I(e.d)));
    const std::size_t g[2] = {Z(e.d), Z(e.t)};
    return launch(k, 2, g);
  }

  Kernel k_;
  int wg_ = 1;
};

// What the five families share: f32, no epilogue (then `extra`, then the sizes).
Support supports_small_op(const Problem& p, const DeviceCtx& d, Support extra = Support::yes()) {
  if (p.dtype != DType::f32)
    return Support::no("opencl: " + std::string(p.op_name()) + " is implemented for f32 only");
  if (p.post != Epilogue{}) return Support::no("opencl: glue ops take no epilogue");
  if (!extra.supported) return extra;
  return check_sizes(p, d);
}

template <class Desc>
Result<std::unique_ptr<DeviceKernel>> prepare_small_op(std::shared_ptr<DeviceCtx> d,
                                                       const Problem& p, Buffers buffers,
                                                       Support s) {
  if (!s.supported) return make_error(s.reason);
  auto k = std::make_unique<SmallOpKernel<Desc>>(std::move(d), p, buffers);
  if (auto r = k->init(); !r) return r.error();
  return std::unique_ptr<DeviceKernel>(std::move(k));
}

}  // namespace

Support supports_pool(const Problem& p, const DeviceCtx& d) {
  return supports_small_op(p, d);
}
Support supports_rowwise(const Problem& p, const DeviceCtx& d) {
  return supports_small_op(p, d);
}
Support supports_binary(const Problem& p, const DeviceCtx& d) {
  return supports_small_op(p, d);
}
Support supports_rope(const Problem& p, const DeviceCtx& d) {
  const bool odd = p.as<RopeDesc>()->d % 2 != 0;
  return supports_small_op(
      p, d, odd ? Support::no("opencl: rope needs an even head dim") : Support::yes());
}
Support supports_embed(const Problem& p, const DeviceCtx& d) {
  return supports_small_op(p, d);
}

Result<std::unique_ptr<DeviceKernel>> prepare_pool(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers) {
  const Support s = supports_pool(p, *d);
  return prepare_small_op<PoolDesc>(std::move(d), p, buffers, s);
}
Result<std::unique_ptr<DeviceKernel>> prepare_rowwise(std::shared_ptr<DeviceCtx> d,
                                                      const Problem& p, Buffers buffers) {
  const Support s = supports_rowwise(p, *d);
  return prepare_small_op<RowDesc>(std::move(d), p, buffers, s);
}
Result<std::unique_ptr<DeviceKernel>> prepare_binary(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                     Buffers buffers) {
  const Support s = supports_binary(p, *d);
  return prepare_small_op<BinaryDesc>(std::move(d), p, buffers, s);
}
Result<std::unique_ptr<DeviceKernel>> prepare_rope(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers) {
  const Support s = supports_rope(p, *d);
  return prepare_small_op<RopeDesc>(std::move(d), p, buffers, s);
}
Result<std::unique_ptr<DeviceKernel>> prepare_embed(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                    Buffers buffers) {
  const Support s = supports_embed(p, *d);
  return prepare_small_op<EmbedDesc>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

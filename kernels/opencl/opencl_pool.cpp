// Pooling on OpenCL, f32 (cl/pool.cl): max / avg over a window, and the global mean; one launch.
#include "opencl_op.h"

namespace tb::ocl {

namespace {

class PoolKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() {
    return init_kernel("pool", "", desc().kind == PoolKind::global ? "global_pool" : "pool2d");
  }

 protected:
  Result<void> enqueue() override {
    const PoolDesc& pd = desc();
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

 private:
  const PoolDesc& desc() const { return *p_.as<PoolDesc>(); }
};

}  // namespace

Support supports_pool(const Problem& p, const DeviceCtx& d) {
  return supports_small_op(p, d);
}

Result<std::unique_ptr<DeviceKernel>> prepare_pool(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers) {
  const Support s = supports_pool(p, *d);
  return prepare_single<PoolKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

// Rotary position embedding on OpenCL, f32 (cl/rope.cl): rotate-half with given tables; one
// launch.
#include "opencl_op.h"

namespace tb::ocl {

namespace {

class RopeKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() { return init_kernel("rope", "", "rope"); }

 protected:
  Result<void> enqueue() override {
    const RopeDesc& r = *p_.as<RopeDesc>();
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), in(1), in(2), out(0), I(r.h), I(r.d)));
    const std::size_t g[3] = {Z(r.d / 2), Z(r.h), Z(r.t)};
    return launch(k, 3, g);
  }
};

}  // namespace

Support supports_rope(const Problem& p, const DeviceCtx& d) {
  const bool odd = p.as<RopeDesc>()->d % 2 != 0;
  return supports_small_op(
      p, d, odd ? Support::no("opencl: rope needs an even head dim") : Support::yes());
}

Result<std::unique_ptr<DeviceKernel>> prepare_rope(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers) {
  const Support s = supports_rope(p, *d);
  return prepare_single<RopeKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

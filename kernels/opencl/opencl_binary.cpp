// Elementwise binary ops on OpenCL, f32 (cl/binary.cl): add / mul; one launch.
#include "opencl_op.h"

namespace tb::ocl {

namespace {

class BinaryKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() { return init_kernel("binary", "", "binary"); }

 protected:
  Result<void> enqueue() override {
    const BinaryDesc& b = *p_.as<BinaryDesc>();
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), in(1), out(0), I(b.kind == BinaryKind::mul ? 1 : 0)));
    const std::size_t g[1] = {Z(b.n)};
    return launch(k, 1, g);
  }
};

}  // namespace

Support supports_binary(const Problem& p, const DeviceCtx& d) {
  return supports_small_op(p, d);
}

Result<std::unique_ptr<DeviceKernel>> prepare_binary(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                     Buffers buffers) {
  const Support s = supports_binary(p, *d);
  return prepare_single<BinaryKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

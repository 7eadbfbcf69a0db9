// Row slice on OpenCL (cl/slice.cl), f32, f16 or bf16; one launch.
#include "opencl_op.h"

namespace tb::ocl {

namespace {

class SliceKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() {
    return init_kernel("slice", p_.dtype == DType::f32 ? "-DSLICE_T=0" : "-DSLICE_T=1", "slice");
  }

 protected:
  Result<void> enqueue() override {
    const SliceDesc& d = *p_.as<SliceDesc>();
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), out(0), I(d.r), I(d.n), I(d.s), I(d.c), I(d.t)));
    const std::size_t g[3] = {Z(d.n), Z(d.c), Z(d.o)};
    return launch(k, 3, g);
  }
};

}  // namespace

Support supports_slice(const Problem& p, const DeviceCtx& d) {
  return supports_copy_op(p, d, "elements");
}

Result<std::unique_ptr<DeviceKernel>> prepare_slice(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                    Buffers buffers) {
  const Support s = supports_slice(p, *d);
  return prepare_single<SliceKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

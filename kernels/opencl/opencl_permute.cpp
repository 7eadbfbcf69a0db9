// Permute of the two outer axes on OpenCL (cl/permute.cl), f32, f16 or bf16; one launch.
#include "opencl_op.h"

namespace tb::ocl {

namespace {

class PermuteKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() {
    return init_kernel("permute", p_.dtype == DType::f32 ? "-DPERM_T=0" : "-DPERM_T=1", "permute");
  }

 protected:
  Result<void> enqueue() override {
    const PermuteDesc& d = *p_.as<PermuteDesc>();
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), out(0), I(d.a), I(d.b), I(d.c)));
    const std::size_t g[3] = {Z(d.c), Z(d.b), Z(d.a)};
    return launch(k, 3, g);
  }
};

}  // namespace

Support supports_permute(const Problem& p, const DeviceCtx& d) {
  return supports_copy_op(p, d, "elements");
}

Result<std::unique_ptr<DeviceKernel>> prepare_permute(std::shared_ptr<DeviceCtx> d,
                                                      const Problem& p, Buffers buffers) {
  const Support s = supports_permute(p, *d);
  return prepare_single<PermuteKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

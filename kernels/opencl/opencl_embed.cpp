// Embedding lookup on OpenCL, f32 (cl/embed.cl); one launch.
#include "opencl_op.h"

namespace tb::ocl {

namespace {

class EmbedKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() { return init_kernel("embed", "", "embed"); }

 protected:
  Result<void> enqueue() override {
    const EmbedDesc& e = *p_.as<EmbedDesc>();
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), in(1), out(0), I(e.v), I(e.d)));
    const std::size_t g[2] = {Z(e.d), Z(e.t)};
    return launch(k, 2, g);
  }
};

}  // namespace

Support supports_embed(const Problem& p, const DeviceCtx& d) {
  return supports_small_op(p, d);
}

Result<std::unique_ptr<DeviceKernel>> prepare_embed(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                    Buffers buffers) {
  const Support s = supports_embed(p, *d);
  return prepare_single<EmbedKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

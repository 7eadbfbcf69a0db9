// Embedding lookup on OpenCL (cl/embed.cl): f32, bf16 or f16 tables, or s8 ones with row scales;
// f32 rows out; one launch.
#include "opencl_op.h"

namespace tb::ocl {

namespace {

class EmbedKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() {
    const char* t = p_.dtype == DType::f32    ? "-DEMB_T=0"
                    : p_.dtype == DType::bf16 ? "-DEMB_T=1"
                    : p_.dtype == DType::f16  ? "-DEMB_T=2"
                                              : "-DEMB_T=3";
    return init_kernel("embed", t, "embed");
  }

 protected:
  Result<void> enqueue() override {
    const EmbedDesc& e = *p_.as<EmbedDesc>();
    cl_kernel k = k_.get();
    if (p_.dtype == DType::s8) {
      TB_CL_CHECK(set_args(k, in(0), in(1), in(2), out(0), I(e.v), I(e.d)));
    } else {
      TB_CL_CHECK(set_args(k, in(0), in(1), out(0), I(e.v), I(e.d)));
    }
    const std::size_t g[2] = {Z(e.d), Z(e.t)};
    return launch(k, 2, g);
  }
};

}  // namespace

Support supports_embed(const Problem& p, const DeviceCtx& d) {
  if (p.dtype == DType::s8 && p.post == Epilogue{}) return check_sizes(p, d);  // row scales
  return supports_copy_op(p, d, "tables (or s8 with row scales)");
}

Result<std::unique_ptr<DeviceKernel>> prepare_embed(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                    Buffers buffers) {
  const Support s = supports_embed(p, *d);
  return prepare_single<EmbedKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

// Row ops on OpenCL, f32 (cl/rowwise.cl): softmax, layer norm and RMS norm, one work-group per
// row; one launch.
#include <string>

#include "opencl_op.h"

namespace tb::ocl {

namespace {

// Work-group size of the row kernels: a power of two the device accepts.
int row_wg(const DeviceCtx& d) {
  int wg = d.is_cpu ? 16 : 256;
  while (wg > 1 && wg > d.info.max_workgroup_size) wg /= 2;
  return wg;
}

const char* kernel_name(RowKind kind) {
  switch (kind) {
    case RowKind::softmax:
      return "softmax_rows";
    case RowKind::layernorm:
      return "layernorm_rows";
    case RowKind::rmsnorm:
      return "rmsnorm_rows";
  }
  return "softmax_rows";
}

class RowKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() {
    wg_ = row_wg(*d_);
    return init_kernel("rowwise", "-DWG=" + std::to_string(wg_), kernel_name(desc().kind));
  }

 protected:
  Result<void> enqueue() override {
    const RowDesc& r = desc();
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

 private:
  const RowDesc& desc() const { return *p_.as<RowDesc>(); }
  int wg_ = 1;
};

}  // namespace

Support supports_rowwise(const Problem& p, const DeviceCtx& d) {
  return supports_small_op(p, d);
}

Result<std::unique_ptr<DeviceKernel>> prepare_rowwise(std::shared_ptr<DeviceCtx> d,
                                                      const Problem& p, Buffers buffers) {
  const Support s = supports_rowwise(p, *d);
  return prepare_single<RowKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

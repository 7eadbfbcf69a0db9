// KV-cache write on OpenCL (cl/kvwrite.cl), f32, f16 or bf16 caches; one launch. Bound by a graph
// with the cache as its own output, it writes the token's rows alone, in place; otherwise it
// copies the cache into its output and replaces those rows.
#include "opencl_op.h"

namespace tb::ocl {

namespace {

int kv_type(DType dt) {
  return dt == DType::f16 ? 1 : dt == DType::bf16 ? 2 : 0;
}

class KvWriteKernel final : public SingleKernel {
 public:
  using SingleKernel::SingleKernel;

  Result<void> init() {
    return init_kernel("kvwrite", "-DKV_T=" + std::to_string(kv_type(p_.dtype)), "kvwrite", true);
  }

 protected:
  Result<void> enqueue() override {
    const KvWriteDesc& w = *p_.as<KvWriteDesc>();
    const bool full = in(1) != out(0);
    cl_kernel k = k_.get();
    TB_CL_CHECK(set_args(k, in(0), in(1), out(0), I(w.s), I(w.d), I(w.p), I(full ? 1 : 0)));
    const std::size_t g[3] = {Z(w.d), full ? Z(w.s) : 1, Z(w.h)};
    return launch(k, 3, g);
  }
};

}  // namespace

Support supports_kvwrite(const Problem& p, const DeviceCtx& d) {
  return supports_copy_op(p, d, "caches");
}

Result<std::unique_ptr<DeviceKernel>> prepare_kvwrite(std::shared_ptr<DeviceCtx> d,
                                                      const Problem& p, Buffers buffers) {
  const Support s = supports_kvwrite(p, *d);
  return prepare_single<KvWriteKernel>(std::move(d), p, buffers, s);
}

}  // namespace tb::ocl

// Glue ops on OpenCL, f32: softmax, layer norm, RMS norm, max / avg / global pooling, add / mul,
// RoPE, embedding lookup (kernels in cl/glue.cl). One launch each.
#include <algorithm>
#include <variant>

#include "opencl_op.h"
#include "program_cache.h"

namespace tb::ocl {

namespace {

bool is_glue(const Problem& p) {
  return p.as<PoolDesc>() || p.as<RowDesc>() || p.as<BinaryDesc>() || p.as<RopeDesc>() ||
         p.as<EmbedDesc>();
}

// Work-group size of the row kernels: a power of two the device accepts.
int row_wg(const DeviceCtx& d) {
  int wg = d.is_cpu ? 16 : 256;
  while (wg > 1 && wg > d.info.max_workgroup_size) wg /= 2;
  return wg;
}

const char* row_kernel(RowKind k) {
  switch (k) {
    case RowKind::softmax:
      return "softmax_rows";
    case RowKind::layernorm:
      return "layernorm_rows";
    case RowKind::rmsnorm:
      return "rmsnorm_rows";
  }
  return "softmax_rows";
}

class GlueKernel final : public OpKernel {
 public:
  using OpKernel::OpKernel;

  Result<void> init() {
    wg_ = row_wg(*d_);
    if (auto r = init_program(cl_source("glue"), "-DWG=" + std::to_string(wg_)); !r) return r;
    const char* name =
        p_.as<PoolDesc>() ? (p_.as<PoolDesc>()->kind == PoolKind::global ? "global_pool" : "pool2d")
        : p_.as<RowDesc>()    ? row_kernel(p_.as<RowDesc>()->kind)
        : p_.as<BinaryDesc>() ? "binary"
        : p_.as<RopeDesc>()   ? "rope"
                              : "embed";
    auto k = make_kernel(name);
    if (!k) return k.error();
    k_ = std::move(k.value());
    return {};
  }

 protected:
  Result<void> enqueue() override {
    cl_kernel k = k_.get();
    auto I = [](std::int64_t v) { return static_cast<cl_int>(v); };
    auto Z = [](std::int64_t v) { return static_cast<std::size_t>(v); };
    if (const auto* pd = p_.as<PoolDesc>()) {
      if (pd->kind == PoolKind::global) {
        TB_CL_CHECK(set_args(k, in(0), out(0), I(pd->h * pd->w), I(pd->c)));
        const std::size_t g[2] = {Z(pd->c), Z(pd->n)};
        return launch(k, 2, g);
      }
      TB_CL_CHECK(set_args(k, in(0), out(0), I(pd->h), I(pd->w), I(pd->c), I(pd->oh()), I(pd->ow()),
                           I(pd->r), I(pd->s), I(pd->stride), I(pd->pad),
                           I(pd->kind == PoolKind::max ? 1 : 0)));
      const std::size_t g[3] = {Z(pd->c), Z(pd->ow()), Z(pd->n * pd->oh())};
      return launch(k, 3, g);
    }
    if (const auto* r = p_.as<RowDesc>()) {
      const cl_float eps = static_cast<cl_float>(RowDesc::kEps);
      if (r->kind == RowKind::softmax) TB_CL_CHECK(set_args(k, in(0), out(0), I(r->n)));
      if (r->kind == RowKind::layernorm)
        TB_CL_CHECK(set_args(k, in(0), out(0), in(1), in(2), I(r->n), eps));
      if (r->kind == RowKind::rmsnorm) TB_CL_CHECK(set_args(k, in(0), out(0), in(1), I(r->n), eps));
      const std::size_t g[1] = {Z(r->m) * static_cast<std::size_t>(wg_)};
      const std::size_t l[1] = {static_cast<std::size_t>(wg_)};
      return launch(k, 1, g, l);
    }
    if (const auto* b = p_.as<BinaryDesc>()) {
      TB_CL_CHECK(set_args(k, in(0), in(1), out(0), I(b->kind == BinaryKind::mul ? 1 : 0)));
      const std::size_t g[1] = {Z(b->n)};
      return launch(k, 1, g);
    }
    if (const auto* r = p_.as<RopeDesc>()) {
      TB_CL_CHECK(set_args(k, in(0), in(1), in(2), out(0), I(r->h), I(r->d)));
      const std::size_t g[3] = {Z(r->d / 2), Z(r->h), Z(r->t)};
      return launch(k, 3, g);
    }
    const auto* e = p_.as<EmbedDesc>();
    TB_CL_CHECK(set_args(k, in(0), in(1), out(0), I(e->v), I(e->d)));
    const std::size_t g[2] = {Z(e->d), Z(e->t)};
    return launch(k, 2, g);
  }

 private:
  Kernel k_;
  int wg_ = 1;
};

}  // namespace

Support supports_glue(const Problem& p, const DeviceCtx& d) {
  if (!is_glue(p)) return Support::no("opencl: not a glue op");
  if (p.dtype != DType::f32)
    return Support::no("opencl: " + std::string(p.op_name()) + " is implemented for f32 only");
  if (p.post != Epilogue{}) return Support::no("opencl: glue ops take no epilogue");
  if (const auto* r = p.as<RopeDesc>(); r && r->d % 2)
    return Support::no("opencl: rope needs an even head dim");
  return check_sizes(p, d);
}

Result<std::unique_ptr<DeviceKernel>> prepare_glue(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers) {
  if (auto s = supports_glue(p, *d); !s.supported) return make_error(s.reason);
  auto k = std::make_unique<GlueKernel>(std::move(d), p, buffers);
  if (auto r = k->init(); !r) return r.error();
  return std::unique_ptr<DeviceKernel>(std::move(k));
}

}  // namespace tb::ocl

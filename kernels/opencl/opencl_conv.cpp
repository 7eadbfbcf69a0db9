// Convolution on OpenCL, NHWC, with scales / bias / activation / residual epilogues, in f32, f16
// and bf16 (storage: loads widen to f32, arithmetic f32, on every device) and u8 x s8 -> s32 (f32
// with +scales), exact (cl/conv.cl says how). Four paths:
//   pointwise (1x1, stride 1, no padding, one group): a GEMM, src [n*h*w][c] x weights^T [c][k],
//     on the backend's GEMM kernel (shapes checked as the conv's).
//   depthwise without a channel multiplier on a CPU device: conv_dw, 16 channels x an output row
//     per work-item over weights packed channel-innermost on the device whenever they change.
//   one input channel per group (depthwise, any channel multiplier): conv_direct, one work-item
//     per output element.
//   anything else: conv_igemm, an implicit GEMM (no im2col buffer) over weight panels packed on
//     the device whenever the weights are uploaded.
#include <algorithm>

#include "opencl_op.h"
#include "program_cache.h"

namespace tb::ocl {

namespace {

constexpr int kMR = 6;  // output pixels per work-item of conv_igemm

bool is_pointwise(const ConvDesc& c) {
  return c.pointwise();
}

class ConvKernel final : public OpKernel {
 public:
  ConvKernel(std::shared_ptr<DeviceCtx> d, Problem p, Buffers buffers)
      : OpKernel(std::move(d), std::move(p), buffers), c_(*p_.as<ConvDesc>()) {}

  Result<void> init() {
    cg_ = c_.c / c_.groups;
    kg_ = c_.k / c_.groups;
    direct_ = cg_ == 1;
    const bool int8 = p_.dtype == DType::u8 || p_.dtype == DType::s8;
    // Vector depthwise where work-items are cheap loops over explicit vectors (CPU devices, as
    // conv_igemm); one work-item per output element elsewhere. Its f32 sums are exact for u8 x s8
    // up to 512 products (cl/gemm_common.cl).
    dw_ = direct_ && kg_ == 1 && d_->is_cpu && !(int8 && c_.r * c_.s > 512);
    cp_ = (c_.c + 15) / 16 * 16;
    nv_ = kg_ > 16 ? 2 : 1;
    nbg_ = (kg_ + 16 * nv_ - 1) / (16 * nv_);
    const std::string src = cl_source("gemm_common") + cl_source("gemm_packed") + cl_source("conv");
    const GemmTypes t = gemm_types(p_.dtype, p_.post);
    std::string opts = "-DMR=" + std::to_string(kMR) + " -DNV=" + std::to_string(nv_) +
                       type_options(t.a, t.b, t.c);
    if (int8) opts += " -DINT_ACC";
    if (auto r = init_program(src, opts); !r) return r;
    auto k = make_kernel(dw_ ? "conv_dw" : direct_ ? "conv_direct" : "conv_igemm");
    if (!k) return k.error();
    conv_ = std::move(k.value());
    if (dw_) {
      auto pk = make_kernel("conv_pack_dw");
      if (!pk) return pk.error();
      pack_ = std::move(pk.value());
      auto m = alloc(static_cast<std::size_t>(cp_ * c_.r * c_.s) * sizeof(float));
      if (!m) return m.error();
      wp_ = std::move(m.value());
      extra_details_ = {{"path_depthwise", 1}};
    } else if (!direct_) {
      auto pk = make_kernel("conv_pack_w");
      if (!pk) return pk.error();
      pack_ = std::move(pk.value());
      const std::size_t kk = static_cast<std::size_t>(c_.r * c_.s * cg_);
      auto m = alloc(static_cast<std::size_t>(c_.groups * nbg_ * 16 * nv_) * kk * sizeof(float));
      if (!m) return m.error();
      wp_ = std::move(m.value());
      extra_details_ = {{"path_igemm", 1}, {"mr", kMR}, {"nr", 16 * nv_}};
    } else {
      extra_details_ = {{"path_direct", 1}};
    }
    return {};
  }

  // The implicit GEMM and the vector depthwise read the weights as packed panels only.
  bool repacks_operand(std::size_t index) const override { return (dw_ || !direct_) && index == 1; }
  bool reads_operand(std::size_t index) const override { return !repacks_operand(index); }

 protected:
  Result<void> refresh(std::size_t index) override {
    if (!repacks_operand(index)) return {};
    if (dw_) {
      const cl_int KK = static_cast<cl_int>(c_.r * c_.s);
      TB_CL_CHECK(set_args(pack_.get(), in(1), wp_.get(), KK, static_cast<cl_int>(c_.c),
                           static_cast<cl_int>(cp_)));
      const std::size_t g[2] = {static_cast<std::size_t>(cp_), static_cast<std::size_t>(KK)};
      return launch(pack_.get(), 2, g);
    }
    const cl_int KK = static_cast<cl_int>(c_.r * c_.s * cg_);
    TB_CL_CHECK(set_args(pack_.get(), in(1), wp_.get(), KK, static_cast<cl_int>(kg_),
                         static_cast<cl_int>(nbg_)));
    const std::size_t g[3] = {static_cast<std::size_t>(nbg_ * 16 * nv_),
                              static_cast<std::size_t>(KK), static_cast<std::size_t>(c_.groups)};
    return launch(pack_.get(), 3, g);
  }

  Result<void> enqueue() override {
    std::size_t next = 2;
    const cl_mem none = nullptr;
    const cl_mem as = p_.post.scales ? in(next++) : none;
    const cl_mem bs = p_.post.scales ? in(next++) : none;
    const cl_mem bias = p_.post.bias ? in(next++) : none;
    const cl_mem res = p_.post.residual ? in(next++) : none;
    const cl_int epi = epilogue_code(p_.post);
    auto I = [](std::int64_t v) { return static_cast<cl_int>(v); };
    cl_kernel k = conv_.get();
    if (dw_) {
      TB_CL_CHECK(set_args(k, in(0), wp_.get(), out(0), as, bs, bias, res, I(c_.h), I(c_.w),
                           I(c_.c), I(c_.oh()), I(c_.ow()), I(c_.r), I(c_.s), I(c_.stride),
                           I(c_.pad), I(c_.dilation), I(cp_), epi));
      const std::size_t g[2] = {static_cast<std::size_t>(cp_ / 16),
                                static_cast<std::size_t>(c_.n * c_.oh())};
      const std::size_t l[2] = {1, 1};
      return launch(k, 2, g, l);
    }
    if (direct_) {
      TB_CL_CHECK(set_args(k, in(0), in(1), out(0), as, bs, bias, res, I(c_.h), I(c_.w), I(c_.c),
                           I(c_.oh()), I(c_.ow()), I(c_.r), I(c_.s), I(c_.stride), I(c_.pad),
                           I(c_.dilation), I(kg_), epi));
      const std::size_t g[3] = {static_cast<std::size_t>(c_.k), static_cast<std::size_t>(c_.ow()),
                                static_cast<std::size_t>(c_.n * c_.oh())};
      return launch(k, 3, g);
    }
    TB_CL_CHECK(set_args(k, in(0), wp_.get(), out(0), as, bs, bias, res, I(c_.h), I(c_.w), I(c_.c),
                         I(c_.oh()), I(c_.ow()), I(c_.r), I(c_.s), I(c_.stride), I(c_.pad),
                         I(c_.dilation), I(cg_), I(kg_), I(nbg_), epi));
    const std::size_t pixels = static_cast<std::size_t>(c_.oh() * c_.ow());
    const std::size_t g[3] = {(pixels + kMR - 1) / kMR, static_cast<std::size_t>(c_.groups * nbg_),
                              static_cast<std::size_t>(c_.n)};
    const std::size_t l[3] = {1, 1, 1};
    return launch(k, 3, g, l);
  }

 private:
  ConvDesc c_;
  std::int64_t cg_ = 1, kg_ = 1, nv_ = 1, nbg_ = 1, cp_ = 16;
  bool direct_ = false, dw_ = false;
  Kernel conv_, pack_;
  Mem wp_;
};

}  // namespace

Support supports_conv(const Problem& p, const DeviceCtx& d) {
  const ConvDesc* c = p.as<ConvDesc>();
  if (!c) return Support::no("opencl: not a conv");
  if (auto e = check_post(p); !e) return Support::no("opencl: " + e.error().message);
  if (p.dtype == DType::s32) return Support::no("opencl: conv s32 is not a compute type");
  if (auto s = check_sizes(p, d); !s.supported) return s;
  const double wp = 4.0 * static_cast<double>(c->k + 32) * static_cast<double>(c->r * c->s) *
                    static_cast<double>(c->c / c->groups) * c->groups;
  if (wp * 1.1 > static_cast<double>(d.max_alloc_bytes))
    return Support::no("opencl: packed weights exceed CL_DEVICE_MAX_MEM_ALLOC_SIZE");
  if (is_pointwise(*c) && !select_gemm_config(d).packed && d.info.max_workgroup_size < 256)
    return Support::no("opencl: tiled gemm (pointwise conv) needs work-groups of 256");
  return Support::yes();
}

Result<std::unique_ptr<DeviceKernel>> prepare_conv(std::shared_ptr<DeviceCtx> d, const Problem& p,
                                                   Buffers buffers) {
  if (auto s = supports_conv(p, *d); !s.supported) return make_error(s.reason);
  const ConvDesc& c = *p.as<ConvDesc>();
  if (is_pointwise(c)) {
    GemmDesc g;
    g.m = c.n * c.h * c.w;
    g.n = c.k;
    g.k = c.c;
    g.trans_b = true;  // weights [k][c] are B^T
    const Problem gp{g, p.dtype, p.post};
    const GemmConfig cfg = select_gemm_config(*d);
    return make_gemm(std::move(d), gp, cfg, p.inputs(), buffers);
  }
  auto k = std::make_unique<ConvKernel>(std::move(d), p, buffers);
  if (auto r = k->init(); !r) return r.error();
  return std::unique_ptr<DeviceKernel>(std::move(k));
}

}  // namespace tb::ocl

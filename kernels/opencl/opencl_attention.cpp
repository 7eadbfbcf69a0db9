// Fused attention on OpenCL (kernels in cl/attention.cl): f32, and f16 / bf16 Q K V as storage
// (widened to f32 on load, on every device; O is f32 as kernels/problem.h defines it). Prefill: a
// layout pass (K transposed, V padded) and the fused online-softmax kernel. Decode (few rows per kv
// head, head dim a multiple of 16): attn_decode reads K and V in place, so a call costs one pass
// over the cache. Either way, shapes with too few rows to fill the device split the keys and merge
// the splits in a second pass.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "opencl_op.h"
#include "program_cache.h"

namespace tb::ocl {

namespace {

class AttentionKernel final : public OpKernel {
 public:
  AttentionKernel(std::shared_ptr<DeviceCtx> d, Problem p, Buffers buffers)
      : OpKernel(std::move(d), std::move(p), buffers), a_(*p_.as<AttentionDesc>()) {}

  Result<void> init() {
    dv_ = (a_.d + 15) / 16;
    const std::int64_t rows = (a_.h / a_.kv) * a_.q;
    // The in-place decode kernel when a kv head has few rows: transposing K would cost as much
    // as the attention itself. TB_OPENCL_ATTN_DECODE=0 / 1 forces it off / on (where d allows).
    decode_ = a_.d % 16 == 0 && rows <= kDecodeRows;
    if (const char* e = std::getenv("TB_OPENCL_ATTN_DECODE"); e && *e)
      decode_ = a_.d % 16 == 0 && std::atoi(e) != 0;
    // Accumulators: BQ * DV float16 registers; keep them within ~16 (a zmm register file), and
    // within ~8 for decode, which also holds BQ * DV of Q. No more rows than a kv head has.
    bq_ = std::clamp<std::int64_t>(std::min<std::int64_t>((decode_ ? 8 : 16) / dv_, rows), 1, 8);
    sp_ = static_cast<std::int64_t>(round_up(static_cast<std::size_t>(a_.s), 16));
    nrb_ = (rows + bq_ - 1) / bq_;
    // Split the keys when the rows alone give fewer than ~4 work-items per compute unit, keeping
    // at least 64 keys per split.
    const std::int64_t work = nrb_ * a_.b * a_.kv;
    const std::int64_t target = 4 * std::max<std::int64_t>(1, d_->info.compute_units);
    std::int64_t nsplit = std::clamp<std::int64_t>((target + work - 1) / work, 1, (a_.s + 63) / 64);
    // TB_OPENCL_ATTN_SPLITS=n forces n key splits (tests of the two-pass path on any device).
    if (const char* e = std::getenv("TB_OPENCL_ATTN_SPLITS"); e && std::atoi(e) > 0)
      nsplit = std::min<std::int64_t>(std::atoi(e), (a_.s + 15) / 16);
    chunk_ = static_cast<std::int64_t>(
        round_up(static_cast<std::size_t>((a_.s + nsplit - 1) / nsplit), 16));
    nsplit_ = (a_.s + chunk_ - 1) / chunk_;

    const std::string opts = "-DBQ=" + std::to_string(bq_) + " -DDV=" + std::to_string(dv_) +
                             type_options(qkv_, DType::f32, DType::f32);
    if (auto r = init_program(cl_source("gemm_common") + cl_source("attention"), opts); !r)
      return r;
    for (auto [k, name] :
         {std::pair{&prep_, "attn_prep"}, std::pair{&fwd_, decode_ ? "attn_decode" : "attn_fwd"},
          std::pair{&combine_, "attn_combine"}}) {
      auto kk = make_kernel(name);
      if (!kk) return kk.error();
      *k = std::move(kk.value());
    }
    const std::size_t f = sizeof(float), bk = static_cast<std::size_t>(a_.b * a_.kv);
    const std::size_t S = static_cast<std::size_t>(sp_), Dp = static_cast<std::size_t>(dv_ * 16);
    if (!decode_) {
      auto kt = alloc(bk * static_cast<std::size_t>(a_.d) * S * f);
      if (!kt) return kt.error();
      kt_ = std::move(kt.value());
    }
    if (copy_v()) {
      auto vp = alloc(bk * S * Dp * f);
      if (!vp) return vp.error();
      vp_ = std::move(vp.value());
    }
    nrows_ = a_.b * a_.h * a_.q;
    if (nsplit_ > 1) {
      const std::size_t r = static_cast<std::size_t>(nsplit_ * nrows_);
      auto part = alloc(r * Dp * f);
      if (!part) return part.error();
      part_ = std::move(part.value());
      auto ml = alloc(r * 2 * f);
      if (!ml) return ml.error();
      ml_ = std::move(ml.value());
    }
    extra_details_ = {{"decode_kernel", decode_ ? 1.0 : 0.0},
                      {"bq", static_cast<double>(bq_)},
                      {"splits", static_cast<double>(nsplit_)},
                      {"keys_per_split", static_cast<double>(chunk_)}};
    return {};
  }

 protected:
  Result<void> enqueue() override {
    auto I = [](std::int64_t v) { return static_cast<cl_int>(v); };
    auto Z = [](std::int64_t v) { return static_cast<std::size_t>(v); };
    const cl_mem part = part_.get(), ml = ml_.get();
    const cl_float scale = static_cast<cl_float>(1.0 / std::sqrt(static_cast<double>(a_.d)));
    const std::size_t gf[3] = {Z(nrb_), Z(a_.b * a_.kv), Z(nsplit_)};
    const std::size_t lf[3] = {1, 1, 1};
    if (decode_) {
      TB_CL_CHECK(set_args(fwd_.get(), in(0), in(1), in(2), out(0), part, ml, I(a_.h), I(a_.kv),
                           I(a_.q), I(a_.s), I(a_.causal ? 1 : 0), scale, I(chunk_), I(nrows_)));
      if (auto r = launch(fwd_.get(), 3, gf, lf); !r) return r;
      return combine();
    }
    const cl_int Dp = I(dv_ * 16);
    const cl_mem vp = copy_v() ? vp_.get() : in(2);
    TB_CL_CHECK(set_args(prep_.get(), in(1), in(2), kt_.get(), vp, I(a_.s), I(sp_), I(a_.d), Dp,
                         I(copy_v() ? 1 : 0)));
    const std::size_t gp[3] = {Z(sp_ / 16), Z(dv_), Z(a_.b * a_.kv)};
    if (auto r = launch(prep_.get(), 3, gp); !r) return r;

    TB_CL_CHECK(set_args(fwd_.get(), in(0), kt_.get(), vp, out(0), part, ml, I(a_.h), I(a_.kv),
                         I(a_.q), I(a_.s), I(sp_), I(a_.d), I(a_.causal ? 1 : 0), scale, I(chunk_),
                         I(nrows_), I(copy_v() ? sp_ : a_.s)));
    if (auto r = launch(fwd_.get(), 3, gf, lf); !r) return r;
    return combine();
  }

 private:
  // Rows per kv head up to which decode_ is chosen. At q = 1 it beats the transposing path
  // 2.7-12x on PoCL (bench_opencl_attention, TB_OPENCL_ATTN_DECODE=0 / 1); its extra cost per
  // row (a 16 x 16 reduction per tile of keys) is small next to the transpose only while rows
  // are few; 8 is a judgement, not a measured crossover.
  static constexpr std::int64_t kDecodeRows = 8;

  // attn_fwd reads V in place only when it is f32 with rows of whole vectors; else from Vp.
  bool copy_v() const { return a_.d % 16 != 0 || qkv_ != DType::f32; }

  Result<void> combine() {
    if (nsplit_ == 1) return {};
    auto I = [](std::int64_t v) { return static_cast<cl_int>(v); };
    TB_CL_CHECK(
        set_args(combine_.get(), part_.get(), ml_.get(), out(0), I(a_.d), I(nrows_), I(nsplit_)));
    const std::size_t gc[2] = {static_cast<std::size_t>(a_.d), static_cast<std::size_t>(nrows_)};
    return launch(combine_.get(), 2, gc);
  }

  AttentionDesc a_;
  DType qkv_ = p_.inputs()[0].dtype;
  bool decode_ = false;
  std::int64_t dv_ = 1, bq_ = 1, sp_ = 16, nrb_ = 1, chunk_ = 16, nsplit_ = 1, nrows_ = 0;
  Kernel prep_, fwd_, combine_;
  Mem kt_, vp_, part_, ml_;
};

}  // namespace

Support supports_attention(const Problem& p, const DeviceCtx& d) {
  const AttentionDesc* a = p.as<AttentionDesc>();
  if (!a) return Support::no("opencl: not attention");
  if (p.dtype != DType::f32 && p.dtype != DType::f16 && p.dtype != DType::bf16)
    return Support::no("opencl: attention takes f32, f16 or bf16, not " +
                       std::string(dtype_name(p.dtype)));
  if (a->d > 256) return Support::no("opencl: attention head dim above 256");
  if (auto s = check_sizes(p, d); !s.supported) return s;
  const double padded = 4.0 * static_cast<double>(a->b * a->kv) * static_cast<double>(a->s + 16) *
                        static_cast<double>(a->d + 16);
  if (padded * 1.1 > static_cast<double>(d.max_alloc_bytes) || padded >= 4.0 * (1u << 31))
    return Support::no("opencl: padded K / V exceed the device's allocation limit");
  return Support::yes();
}

Result<std::unique_ptr<DeviceKernel>> prepare_attention(std::shared_ptr<DeviceCtx> d,
                                                        const Problem& p, Buffers buffers) {
  if (auto s = supports_attention(p, *d); !s.supported) return make_error(s.reason);
  auto k = std::make_unique<AttentionKernel>(std::move(d), p, buffers);
  if (auto r = k->init(); !r) return r.error();
  return std::unique_ptr<DeviceKernel>(std::move(k));
}

}  // namespace tb::ocl

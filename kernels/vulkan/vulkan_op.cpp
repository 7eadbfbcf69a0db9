// OpKernel: buffers, transfers, the single recorded dispatch and its timing, shared by the
// Vulkan conv, attention, pool, row, binary, rope, embed, kvwrite, permute and slice kernels.
#include "vulkan_op.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <variant>

#include "vulkan_gemm.h"

namespace tb::vulkan {

namespace {

class OpKernel final : public PreparedKernel {
 public:
  OpKernel(std::shared_ptr<Context> ctx, Problem p, OpPlan plan)
      : ctx_(std::move(ctx)),
        p_(std::move(p)),
        plan_(std::move(plan)),
        in_specs_(p_.inputs()),
        out_specs_(p_.outputs()) {}

  Result<void> init() {
    const auto& dev = ctx_->device();
    const std::uint64_t mark = ctx_->validation_mark();
    auto d = make_op_dispatch(*ctx_, plan_);
    if (!d) return d.error();
    pipeline_ = std::move(d->pipeline);
    stats_ = d->stats;
    gx_ = d->gx;
    gy_ = d->gy;
    const auto push_bytes = static_cast<std::uint32_t>(plan_.push.size() * 4);
    const auto t_setup = std::chrono::steady_clock::now();

    auto mk = [&](std::vector<vk::Buffer>& v, const TensorSpec& s) -> Result<void> {
      const std::size_t bytes = spec_bytes(s);
      vk::Buffer b;
      TB_VK_TRY(b.create(dev, bytes, vk::MemoryKind::device));
      device_bytes_ += bytes;
      v.push_back(std::move(b));
      return {};
    };
    for (const auto& s : in_specs_)
      if (auto r = mk(in_, s); !r) return r;
    for (const auto& s : out_specs_)
      if (auto r = mk(out_, s); !r) return r;
    TB_VK_TRY(dummy_.create(dev, 16, vk::MemoryKind::device));
    std::vector<VkBuffer> bufs;
    for (int b : plan_.bindings) {
      const auto i = static_cast<std::size_t>(b);
      if (b < 0) {
        bufs.push_back(dummy_.handle());
      } else if (i < in_.size()) {
        bufs.push_back(in_[i].handle());
      } else if (i - in_.size() < out_.size()) {
        bufs.push_back(out_[i - in_.size()].handle());
      } else {
        return make_error("vulkan " + plan_.blob + ": binding names tensor " + std::to_string(b) +
                          " of " + std::to_string(in_.size() + out_.size()));
      }
    }
    TB_VK_TRY(set_.create(dev, *pipeline_, bufs));

    TB_VK_TRY(stream_.create(dev));
    TB_VK_TRY(stream_.begin());
    stream_.dispatch(*pipeline_, set_, plan_.push.data(), push_bytes, gx_, gy_, 1);
    stream_.shader_writes_to_host_barrier();
    TB_VK_TRY(stream_.end());
    setup_s_ = seconds_since(t_setup);

    // Lazily compiling drivers (lavapipe) JIT at the first dispatch: pay it here, in prepare.
    if (!stats_.reused) {
      const auto t0 = std::chrono::steady_clock::now();
      TB_VK_TRY(vk::run_once(dev, [&](vk::CommandStream& s) {
        s.dispatch(*pipeline_, set_, plan_.push.data(), push_bytes, 1, 1, 1);
      }));
      first_dispatch_s_ = seconds_since(t0);
    }
    return ctx_->check_validation(mark);
  }

  Result<void> upload(std::span<const Tensor> in) override {
    if (in.size() != in_specs_.size())
      return make_error(std::string(p_.op_name()) + " upload: " + std::to_string(in.size()) +
                        " inputs, want " + std::to_string(in_specs_.size()));
    const auto t0 = std::chrono::steady_clock::now();
    uploaded_ = 0;
    for (std::size_t i = 0; i < in.size(); ++i)
      if (auto r = write(i, in[i]); !r) return r;
    upload_s_ = seconds_since(t0);
    uploaded_ok_ = true;
    return {};
  }

  Result<void> upload_input(std::size_t index, const Tensor& t) override {
    if (!uploaded_ok_) return make_error("upload_input before a full upload");
    if (index >= in_specs_.size())
      return make_error(std::string(p_.op_name()) + " upload_input: no input " +
                        std::to_string(index));
    return write(index, t);
  }

  Result<Timing> execute() override {
    if (!uploaded_ok_) return make_error(std::string(p_.op_name()) + " execute before upload");
    return ctx_->timed_submit(stream_);
  }

  Result<void> download(std::span<Tensor> out) override {
    const std::uint64_t mark = ctx_->validation_mark();
    if (out.size() != out_specs_.size())
      return make_error(std::string(p_.op_name()) + " download: " + std::to_string(out.size()) +
                        " outputs, want " + std::to_string(out_specs_.size()));
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].dtype() != out_specs_[i].dtype || out[i].shape() != out_specs_[i].shape)
        return make_error(std::string(p_.op_name()) + " download: output " + out_specs_[i].name +
                          " is " + out[i].shape_str() + ", want the problem's shape and type");
      TB_VK_TRY(vk::read_buffer(ctx_->device(), out_[i], out[i].raw(), out[i].bytes()));
    }
    return ctx_->check_validation(mark);
  }

  MemoryStats memory() const override { return {device_bytes_, 0, uploaded_}; }

  std::vector<std::pair<std::string, double>> details() const override {
    auto v = ctx_->load_details(stats_, first_dispatch_s_, setup_s_, upload_s_);
    v.emplace_back("workgroup", plan_.workgroup);
    v.insert(v.end(), plan_.details.begin(), plan_.details.end());
    return v;
  }

 private:
  Result<void> write(std::size_t i, const Tensor& t) {
    const std::uint64_t mark = ctx_->validation_mark();
    if (t.dtype() != in_specs_[i].dtype || t.shape() != in_specs_[i].shape)
      return make_error(std::string(p_.op_name()) + " upload: input " + in_specs_[i].name + " is " +
                        t.shape_str() + ", want the problem's shape and type");
    TB_VK_TRY(vk::write_buffer(ctx_->device(), in_[i], t.raw(), t.bytes()));
    uploaded_ += t.bytes();
    return ctx_->check_validation(mark);
  }

  std::shared_ptr<Context> ctx_;
  Problem p_;
  OpPlan plan_;
  std::vector<TensorSpec> in_specs_, out_specs_;
  std::shared_ptr<vk::ComputePipeline> pipeline_;
  PipelineStats stats_;
  std::vector<vk::Buffer> in_, out_;
  vk::Buffer dummy_;
  vk::DescriptorSet set_;
  vk::CommandStream stream_;
  std::uint32_t gx_ = 1, gy_ = 1;
  std::uint64_t device_bytes_ = 0, uploaded_ = 0;
  double setup_s_ = 0;  // buffers, descriptor set, command recording
  double upload_s_ = 0, first_dispatch_s_ = 0;
  bool uploaded_ok_ = false;
};

}  // namespace

Support check_op_sizes(const Problem& p, const Context& ctx) {
  const std::uint64_t range = ctx.info().max_storage_buffer_range;
  auto check = [&](const std::vector<TensorSpec>& specs) -> Support {
    for (const auto& s : specs) {
      std::int64_t n = 1;
      for (auto e : s.shape) {
        if (e <= 0) return Support::no("vulkan: empty tensor " + s.name);
        n *= e;
        if (n >= (std::int64_t{1} << 31))
          return Support::no("vulkan: tensor " + s.name + " too large for 32-bit indices");
      }
      if (static_cast<std::uint64_t>(n) * dtype_size(s.dtype) > range)
        return Support::no("vulkan: tensor " + s.name + " exceeds maxStorageBufferRange");
    }
    return Support::yes();
  };
  if (auto s = check(p.inputs()); !s.supported) return s;
  return check(p.outputs());
}

Support check_loop_budget(const Context& ctx, double iterations, const std::string& what) {
  constexpr double kBudget = 0.9 * 65535;
  if (ctx.info().vk_type != VK_PHYSICAL_DEVICE_TYPE_CPU || iterations <= kBudget)
    return Support::yes();
  return Support::no("vulkan: " + what + " needs ~" + std::to_string(std::llround(iterations)) +
                     " loop iterations per invocation, past llvmpipe's 65535-iteration guard");
}

Result<OpDispatch> make_op_dispatch(Context& ctx, OpPlan& plan) {
  const auto& info = ctx.info();
  plan.workgroup = std::max<std::uint32_t>(
      1, std::min({plan.workgroup, info.max_workgroup_invocations, info.max_workgroup_size[0]}));
  std::vector<std::uint32_t> spec{plan.workgroup};
  spec.insert(spec.end(), plan.spec.begin(), plan.spec.end());
  const auto nb = static_cast<std::uint32_t>(plan.bindings.size());
  const auto push_bytes = static_cast<std::uint32_t>(plan.push.size() * 4);
  OpDispatch d;
  auto pl = ctx.pipeline(plan.blob, nb, push_bytes, spec, true, &d.stats);
  if (!pl) return pl.error();
  d.pipeline = std::move(pl.value());
  // Items over a 2-D grid of 1-D workgroups: x as wide as the device allows.
  const std::uint64_t groups = (plan.items + plan.workgroup - 1) / plan.workgroup;
  const std::uint64_t xmax = info.max_workgroup_count[0];
  d.gx = static_cast<std::uint32_t>(std::min<std::uint64_t>(groups, xmax));
  const std::uint64_t gy = (groups + d.gx - 1) / d.gx;
  if (gy > info.max_workgroup_count[1])
    return make_error("vulkan " + plan.blob + ": " + std::to_string(plan.items) +
                      " items exceed maxComputeWorkGroupCount");
  d.gy = static_cast<std::uint32_t>(gy);
  return d;
}

Result<std::unique_ptr<PreparedKernel>> prepare_op(std::shared_ptr<Context> ctx, const Problem& p,
                                                   OpPlan plan) {
  if (plan.push.empty() || plan.push[0] != plan.items)
    return make_error("vulkan " + plan.blob + ": push[0] must be the item count");
  auto k = std::make_unique<OpKernel>(std::move(ctx), p, std::move(plan));
  if (auto r = k->init(); !r) return r.error();
  return std::unique_ptr<PreparedKernel>(std::move(k));
}

Support supports_small_op(const Problem& p, const Context& ctx, Support extra) {
  if (p.dtype != DType::f32)
    return Support::no("vulkan: " + std::string(p.op_name()) + " is implemented for f32 only");
  if (p.post != Epilogue{})
    return Support::no("vulkan: " + std::string(p.op_name()) + " takes no epilogue");
  if (!extra.supported) return extra;
  return check_op_sizes(p, ctx);
}

Support supports_copy_op(const Problem& p, const Context& ctx, const char* what,
                         std::int64_t count) {
  const std::string op(p.op_name());
  if (p.dtype != DType::f32 && p.dtype != DType::bf16 && p.dtype != DType::f16)
    return Support::no("vulkan: " + op + " takes f32, f16 or bf16 " + what);
  if (p.dtype != DType::f32 && count % 2 != 0)
    return Support::no("vulkan: a 16-bit " + op + " needs an even " +
                       (p.as<EmbedDesc>() ? "table size" : "row length") + " (32-bit words)");
  if (p.post != Epilogue{}) return Support::no("vulkan: " + op + " takes no epilogue");
  return check_op_sizes(p, ctx);
}

Support supports_problem(const Problem& p, const Context& ctx) {
  return std::visit(Overloaded{[&](const GemmDesc&) { return supports_gemm(p, ctx); },
                               [&](const ConvDesc&) { return supports_conv(p, ctx); },
                               [&](const AttentionDesc&) { return supports_attention(p, ctx); },
                               [&](const PoolDesc&) { return supports_pool(p, ctx); },
                               [&](const RowDesc&) { return supports_rowwise(p, ctx); },
                               [&](const BinaryDesc&) { return supports_binary(p, ctx); },
                               [&](const RopeDesc&) { return supports_rope(p, ctx); },
                               [&](const EmbedDesc&) { return supports_embed(p, ctx); },
                               [&](const KvWriteDesc&) { return supports_kvwrite(p, ctx); },
                               [&](const PermuteDesc&) { return supports_permute(p, ctx); },
                               [&](const SliceDesc&) { return supports_slice(p, ctx); },
                               no_kernel<Support>("vulkan", p)},
                    p.op);
}

Result<OpPlan> op_plan(const Problem& p, const Context& ctx) {
  return std::visit(
      Overloaded{[&](const GemmDesc&) -> Result<OpPlan> {
                   return make_error("vulkan: a gemm runs through vulkan_gemm.h, not an op plan");
                 },
                 [&](const ConvDesc&) { return conv_plan(p, ctx); },
                 [&](const AttentionDesc&) { return attention_plan(p, ctx); },
                 [&](const PoolDesc&) { return pool_plan(p, ctx); },
                 [&](const RowDesc&) { return rowwise_plan(p, ctx); },
                 [&](const BinaryDesc&) { return binary_plan(p, ctx); },
                 [&](const RopeDesc&) { return rope_plan(p, ctx); },
                 [&](const EmbedDesc&) { return embed_plan(p, ctx); },
                 [&](const KvWriteDesc&) { return kvwrite_plan(p, ctx); },
                 [&](const PermuteDesc&) { return permute_plan(p, ctx); },
                 [&](const SliceDesc&) { return slice_plan(p, ctx); },
                 no_kernel<Result<OpPlan>>("vulkan", p)},
      p.op);
}

}  // namespace tb::vulkan

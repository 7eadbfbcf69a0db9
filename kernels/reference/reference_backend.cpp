#include "reference_backend.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <omp.h>

#include "../validate.h"
#include "reference_ops.h"

namespace tb {

namespace {

class ReferenceKernel final : public PreparedKernel {
 public:
  ReferenceKernel(Problem p, int threads) : p_(std::move(p)), threads_(threads) {}

  Result<void> upload(std::span<const Tensor> inputs) override {
    inputs_.assign(inputs.begin(), inputs.end());
    outputs_ = make_outputs(p_);
    mem_.host_bytes = 0;
    for (const auto& t : inputs_) mem_.host_bytes += t.bytes();
    for (const auto& t : outputs_) mem_.host_bytes += t.bytes();
    mem_.uploaded_bytes = 0;
    for (const auto& t : inputs_) mem_.uploaded_bytes += t.bytes();
    return {};
  }

  Result<Timing> execute() override {
    if (threads_ > 0) omp_set_num_threads(threads_);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = reference_compute(p_, inputs_, outputs_);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r) return r.error();
    return Timing{std::chrono::duration<double>(t1 - t0).count(), TimingSource::host_clock};
  }

  Result<void> download(std::span<Tensor> outputs) override {
    if (outputs.size() != outputs_.size()) return make_error("reference: wrong output count");
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].bytes() != outputs_[i].bytes())
        return make_error("reference: output size mismatch");
      std::copy_n(outputs_[i].raw(), outputs_[i].bytes(), outputs[i].raw());
    }
    return {};
  }

  MemoryStats memory() const override { return mem_; }

 private:
  Problem p_;
  int threads_;
  std::vector<Tensor> inputs_, outputs_;
  MemoryStats mem_;
};

class ReferenceBackend final : public Backend {
 public:
  const BackendTraits& traits() const override { return reference_backend_traits(); }
  Availability availability() override { return {true, {}}; }
  std::vector<DeviceInfo> devices() override {
    DeviceInfo d;
    d.name = "host CPU (naive C++)";
    d.type = "cpu";
    d.compute_units = static_cast<std::int64_t>(std::thread::hardware_concurrency());
    return {d};
  }
  std::string version() override { return "tierbench reference"; }
  Support supports(const Problem& p, int device) override {
    if (device != 0) return Support::no("reference has one device");
    return reference_supports(p);
  }
  Result<std::unique_ptr<PreparedKernel>> prepare(const Problem& p,
                                                  const PrepareOptions& o) override {
    return std::unique_ptr<PreparedKernel>(std::make_unique<ReferenceKernel>(p, o.threads));
  }
};

}  // namespace

Support reference_supports(const Problem& p) {
  // Integer types: GEMM and conv, and the lookup of an s8 table with its row scales.
  const bool gemm_like =
      p.as<GemmDesc>() || p.as<ConvDesc>() || (p.as<EmbedDesc>() && p.dtype == DType::s8);
  const bool floating = p.dtype == DType::f32 || p.dtype == DType::bf16 || p.dtype == DType::f16;
  if (!gemm_like && !floating)
    return Support::no(std::string(p.op_name()) + " computes in f32, bf16 or f16 only");
  if (p.dtype == DType::s32) return Support::no("s32 is an accumulator type, not a compute type");
  // Problems built in code skip parse(): an epilogue the op cannot honour is unsupported, never
  // silently dropped.
  if (auto c = check_post(p); !c) return Support::no(c.error().message);
  return Support::yes();
}

Result<void> reference_compute(const Problem& p, std::span<const Tensor> in,
                               std::span<Tensor> out) {
  if (auto s = reference_supports(p); !s.supported) return make_error("reference: " + s.reason);
  // Every op has its reference (the op list declares ref::compute for each alternative).
  return std::visit([&](const auto& d) { return ref::compute(d, p, in, out); }, p.op);
}

const BackendTraits& reference_backend_traits() {
  static const BackendTraits t{
      .name = "reference", .devices = DeviceKind::host_cpu, .probe_key = "", .reference = true};
  return t;
}

std::unique_ptr<Backend> make_reference_backend() {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace tb

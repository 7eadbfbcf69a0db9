// The oneDNN backend: one Kernel class runs the Plan an op builder made (onednn_<op>.cpp).
#include "onednn_backend.h"
#include "../device_graph.h"
#include "onednn_graph.h"

#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "../../probes/cpu_features.h"
#include "../reference/reference_backend.h"
#include "onednn_ops.h"

namespace tb {
namespace onednn {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int resolve_threads(int threads) {
  return threads > 0 ? threads : omp_get_num_procs();
}

int cache_capacity() {
  int c = 0;
  if (dnnl_get_primitive_cache_capacity(&c) != dnnl_success) return 0;
  return c;
}

// oneDNN 2.6 has no public query for "was this primitive a cache hit". We infer it from the
// cache's LRU policy: a primitive is a hit when this process created the same kernel (problem,
// threads) before and fewer than `capacity` primitives were created since (each creation
// inserts at most one entry). Creation times in details() show the effect (µs vs ms).
class CacheLedger {
 public:
  bool record(const std::string& key, int primitives) {
    std::lock_guard lock(mu_);
    const int cap = cache_capacity();
    const auto it = seen_.find(key);
    const bool hit =
        cap > 0 && it != seen_.end() && created_ - it->second < static_cast<std::uint64_t>(cap);
    created_ += static_cast<std::uint64_t>(primitives);
    seen_[key] = created_;
    return hit;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::uint64_t> seen_;
  std::uint64_t created_ = 0;
};
CacheLedger& ledger() {
  static CacheLedger l;
  return l;
}

}  // namespace

class Kernel final : public PreparedKernel {
 public:
  Kernel(Plan plan, int threads) : plan_(std::move(plan)), threads_(threads) {}

  // Creates the primitives (timed) and allocates every buffer.
  void realise(const std::string& key) {
    auto& eng = cpu_engine();
    const auto t0 = Clock::now();
    int created = 0;
    for (auto& st : plan_.steps_) {
      if (st.fn) {
        prims_.emplace_back();
        continue;
      }
      prims_.push_back(TB_DNNL(dnnl::primitive(st.pd)));
      ++created;
    }
    for (const auto& r : plan_.reorders_) {
      const auto& from = plan_.buffers_[static_cast<std::size_t>(r.from)].md;
      const auto& to = plan_.buffers_[static_cast<std::size_t>(r.to)].md;
      reorders_.push_back(
          TB_DNNL(dnnl::reorder(dnnl::reorder::primitive_desc(eng, from, eng, to))));
      ++created;
    }
    create_s_ = since(t0);
    created_ = created;
    stream_ = TB_DNNL(dnnl::stream(eng));
    cache_hit_ = ledger().record(key, created);
    for (const auto& b : plan_.buffers_) {
      mems_.push_back(TB_DNNL(dnnl::memory(b.md, eng)));
      mem_.host_bytes += b.md.get_size();
      if (b.fill) b.fill(mems_.back().get_data_handle());
    }
    args_.resize(plan_.steps_.size());
    for (std::size_t s = 0; s < plan_.steps_.size(); ++s)
      for (const auto& [arg, buf] : plan_.steps_[s].args)
        args_[s][arg] = mems_[static_cast<std::size_t>(buf)];
  }

  Result<void> upload(std::span<const Tensor> inputs) override {
    return guard([&]() -> Result<void> {
      mem_.uploaded_bytes = 0;
      for (std::size_t i = 0; i < plan_.buffers_.size(); ++i) {
        const int in = plan_.buffers_[i].input;
        if (in < 0) continue;
        if (static_cast<std::size_t>(in) >= inputs.size())
          return make_error("onednn: too few inputs");
        const Tensor& t = inputs[static_cast<std::size_t>(in)];
        if (t.bytes() != plan_.buffers_[i].md.get_size())
          return make_error("onednn: input " + std::to_string(in) + " has " +
                            std::to_string(t.bytes()) + " bytes, expected " +
                            std::to_string(plan_.buffers_[i].md.get_size()));
        std::memcpy(mems_[i].get_data_handle(), t.raw(), t.bytes());
        mem_.uploaded_bytes += t.bytes();
      }
      reorder_s_ = run_reorders(-1);
      return {};
    });
  }

  Result<void> upload_input(std::size_t index, const Tensor& t) override {
    return guard([&]() -> Result<void> {
      bool found = false;
      for (std::size_t i = 0; i < plan_.buffers_.size(); ++i) {
        if (plan_.buffers_[i].input != static_cast<int>(index)) continue;
        if (t.bytes() != plan_.buffers_[i].md.get_size())
          return make_error("onednn: input " + std::to_string(index) + " size mismatch");
        std::memcpy(mems_[i].get_data_handle(), t.raw(), t.bytes());
        mem_.uploaded_bytes += t.bytes();
        found = true;
      }
      if (!found) return make_error("onednn: no input " + std::to_string(index));
      run_reorders(static_cast<int>(index));
      return {};
    });
  }

  Result<Timing> execute() override {
    return guard([&]() -> Result<Timing> {
      omp_set_num_threads(threads_);
      auto& s = stream_;
      const auto t0 = Clock::now();
      for (std::size_t i = 0; i < prims_.size(); ++i) {
        auto& st = plan_.steps_[i];
        if (st.fn) {
          TB_DNNL(s.wait());
          st.fn(mems_);
        } else {
          TB_DNNL(prims_[i].execute(s, args_[i]));
        }
      }
      TB_DNNL(s.wait());
      return Timing{since(t0), TimingSource::host_clock};
    });
  }

  Result<void> download(std::span<Tensor> outputs) override {
    for (std::size_t i = 0; i < plan_.buffers_.size(); ++i) {
      const int out = plan_.buffers_[i].output;
      if (out < 0) continue;
      if (static_cast<std::size_t>(out) >= outputs.size())
        return make_error("onednn: too few outputs");
      Tensor& t = outputs[static_cast<std::size_t>(out)];
      if (t.bytes() != plan_.buffers_[i].md.get_size())
        return make_error("onednn: output " + std::to_string(out) + " size mismatch");
      std::memcpy(t.raw(), mems_[i].get_data_handle(), t.bytes());
    }
    return {};
  }

  bool bind(std::size_t index, void* data, std::size_t bytes, bool output) override {
    std::vector<std::size_t> bufs;
    for (std::size_t i = 0; i < plan_.buffers_.size(); ++i) {
      const auto& b = plan_.buffers_[i];
      if ((output ? b.output : b.input) != static_cast<int>(index)) continue;
      if (b.md.get_size() != bytes) return false;
      // A weight reordered into the primitive's layout is read from the reorder's output.
      for (const auto& r : plan_.reorders_)
        if (r.from == static_cast<int>(i)) return false;
      bufs.push_back(i);
    }
    if (bufs.empty()) return false;
    for (std::size_t i : bufs) TB_DNNL(mems_[i].set_data_handle(data));
    return true;
  }

  MemoryStats memory() const override { return mem_; }

  // Runs the weight reorders (all, or those fed by one input); returns their time.
  double run_reorders(int only_input) {
    omp_set_num_threads(threads_);
    const auto t0 = Clock::now();
    for (std::size_t r = 0; r < reorders_.size(); ++r) {
      const auto& ro = plan_.reorders_[r];
      if (only_input >= 0 && plan_.buffers_[static_cast<std::size_t>(ro.from)].input != only_input)
        continue;
      TB_DNNL(reorders_[r].execute(stream_, mems_[static_cast<std::size_t>(ro.from)],
                                   mems_[static_cast<std::size_t>(ro.to)]));
    }
    TB_DNNL(stream_.wait());
    return since(t0);
  }

  std::vector<std::pair<std::string, double>> details() const override {
    std::vector<std::pair<std::string, double>> d = {
        {"primitive_create_s", create_s_},
        {"primitive_cache_hit", cache_hit_ ? 1.0 : 0.0},
        {"known_bad_impls_skipped", static_cast<double>(known_bad_skipped())},
        {"primitive_cache_capacity", static_cast<double>(cache_capacity())},
        {"reorder_s", reorder_s_},
        {"primitives", static_cast<double>(created_)},
        {"threads", static_cast<double>(threads_)}};
    d.insert(d.end(), plan_.details_.begin(), plan_.details_.end());
    return d;
  }

 private:
  Plan plan_;
  int threads_;
  std::vector<dnnl::primitive> prims_;
  std::vector<dnnl::reorder> reorders_;
  std::vector<dnnl::memory> mems_;
  dnnl::stream stream_;
  std::vector<std::unordered_map<int, dnnl::memory>> args_;
  MemoryStats mem_;
  double create_s_ = 0, reorder_s_ = 0;
  bool cache_hit_ = false;
  int created_ = 0;
};

namespace {

// Fills a Plan for p; throws Failure where oneDNN (or this backend) has no implementation.
void build(Plan& plan, const Problem& p) {
  if (auto s = reference_supports(p); !s.supported) throw Failure(s.reason);
  std::visit(Overloaded{[&](const GemmDesc& d) { build_matmul(plan, p, d); },
                        [&](const ConvDesc& d) { build_conv(plan, p, d); },
                        [&](const AttentionDesc& d) { build_attention(plan, p, d); },
                        [&](const PoolDesc& d) { build_pool(plan, p, d); },
                        [&](const RowDesc& d) { build_rowwise(plan, p, d); },
                        [&](const BinaryDesc& d) { build_binary(plan, p, d); },
                        [&](const RopeDesc& d) { build_rope(plan, p, d); },
                        [&](const EmbedDesc& d) { build_embed(plan, p, d); },
                        [&](const KvWriteDesc& d) { build_kvwrite(plan, p, d); },
                        [&](const PermuteDesc& d) { build_permute(plan, p, d); },
                        [&](const SliceDesc& d) { build_slice(plan, p, d); },
                        [&](const auto&) { throw Failure(no_kernel_reason("onednn", p)); }},
             p.op);
}

class Backend final : public tb::Backend {
 public:
  const BackendTraits& traits() const override { return onednn_backend_traits(); }

  Availability availability() override {
    try {
      (void)cpu_engine();
      return {true, {}};
    } catch (const std::exception& e) {
      return {false, std::string("no oneDNN CPU engine: ") + e.what()};
    }
  }

  std::vector<DeviceInfo> devices() override {
    DeviceInfo d;
    const auto& f = cpu_features();
    d.name = f.brand.empty() ? "host CPU" : f.brand;
    d.type = "cpu";
    d.vendor = f.vendor;
    d.driver = version();
    d.api_version = "oneDNN CPU engine";
    d.compute_units = omp_get_num_procs();
    d.int8_dot = f.avx512_vnni || f.avx_vnni;
    return {d};
  }

  std::string version() override {
    const dnnl_version_t* v = dnnl_version();
    std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                    std::to_string(v->patch) + " (" + v->hash + ", cpu runtime ";
    s += v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other";
    s += ", isa " + isa_name() + ")";
    return s;
  }

  Support supports(const Problem& p, int device) override {
    if (device != 0) return Support::no("onednn has one CPU device");
    try {
      Plan plan;
      build(plan, p);
      return Support::yes();
    } catch (const std::exception& e) {
      return Support::no(e.what());
    }
  }

  Result<std::unique_ptr<PreparedKernel>> prepare(const Problem& p,
                                                  const PrepareOptions& o) override {
    return guard([&]() -> Result<std::unique_ptr<PreparedKernel>> {
      if (o.device != 0) return make_error("onednn has one CPU device");
      const int threads = resolve_threads(o.threads);
      // Set before building: oneDNN chooses blockings for the thread count at creation time.
      omp_set_num_threads(threads);
      Plan plan;
      build(plan, p);
      auto k = std::make_unique<Kernel>(std::move(plan), threads);
      k->realise(p.str() + "/t" + std::to_string(threads));
      return std::unique_ptr<PreparedKernel>(std::move(k));
    });
  }

  Result<std::unique_ptr<PreparedGraph>> prepare_graph(const DeviceGraph& g,
                                                       const PrepareOptions& o) override {
    if (o.device != 0) return make_error("onednn has one CPU device");
    if (const char* e = std::getenv("TB_ONEDNN_GRAPH"); e && std::string(e) == "staged")
      return make_staged_graph(*this, g, o);
    return onednn::prepare_graph(*this, g, o, resolve_threads(o.threads));
  }

 private:
  static std::string isa_name() {
    switch (dnnl::get_effective_cpu_isa()) {
      case dnnl::cpu_isa::avx512_core_amx:
        return "avx512_core_amx";
      case dnnl::cpu_isa::avx512_core_bf16:
        return "avx512_core_bf16";
      case dnnl::cpu_isa::avx512_core_vnni:
        return "avx512_core_vnni";
      case dnnl::cpu_isa::avx512_core:
        return "avx512_core";
      case dnnl::cpu_isa::avx2_vnni:
        return "avx2_vnni";
      case dnnl::cpu_isa::avx2:
        return "avx2";
      default:
        return "other";
    }
  }
};

}  // namespace
}  // namespace onednn

const BackendTraits& onednn_backend_traits() {
  static const BackendTraits t{
      .name = "onednn", .devices = DeviceKind::host_cpu, .probe_key = "", .reference = false};
  return t;
}

std::unique_ptr<Backend> make_onednn_backend() {
  return std::make_unique<onednn::Backend>();
}

}  // namespace tb

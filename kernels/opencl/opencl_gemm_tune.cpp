#include <algorithm>
#include <chrono>

#include "../reference/reference_backend.h"
#include "opencl_internal.h"
#include "opencl_tune.h"
#include "tune_store.h"

namespace tb {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<ocl::GemmConfig> candidates(bool quick) {
  std::vector<ocl::GemmConfig> v;
  const ocl::GemmConfig def;
  v.push_back(def);  // the default first: it is the anchor
  const std::vector<int> mrs = quick ? std::vector<int>{6, 8} : std::vector<int>{4, 6, 8, 12};
  const std::vector<int> nvs = quick ? std::vector<int>{2} : std::vector<int>{1, 2, 3};
  const std::vector<int> kcs = quick ? std::vector<int>{256, 512} : std::vector<int>{128, 256, 512};
  for (int mr : mrs)
    for (int nv : nvs) {
      // mr * nv accumulators + nv B vectors + a broadcast must fit in 32 vector registers.
      if (mr * nv + nv + 1 > 32) continue;
      for (int kc : kcs)
        for (int rb : quick ? std::vector<int>{4, 16} : std::vector<int>{1, 4, 16})
          for (int order : {0, 1}) {
            ocl::GemmConfig c;
            c.mr = mr, c.nv = nv, c.kc = kc, c.rb = rb, c.order = order;
            if (c.str() != def.str()) v.push_back(c);
          }
    }
  return v;
}

// Validation against the reference on an odd shape spanning several K blocks.
Status validate(const std::shared_ptr<ocl::DeviceCtx>& d, const ocl::GemmConfig& c,
                std::string* msg) {
  auto p = Problem::parse("gemm:b2m37n53k1061:f32+bias+relu+res");
  if (!p) return *msg = p.error().message, Status::error;
  const auto in = make_inputs(p.value(), 1234);
  auto ref = make_outputs(p.value());
  if (auto r = reference_compute(p.value(), in, ref); !r)
    return *msg = r.error().message, Status::error;
  auto k = ocl::prepare_gemm(d, p.value(), c);
  if (!k) return *msg = k.error().message, Status::error;
  auto out = make_outputs(p.value());
  if (auto r = k.value()->upload(in); !r) return *msg = r.error().message, Status::error;
  if (auto r = k.value()->execute(); !r) return *msg = r.error().message, Status::error;
  if (auto r = k.value()->download(out); !r) return *msg = r.error().message, Status::error;
  const Check ch = check_outputs(out, ref, tolerance_for(p.value()));
  *msg = ch.message;
  return ch.status;
}

Result<double> time_gflops(const std::shared_ptr<ocl::DeviceCtx>& d, const ocl::GemmConfig& c,
                           const Problem& p, const std::vector<Tensor>& in, int reps) {
  auto k = ocl::prepare_gemm(d, p, c);
  if (!k) return k.error();
  if (auto r = k.value()->upload(in); !r) return r.error();
  if (auto r = k.value()->execute(); !r) return r.error();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto r = k.value()->execute();
    if (!r) return r.error();
    t.push_back(r->seconds);
  }
  std::sort(t.begin(), t.end());
  return p.flops() / t[t.size() / 2] * 1e-9;
}

}  // namespace

Result<OpenclTuneReport> tune_opencl_gemm(const OpenclTuneOptions& o) {
  const auto t0 = Clock::now();
  auto dev = ocl::open_device(o.device);
  if (!dev) return dev.error();
  const auto& d = dev.value();
  if (!d->is_cpu) return make_error("opencl tuner: only the packed (CPU) kernel is tunable");
  OpenclTuneReport rep;
  rep.key = ocl::gemm_tune_key(*d);
  const std::int64_t n = o.size > 0 ? o.size : (o.quick ? 512 : 1024);
  const Problem p = make_gemm(n, n, n);
  const auto in = make_inputs(p, 99);
  const int reps = o.quick ? 3 : 5;
  const double budget = o.quick ? o.budget_s / 3 : o.budget_s;

  for (const auto& c : candidates(o.quick)) {
    OpenclTuneCandidate cand;
    cand.config = c.str();
    if (std::chrono::duration<double>(Clock::now() - t0).count() > budget) {
      cand.message = "time budget spent";
      rep.candidates.push_back(cand);
      continue;
    }
    cand.status = validate(d, c, &cand.message);
    if (cand.status == Status::passed) {
      auto g = time_gflops(d, c, p, in, reps);
      if (!g) {
        cand.status = Status::error;
        cand.message = g.error().message;
      } else {
        cand.gflops = g.value();
        if (rep.candidates.empty()) rep.default_gflops = cand.gflops;
        if (cand.gflops > rep.best_gflops) rep.best_gflops = cand.gflops, rep.best = cand.config;
      }
    }
    rep.candidates.push_back(cand);
  }
  rep.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (rep.best.empty()) return make_error("opencl tuner: no candidate passed validation");
  if (o.persist) {
    auto store = tune_store();
    if (!store) return make_error("opencl tuner: no tune store (no usable cache directory)");
    if (auto r = store->put(rep.key, rep.best); !r) return r.error();
  }
  return rep;
}

}  // namespace tb

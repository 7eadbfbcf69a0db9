#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "../reference/reference_backend.h"
#include "opencl_internal.h"
#include "opencl_tune.h"

namespace tb {

namespace {

using Clock = std::chrono::steady_clock;

// Register blocks (mr rows x 16 * nv columns): mr * nv accumulators + nv B vectors + a broadcast
// must fit in 32 vector registers.
std::vector<std::pair<int, int>> register_blocks(bool quick) {
  if (quick) return {{8, 2}, {6, 4}};
  std::vector<std::pair<int, int>> v;
  for (auto [mr, nv] :
       std::initializer_list<std::pair<int, int>>{{8, 2}, {6, 4}, {12, 2}, {14, 2}, {8, 3}, {5, 4}})
    if (mr * nv + nv + 1 <= 32) v.emplace_back(mr, nv);
  return v;
}

ocl::GemmConfig make_config(int mr, int nv, int kc, int rb, int order) {
  ocl::GemmConfig c;
  c.mr = mr, c.nv = nv, c.kc = kc, c.rb = rb, c.order = order;
  return c;
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

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// GFLOP/s of `reps` runs after a warm-up.
Result<std::vector<double>> time_gflops(const std::shared_ptr<ocl::DeviceCtx>& d,
                                        const ocl::GemmConfig& c, const Problem& p,
                                        const std::vector<Tensor>& in, int reps) {
  auto k = ocl::prepare_gemm(d, p, c);
  if (!k) return k.error();
  if (auto r = k.value()->upload(in); !r) return r.error();
  if (auto r = k.value()->execute(); !r) return r.error();  // warm-up
  std::vector<double> g;
  for (int i = 0; i < reps; ++i) {
    auto r = k.value()->execute();
    if (!r) return r.error();
    g.push_back(p.flops() / r->seconds * 1e-9);
  }
  return g;
}

}  // namespace

// Three stages, so that the budget goes where it matters: (1) every register block (a program
// build each, seconds under PoCL) at the default K block; (2) K block x row blocks x launch order
// for the two best register blocks (run-time arguments: no build); (3) the three best re-timed,
// interleaved, so that a burst of load on a shared machine does not crown a lucky candidate. Every
// candidate is validated first; one that fails is never timed nor kept.
Result<TuneOutcome> tune_opencl_gemm(const OpenclTuneOptions& o) {
  const auto t0 = Clock::now();
  auto dev = ocl::open_device(o.device);
  if (!dev) return dev.error();
  const auto& d = dev.value();
  const bool tiled = o.tiled || !d->is_cpu;
  TuneOutcome rep;
  TuneWinner& win = rep.winner;
  win.key = ocl::gemm_tune_key(*d);
  const std::int64_t n = o.size > 0 ? o.size : (o.quick ? 512 : 1024);
  const Problem p = make_gemm(n, n, n);
  win.problem = p.str();
  win.default_config = tiled ? "tiled" : ocl::default_gemm_config(*d).str();
  const auto in = make_inputs(p, 99);
  const int reps = o.quick ? 3 : 5;
  const double budget = o.budget_s;
  auto spent = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  std::vector<std::string> seen;
  std::vector<std::vector<double>> samples;  // per candidate index, GFLOP/s of every timed run
  TuneWinner best_so_far = win;

  // Stage 1 (program builds: seconds each with a cold PoCL cache) stops at half the budget so that
  // stage 2 (no builds) always gets its turn.
  double stage_end = 0.5 * budget;
  auto try_config = [&](const ocl::GemmConfig& c) {
    if (std::find(seen.begin(), seen.end(), c.str()) != seen.end()) return;
    seen.push_back(c.str());
    TuneCandidate cand;
    cand.config = c.str();
    // The first candidate (the default) always runs: a tuning ends with a measured winner.
    if (!rep.candidates.empty() && spent() > stage_end) {
      cand.message = "time budget spent";
    } else {
      if (o.on_candidate) o.on_candidate(cand.config);
      cand.status = validate(d, c, &cand.message);
      if (cand.status == Status::passed) {
        auto g = time_gflops(d, c, p, in, reps);
        if (!g) {
          cand.status = Status::error;
          cand.message = g.error().message;
        } else {
          cand.gflops = median(g.value());
          samples.resize(rep.candidates.size() + 1);
          samples.back() = g.value();
        }
      }
    }
    rep.candidates.push_back(cand);
    samples.resize(rep.candidates.size());
    // The best so far, kept by a caller that stops the tuning before the finalists are re-timed.
    if (cand.status == Status::passed && cand.gflops > best_so_far.gflops && o.on_best) {
      best_so_far.config = cand.config;
      best_so_far.gflops = cand.gflops;
      best_so_far.default_gflops = rep.candidates.front().gflops;
      best_so_far.tune_s = spent();
      o.on_best(best_so_far);
    }
  };
  // The best `count` timed candidates, by median.
  auto best = [&](std::size_t count) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < rep.candidates.size(); ++i)
      if (rep.candidates[i].status == Status::passed) idx.push_back(i);
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
      return rep.candidates[a].gflops > rep.candidates[b].gflops;
    });
    if (idx.size() > count) idx.resize(count);
    return idx;
  };

  if (tiled) {
    // The tiled kernel (GPUs): tile size and K step are build options, one program each; the
    // default first (the anchor).
    stage_end = 0.9 * budget;
    for (const auto& c : ocl::tiled_configs()) try_config(c);
  } else {
    const ocl::GemmConfig def = ocl::default_gemm_config(*d);
    try_config(def);  // the default first: it is the anchor
    for (auto [mr, nv] : register_blocks(o.quick))
      try_config(make_config(mr, nv, def.kc, def.rb, def.order));
    stage_end = 0.9 * budget;  // the rest of the budget is for the finalists
    std::vector<std::pair<int, int>> blocks;
    for (std::size_t i : best(2)) {
      const auto c = ocl::GemmConfig::parse(rep.candidates[i].config);
      if (c) blocks.emplace_back(c->mr, c->nv);
    }
    // kc 0 (all of K) and 1024 differ only when K > 1024; the winner serves every size.
    const std::vector<int> kcs =
        o.quick ? std::vector<int>{256, 1024} : std::vector<int>{256, 512, 1024, 0};
    const std::vector<int> rbs = o.quick ? std::vector<int>{1, 4} : std::vector<int>{1, 4, 16};
    for (auto [mr, nv] : blocks)
      for (int kc : kcs)
        for (int rb : rbs)
          for (int order : {0, 1}) try_config(make_config(mr, nv, kc, rb, order));
  }

  // Finalists: more runs each, interleaved; the winner by the median of all its runs.
  const auto finalists = best(3);
  for (int round = 0; round < 2 && spent() < budget; ++round)
    for (std::size_t i : finalists) {
      auto c = ocl::GemmConfig::parse(rep.candidates[i].config);
      if (!c) continue;
      if (auto g = time_gflops(d, *c, p, in, reps))
        samples[i].insert(samples[i].end(), g->begin(), g->end());
    }
  for (std::size_t i : finalists) rep.candidates[i].gflops = median(samples[i]);
  if (!rep.candidates.empty()) win.default_gflops = rep.candidates[0].gflops;
  for (std::size_t i : finalists)
    if (rep.candidates[i].gflops > win.gflops)
      win.gflops = rep.candidates[i].gflops, win.config = rep.candidates[i].config;
  win.tune_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (win.config.empty()) return make_error("opencl tuner: no candidate passed validation");
  if (o.persist)
    if (auto r = tune_store()->put(win); !r) return r.error();
  return rep;
}

Result<TuneOutcome> tune_opencl(const TuneRequest& r) {
  OpenclTuneOptions o;
  o.device = r.device;
  o.budget_s = r.budget_s;
  o.quick = r.budget_s < 45;
  o.persist = r.persist;
  o.on_candidate = r.on_candidate;
  o.on_best = r.on_best;
  return tune_opencl_gemm(o);
}

namespace ocl {

std::optional<TuneKey> tune_key_for(const Problem& p, const DeviceCtx& d) {
  const ConvDesc* c = p.as<ConvDesc>();
  const bool gemm = p.as<GemmDesc>() && (p.dtype == DType::f32 || p.dtype == DType::f16);
  const bool pointwise = c && p.dtype == DType::f32 && !p.post.scales && c->pointwise();
  if (!gemm && !pointwise) return std::nullopt;
  return gemm_tune_key(d);
}

}  // namespace ocl

}  // namespace tb

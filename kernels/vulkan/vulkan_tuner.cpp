// The bounded GEMM tuner: try a short list of configurations on the problem's own shape, keep
// the one with the lowest creation + amortised run time among those that match the reference,
// and store it in tune_store() (kernels/tuning.h) per device, driver, shader build and shape
// class (m, n, k rounded up to powers of two, and the dtype).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "../reference/reference_backend.h"
#include "../validate.h"
#include "vulkan_gemm.h"

namespace tb::vulkan {

namespace {
std::int64_t pow2_bucket(std::int64_t v) {
  std::int64_t b = 1;
  while (b < v && b < 8192) b *= 2;
  return b;
}

// FNV-1a over every GEMM shader's SPIR-V: a winner chosen among other shaders is not trusted.
const std::string& gemm_shaders_hash() {
  static const std::string h = [] {
    std::uint64_t x = 1469598103934665603ull;
    // The blobs through vulkan_context.cpp: including the 50 MB of generated words here too
    // cost 15 s of every clean build.
    for (std::string_view name : spirv_blob_names()) {
      if (name.rfind("gemm_", 0) != 0) continue;
      for (char c : name) x = (x ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      for (std::uint32_t w : spirv_blob(name)) x = (x ^ w) * 1099511628211ull;
    }
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
    return std::string(buf);
  }();
  return h;
}

// The candidates' order puts the default first (gemm_candidates).
TuneWinner make_winner(const Context& ctx, const Problem& p, const TuneResult& res, double tune_s) {
  TuneWinner w;
  w.key = gemm_tune_key(ctx, *p.as<GemmDesc>(), p.dtype);
  w.config = res.best.str();
  w.problem = p.str();
  w.tune_s = tune_s;
  w.default_config = res.candidates.front().config;
  for (const auto& c : res.candidates) {
    if (c.config == w.config) w.gflops = c.gflops;
    if (c.config == w.default_config) w.default_gflops = c.gflops;
  }
  return w;
}

// Checks `cfg` against the reference (output and the guards around it), then times it. nullopt
// when it cannot run here or does not match; `c` says why.
std::optional<TuneEntry> try_candidate(const std::shared_ptr<Context>& ctx, const Problem& p,
                                       const GemmConfig& cfg, const std::vector<Tensor>& inputs,
                                       const std::vector<Tensor>& ref, const TuneOptions& opts,
                                       TuneCandidate& c) {
  GemmPrepareOptions po;
  po.config = cfg;
  po.reuse_pipeline = false;  // creation is part of the score: measure it, never reuse
  auto out = make_outputs(p);
  auto k = prepare_gemm(ctx, p, po);
  Result<void> ran = k ? k.value()->upload(inputs) : Result<void>(k.error());
  if (ran) ran = k.value()->execute() ? k.value()->download(out) : make_error("execute failed");
  if (!ran) {
    c.status = Status::error;  // e.g. beyond this device's limits
    c.message = ran.error().message;
    return std::nullopt;
  }
  const Check ch = check_outputs(out, ref, tolerance_for(p));
  c.status = out[0].guards_intact() ? ch.status : Status::failed;
  c.message = out[0].guards_intact() ? ch.message : "wrote past its output";
  if (c.status != Status::passed) return std::nullopt;
  auto& kern = *k.value();
  std::vector<double> t;
  for (int r = 0; r < std::max(1, opts.reps); ++r) {
    auto e = kern.execute();
    if (!e) break;
    t.push_back(e->seconds);
  }
  if (t.empty()) {
    c.status = Status::error;
    c.message = "timed run failed";
    return std::nullopt;
  }
  std::sort(t.begin(), t.end());
  TuneEntry te;
  te.config = cfg;
  te.run_s = t[t.size() / 2];
  te.gflops = p.flops() / te.run_s * 1e-9;
  for (auto& [name, v] : kern.details())
    if (name == "pipeline_create_s") te.create_s = v;
  // Created again, now that the driver's caches hold it: what a later process pays.
  te.create_warm_s = te.create_s;
  if (auto again = prepare_gemm(ctx, p, po))
    for (auto& [name, v] : again.value()->details())
      if (name == "pipeline_create_s") te.create_warm_s = v;
  te.score_s = opts.runs > 0 ? te.create_warm_s + opts.runs * te.run_s : te.run_s;
  c.gflops = te.gflops;
  char msg[96];
  std::snprintf(msg, sizeof msg, "pipeline creation %.3f s (again %.3f s)", te.create_s,
                te.create_warm_s);
  c.message = msg;
  return te;
}

// The GEMM a problem's tunable kernel is: itself, or a pointwise conv's.
std::optional<Problem> tunable_gemm(const Problem& p) {
  if (p.as<GemmDesc>()) return p.post.scales ? std::nullopt : std::optional<Problem>(p);
  if (auto g = pointwise_gemm(p)) return Problem{*g, p.dtype, p.post};
  return std::nullopt;
}
}  // namespace

std::string tuning_bucket(const GemmDesc& g, DType dt) {
  return "m" + std::to_string(pow2_bucket(g.m)) + "n" + std::to_string(pow2_bucket(g.n)) + "k" +
         std::to_string(pow2_bucket(g.k)) + ":" +
         std::string(dtype_name(dt == DType::u8 ? DType::s8 : dt));
}

TuneKey gemm_tune_key(const Context& ctx, const GemmDesc& g, DType dt) {
  const auto& i = ctx.info();
  return {"vulkan", i.name,
          i.driver_name + " " + i.driver_info + " (" + std::to_string(i.driver_version) + ")",
          "gemm@" + gemm_shaders_hash(), tuning_bucket(g, dt)};
}

std::optional<GemmConfig> lookup_tuned(const Context& ctx, const GemmDesc& g, DType dt) {
  auto w = tune_store()->get(gemm_tune_key(ctx, g, dt));
  if (!w) return std::nullopt;
  return GemmConfig::parse(w->config);
}

Result<TuneResult> tune_gemm(const std::shared_ptr<Context>& ctx, const Problem& p,
                             const TuneOptions& opts) {
  const GemmDesc* g = p.as<GemmDesc>();
  if (!g) return make_error("tune_gemm: not a gemm");
  if (auto s = gemm_dtype_supported(*ctx, p.dtype); !s.supported) return make_error(s.reason);
  const auto inputs = make_inputs(p, 7);
  auto ref = make_outputs(p);
  if (auto r = reference_compute(p, inputs, ref); !r) return r.error();
  TuneResult res;
  double best = -1;
  const auto t0 = std::chrono::steady_clock::now();
  // A candidate starts only when one as slow as the slowest so far would still end within the
  // budget (the first always runs: a class needs one measured configuration).
  double slowest = 0;
  for (const auto& cfg : gemm_candidates(*ctx, *g, p.dtype)) {
    TuneCandidate c{cfg.str(), Status::skipped, 0, ""};
    if (!res.tried.empty() && seconds_since(t0) + slowest > opts.budget_s) {
      c.message = "time budget spent";
      res.candidates.push_back(c);
      continue;
    }
    if (opts.on_candidate) opts.on_candidate(c.config);
    const auto tc = std::chrono::steady_clock::now();
    auto te = try_candidate(ctx, p, cfg, inputs, ref, opts, c);
    slowest = std::max(slowest, seconds_since(tc));
    res.candidates.push_back(c);
    if (!te) continue;
    res.tried.push_back(*te);
    if (best < 0 || te->score_s < best) {
      best = te->score_s, res.best = cfg;
      if (opts.on_best) opts.on_best(make_winner(*ctx, p, res, seconds_since(t0)));
    }
  }
  if (res.tried.empty()) return make_error("tune_gemm: no candidate ran correctly");
  res.winner = make_winner(*ctx, p, res, seconds_since(t0));
  if (opts.persist)
    if (auto r = tune_store()->put(res.winner); !r) return r.error();
  return res;
}

std::optional<TuneKey> problem_tune_key(const Context& ctx, const Problem& p) {
  const auto g = tunable_gemm(p);
  if (!g) return std::nullopt;
  return gemm_tune_key(ctx, *g->as<GemmDesc>(), g->dtype);
}

Result<TuneOutcome> tune_problem(const std::shared_ptr<Context>& ctx, const Problem& p,
                                 const TuneRequest& r) {
  const auto g = tunable_gemm(p);
  if (!g) return make_error("vulkan: " + p.str() + " has no tunable kernel");
  TuneOptions o;
  o.budget_s = r.budget_s;
  o.persist = r.persist;
  o.on_candidate = r.on_candidate;
  o.on_best = r.on_best;
  auto res = tune_gemm(ctx, *g, o);
  if (!res) return res.error();
  return TuneOutcome{res->winner, res->candidates};
}

}  // namespace tb::vulkan

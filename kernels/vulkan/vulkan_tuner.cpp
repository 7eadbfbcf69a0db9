// The bounded GEMM tuner: try a short list of configurations on the problem's own shape, keep
// the one with the lowest creation + amortised run time among those that match the reference,
// persist it per device + driver, size class and dtype.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "../reference/reference_backend.h"
#include "../validate.h"
#include "vulkan_gemm.h"

namespace tb::vulkan {

namespace {
std::filesystem::path tuning_path() {
  const auto root = cache_root();
  return root.empty() ? root : root / "vulkan" / "gemm_tuning.json";
}

std::int64_t pow2_bucket(std::int64_t v) {
  std::int64_t b = 1;
  while (b < v && b < 8192) b *= 2;
  return b;
}

std::mutex& file_mutex() {
  static std::mutex m;
  return m;
}

nlohmann::json load_tuning() {
  std::ifstream f(tuning_path());
  if (!f) return nlohmann::json::object();
  auto j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : nlohmann::json::object();
}
}  // namespace

std::string tuning_bucket(const GemmDesc& g, DType dt) {
  std::string s = "m" + std::to_string(pow2_bucket(g.m)) + "n" + std::to_string(pow2_bucket(g.n)) +
                  "k" + std::to_string(pow2_bucket(g.k));
  if (dt != DType::f32) s += ":" + std::string(dtype_name(dt == DType::u8 ? DType::s8 : dt));
  return s;
}

std::optional<GemmConfig> lookup_tuned(const Context& ctx, const GemmDesc& g, DType dt) {
  if (tuning_path().empty()) return std::nullopt;
  std::lock_guard lock(file_mutex());
  const auto j = load_tuning();
  const auto dev = j.find(ctx.device_key());
  if (dev == j.end() || !dev->is_object()) return std::nullopt;
  const auto e = dev->find(tuning_bucket(g, dt));
  if (e == dev->end() || !e->is_object() || !e->contains("config") || !(*e)["config"].is_string())
    return std::nullopt;
  return GemmConfig::parse((*e)["config"].get<std::string>());
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
  for (const auto& cfg : gemm_candidates(*ctx, *g, p.dtype)) {
    if (!res.tried.empty() && seconds_since(t0) > opts.budget_s) break;
    GemmPrepareOptions po;
    po.config = cfg;
    po.reuse_pipeline = false;  // creation is part of the score: measure it, never reuse
    auto k = prepare_gemm(ctx, p, po);
    if (!k) continue;  // e.g. beyond this device's limits
    auto& kern = *k.value();
    if (!kern.upload(inputs)) continue;
    auto out = make_outputs(p);
    if (!kern.execute() || !kern.download(out)) continue;
    // A candidate that does not match the reference (or writes past its output) is never kept.
    if (!out[0].guards_intact() ||
        check_outputs(out, ref, tolerance_for(p)).status != Status::passed)
      continue;
    std::vector<double> t;
    for (int r = 0; r < std::max(1, opts.reps); ++r) {
      auto e = kern.execute();
      if (!e) break;
      t.push_back(e->seconds);
    }
    if (t.empty()) continue;
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
    res.tried.push_back(te);
    if (best < 0 || te.score_s < best) best = te.score_s, res.best = cfg;
  }
  if (res.tried.empty()) return make_error("tune_gemm: no candidate ran correctly");
  if (opts.persist && !tuning_path().empty()) {
    std::lock_guard lock(file_mutex());
    auto j = load_tuning();
    const auto w = std::find_if(res.tried.begin(), res.tried.end(),
                                [&](const TuneEntry& e) { return e.config == res.best; });
    j[ctx->device_key()][tuning_bucket(*g, p.dtype)] = {
        {"config", res.best.str()},    {"gflops", w->gflops},
        {"create_s", w->create_s},     {"create_warm_s", w->create_warm_s},
        {"runs_amortised", opts.runs}, {"problem", p.str()}};
    std::error_code ec;
    std::filesystem::create_directories(tuning_path().parent_path(), ec);
    const auto tmp = tuning_path().string() + ".tmp";
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(2) << "\n";
    f.close();
    if (f) std::filesystem::rename(tmp, tuning_path(), ec);
  }
  return res;
}

}  // namespace tb::vulkan

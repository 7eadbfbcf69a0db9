#include "workload_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>

#include "executor.h"
#include "measure.h"
#include "reference/reference_backend.h"
#include "stats.h"
#include "weights.h"

namespace tb {

namespace {

using measure::Clock;
using measure::fail;
using measure::fits;
using measure::fits_device_memory;
using measure::PeakRss;
using measure::proc_kb_field;
using measure::stop;
using workloads::Executor;
using workloads::Graph;

}  // namespace

// Per-dtype kernel tolerances grow through dozens of layers (f32 summation order), and bf16 /
// int8 graphs re-round activations between layers, so that one rounding flip moves later values
// by a quantisation step.
double graph_rtol(DType dt) {
  switch (dt) {
    case DType::f32:
      return 1e-3;
    case DType::bf16:
      return 5e-2;
    default:
      return 5e-2;
  }
}

namespace {

nlohmann::json details_json(const std::vector<std::pair<std::string, double>>& d) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : d) j[k] = v;
  return j;
}

struct Validation {
  Check check;
  bool reduced = false;
  std::string note;
};

// Where a run's weights come from: the graph's own (cold: the page cache dropped first), and the
// graph and weights validation runs (the tier's reduced configuration for large tiers).
struct WeightSource {
  std::function<Result<workloads::LoadedWeights>(bool cold)> load;
  std::function<Result<std::pair<Graph, std::vector<Tensor>>>()> validation;
};

// Runs the validation graph on the reference and on b, same seeded input; compares outputs.
Result<Validation> validate(Backend& b, int device, const WeightSource& ws,
                            const WorkloadOptions& o) {
  auto gw = ws.validation();
  if (!gw) return gw.error();
  const Graph& g = gw->first;
  Validation v;
  v.reduced = g.reduced;
  v.note = g.reduced ? "validated on a reduced configuration: " + g.reduced_note
                     : "validated on the full graph";
  const Tensor input = Executor::make_input(g, o.seed);
  std::vector<Tensor> outs;
  auto ref_backend = make_reference_backend();
  for (Backend* be : {static_cast<Backend*>(ref_backend.get()), &b}) {
    Executor ex(g, be == &b ? std::move(gw->second) : gw->second, o.seed);
    if (auto p = ex.prepare(*be, be == &b ? device : 0, o.threads); !p) return p.error();
    if (auto u = ex.upload_weights(); !u) return u.error();
    if (auto r = ex.infer(input); !r)
      return make_error(std::string(be->name()) + ": " + r.error().message);
    outs.push_back(ex.output());
  }
  Tolerance tol;
  tol.rtol = graph_rtol(g.dtype);
  v.check = check_outputs(std::span<const Tensor>(&outs[1], 1),
                          std::span<const Tensor>(&outs[0], 1), tol);
  return v;
}

ResultRecord new_record(const Backend& b, const DeviceInfo& dev, const workloads::WorkloadName& w) {
  ResultRecord r;
  r.kind = "workload";
  r.name = w.str();
  r.backend = std::string(b.name());
  r.device = dev.name;
  r.dtype = w.dtype;
  r.timing_source = std::string(timing_source_name(TimingSource::host_clock));
  return r;
}

ResultRecord run_graph(ResultRecord r, Backend& b, const DeviceInfo& dev, const Graph& g,
                       const WeightSource& ws, nlohmann::json load, const WorkloadOptions& o);

// One tier: its graph built once (the default variant's too when the weights file is written
// for another variant, the reduced configuration only when validation needs it), its weights
// file written on first use, then run_graph.
ResultRecord run_one(Backend& b, const DeviceInfo& dev, const workloads::WorkloadName& w,
                     const WorkloadOptions& o) {
  ResultRecord r = new_record(b, dev, w);
  workloads::BuildOptions bo;
  bo.variant = w.variant;
  auto built = workloads::build_tier(w.tier, w.dtype, bo);
  if (!built) return fail(std::move(r), Status::error, built.error().message);
  const Graph g = std::move(*built);
  nlohmann::json load = nlohmann::json::object();
  // Weights: the cached synthetic file (written once) or the user's own.
  std::string path = o.weights_path;
  if (path.empty()) {
    path = workloads::cached_weights_path(g, o.seed);
    {  // written when missing or out of date (ensure_weights_file)
      // The file holds the default variant's weights: the graph above when it is that variant.
      std::optional<Graph> other;
      if (g.variant != workloads::find_tier(w.tier)->variants.front()) {
        auto full = workloads::build_tier(w.tier, w.dtype, {});
        if (!full) return fail(std::move(r), Status::error, full.error().message);
        other = std::move(*full);
      }
      const auto t0 = Clock::now();
      auto made = workloads::ensure_weights_file(other ? *other : g, path, o.seed);
      if (!made) return fail(std::move(r), Status::error, "weights: " + made.error().message);
      if (*made) load["generate_weights_s"] = measure::seconds_since(t0);
    }
  }
  load["weights_file"] = path;
  WeightSource ws;
  ws.load = [&](bool cold) { return workloads::load_weights(g, path, cold); };
  ws.validation = [&]() -> Result<std::pair<Graph, std::vector<Tensor>>> {
    Graph vg = g;
    if (g.figures().macs > o.full_validation_max_macs) {
      bo.reduced = true;
      auto red = workloads::build_tier(w.tier, w.dtype, bo);
      if (!red) return red.error();
      vg = std::move(*red);
    }
    auto wt = workloads::load_weights(vg, path, false);
    if (!wt) return wt.error();
    return std::make_pair(std::move(vg), std::move(wt->tensors));
  };
  return run_graph(std::move(r), b, dev, g, ws, std::move(load), o);
}

// Admission: the graph's figures; every kernel layer supported; the graph fits the host (weights
// once plus the backend's copy (oneDNN may keep a plain and a reordered one), and every value)
// and the device (weights and values in device memory).
bool admit(ResultRecord& r, Backend& b, const DeviceInfo& dev, const Graph& g,
           const WorkloadOptions& o) {
  const auto f = g.figures();
  std::int64_t value_bytes = 0;
  for (const auto& v : g.values) value_bytes += v.bytes();
  r.metrics["figures"] = {{"macs", f.macs},
                          {"params", f.params},
                          {"weight_bytes", f.weight_bytes},
                          {"peak_activation_bytes", f.peak_activation_bytes},
                          {"state_bytes", f.state_bytes},
                          {"kernel_layers", f.kernel_layers},
                          {"host_layers", f.host_layers}};
  // Layers the backend cannot run fall back to the reference backend while they are a small
  // share of the work (workloads/executor.h); more than that, and the tier is unsupported here.
  const auto fb = workloads::plan_fallback(g, b, dev.index);
  if (!fb.unsupported.empty()) {
    stop(r, Status::unsupported, "unsupported: " + fb.unsupported);
    return false;
  }
  if (!fb.layers.empty())
    r.metrics["fallback"] = {{"layers", fb.layers.size()}, {"mac_share", fb.mac_share}};
  const double needs = 3.0 * static_cast<double>(f.weight_bytes) + static_cast<double>(value_bytes);
  const std::uint64_t has = o.memory_limit_bytes ? o.memory_limit_bytes : mem_available_bytes();
  if (!fits(needs, has)) {
    stop(r, Status::skipped,
         "does not fit: needs " + human_bytes(needs) + ", has " +
             human_bytes(static_cast<double>(has)));
    return false;
  }
  if (!fits_device_memory(dev, static_cast<double>(f.weight_bytes + value_bytes))) {
    stop(r, Status::skipped,
         "does not fit: needs " + human_bytes(static_cast<double>(f.weight_bytes + value_bytes)) +
             " of device memory, has " + human_bytes(static_cast<double>(dev.global_memory_bytes)));
    return false;
  }
  return true;
}

// Load: weights read cold then warm, the graph prepared twice (the backend's caches cold, then
// warm), weights uploaded, the first inference. Null executor when it stopped.
struct LoadedGraph {
  std::unique_ptr<Executor> ex;
  Tensor input;
  std::optional<PeakRss> window;            // from before loading
  std::optional<std::uint64_t> peak_added;  // of loading and one inference
};
LoadedGraph load_graph(ResultRecord& r, Backend& b, const DeviceInfo& dev, const Graph& g,
                       const WeightSource& ws, nlohmann::json load, const WorkloadOptions& o) {
  LoadedGraph lg;
  // Memory an earlier tier of this process freed is handed back to the system first (PeakRss):
  // else this tier's buffers reuse it without growing the RSS, and its peak reads low (a bf16
  // MobileNetV2 after two other tiers read 0.9 MB where 7 MB of weights alone are resident).
  lg.window.emplace();
  const auto stopped = [&](std::string message) {
    stop(r, Status::error, std::move(message));
    return LoadedGraph{};
  };
  auto cold = ws.load(true);
  if (!cold) return stopped(cold.error().message);
  load["read_cold_s"] = cold->seconds;
  cold->tensors.clear();
  auto warm = ws.load(false);
  if (!warm) return stopped(warm.error().message);
  load["read_warm_s"] = warm->seconds;
  load["read_bytes"] = warm->bytes;

  auto ex = std::make_unique<Executor>(g, std::move(warm->tensors), o.seed);
  auto p1 = ex->prepare(b, dev.index, o.threads);
  if (!p1) return stopped(p1.error().message);
  load["prepare_first_s"] = p1->seconds;
  load["prepare_first"] = details_json(p1->details);
  auto p2 = ex->prepare(b, dev.index, o.threads);  // the backend's caches are warm now
  if (!p2) return stopped(p2.error().message);
  load["prepare_warm_s"] = p2->seconds;
  load["prepare_warm"] = details_json(p2->details);
  r.prepare_s = p1->seconds;
  auto up = ex->upload_weights();
  if (!up) return stopped(up.error().message);
  load["upload_s"] = *up;
  r.metrics["execution"] = {{"config", ex->config()}, {"segments", ex->segments()}};
  lg.input = Executor::make_input(g, o.seed);
  auto first = ex->infer(lg.input);
  if (!first) return stopped(first.error().message);
  r.first_s = first->wall_s;
  r.metrics["execution"]["host_round_trips_per_inference"] = first->host_round_trips;
  r.metrics["execution"]["bytes_to_device_per_inference"] = first->bytes_to_device;
  r.metrics["execution"]["bytes_from_device_per_inference"] = first->bytes_from_device;
  load["first_inference_s"] = first->wall_s;
  r.metrics["load"] = load;
  // Peak RSS of loading and one inference, before validation loads its own copies.
  lg.peak_added = lg.window->added();
  lg.ex = std::move(ex);
  return lg;
}

// Validate (correct before fast): the validation graph on the reference and on b. The status
// (passed or mistrusted), or nullopt when it stopped.
std::optional<Status> validate_graph(ResultRecord& r, Backend& b, const DeviceInfo& dev,
                                     const Graph& g, const WeightSource& ws,
                                     const WorkloadOptions& o) {
  if (b.traits().reference) {
    r.metrics["validation"] = {{"scope", "the reference defines correctness"}};
    return Status::passed;
  }
  if (!o.validate) return Status::passed;
  auto v = validate(b, dev.index, ws, o);
  if (!v) {
    stop(r, Status::error, "validation: " + v.error().message);
    return std::nullopt;
  }
  r.max_rel_err = v->check.max_rel_err;
  r.metrics["validation"] = {{"scope", v->note},
                             {"rtol", graph_rtol(g.dtype)},
                             {"max_abs_err", v->check.max_abs_err},
                             {"max_rel_err", v->check.max_rel_err},
                             {"rel_l2_err", v->check.rel_l2_err},
                             {"mismatches", v->check.mismatches}};
  const Status status = v->check.status;
  if (status == Status::failed) {
    stop(r, status, "output differs from the reference: " + v->check.message);
    return std::nullopt;
  }
  if (status == Status::mistrusted) r.message = v->check.message;
  if (v->reduced) r.message += (r.message.empty() ? "" : "; ") + v->note;
  return status;
}

// Sample the steady state with the shared loop; the summary, throughput and the breakdown of
// each inference into kernels, transfers and host ops.
bool sample_graph(ResultRecord& r, Executor& ex, const Tensor& input, const Graph& g,
                  const WorkloadOptions& o) {
  std::vector<double> kernel_s, transfer_s, host_s;
  auto sampled = measure::sample(
      o.sampling,
      [&]() -> Result<void> {
        if (auto e = ex.infer(input); !e) return e.error();
        return {};
      },
      [&]() -> Result<double> {
        auto e = ex.infer(input);
        if (!e) return e.error();
        kernel_s.push_back(e->kernel_s), transfer_s.push_back(e->transfer_s),
            host_s.push_back(e->host_s);
        return e->wall_s;
      });
  if (!sampled) {
    stop(r, Status::error, sampled.error().message);
    return false;
  }
  const stats::Summary s = sampled->summary;
  const double wall = sampled->wall_s, other = sampled->other_cpu_share;
  const double ci_rel = measure::apply_summary(r, std::move(sampled.value()));
  if (s.median > 0) r.gflops = 2 * g.figures().macs / s.median * 1e-9;
  // Throughput of batched vision variants ("b8"): items per second at the median latency.
  if (s.median > 0 && g.variant.size() > 1 && g.variant[0] == 'b' &&
      std::all_of(g.variant.begin() + 1, g.variant.end(),
                  [](char c) { return c >= '0' && c <= '9'; }))
    r.metrics["throughput_items_per_s"] = std::stod(g.variant.substr(1)) / s.median;
  const double kernel_med = stats::quantile(kernel_s, 0.5);
  r.metrics["breakdown"] = {{"kernel_median_s", kernel_med},
                            {"transfer_median_s", stats::quantile(transfer_s, 0.5)},
                            {"host_ops_median_s", stats::quantile(host_s, 0.5)},
                            {"kernel_share", s.median > 0 ? kernel_med / s.median : 0.0}};
  r.metrics["sampling"] = {{"wall_s", wall},
                           {"outliers", s.outliers},
                           {"threads", o.threads},
                           {"ci_half_width_rel", ci_rel}};
  measure::record_contention(r, other);
  return true;
}

// The layer profile (profile_layers), after the timed samples so that timing the layers cannot
// change them: at least 3 and up to 20 more inferences (about a second) with every layer timed
// (Executor::time_layers); per layer, the median over them, and the mean: medians of 450
// layers add up to less than the median inference (SmolLM decode on oneDNN: 0.8 ms of 25 went
// to interrupts and stray slow runs that no single layer's median keeps), so a decomposition of
// an inference (validate-predictor's per-op table) takes the means, which add up. Layers folded
// into a kernel are charged to it and left out.
void profile_layers(ResultRecord& r, Executor& ex, const Tensor& input, const Graph& g) {
  const bool all_timed = ex.time_layers(true);
  std::vector<std::vector<double>> runs;
  std::vector<double> wall;
  const auto t0 = Clock::now();
  while (runs.size() < 20 && (runs.size() < 3 || measure::seconds_since(t0) < 1.0)) {
    auto e = ex.infer(input);
    if (!e) {
      ex.time_layers(false);
      r.metrics["layers"] = {{"error", e.error().message}};
      return;
    }
    runs.push_back(ex.layer_seconds());
    wall.push_back(e->wall_s);
  }
  ex.time_layers(false);
  nlohmann::json rows = nlohmann::json::array();
  double sum = 0, mean_sum = 0;
  std::vector<double> x(runs.size());
  const auto mean = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  for (std::size_t li = 0; li < g.layers.size(); ++li) {
    for (std::size_t k = 0; k < runs.size(); ++k) x[k] = li < runs[k].size() ? runs[k][li] : 0.0;
    if (std::all_of(x.begin(), x.end(), [](double v) { return v == 0; })) continue;
    const double med = stats::quantile(x, 0.5), avg = mean(x);
    const workloads::Layer& l = g.layers[li];
    sum += med, mean_sum += avg;
    rows.push_back({l.name,
                    l.problem ? std::string(l.problem->op_name())
                              : std::string(workloads::host_op_name(l.host)),
                    med, avg});
  }
  r.metrics["layers"] = {{"runs", runs.size()},
                         {"latency_median_s", stats::quantile(wall, 0.5)},
                         {"layers_sum_s", sum},
                         {"latency_mean_s", mean(wall)},
                         {"layers_mean_sum_s", mean_sum},
                         {"all_timed", all_timed},
                         {"columns", {"name", "op", "median_s", "mean_s"}},
                         {"rows", std::move(rows)}};
}

// Memory: what the backend holds, and the RSS the model added.
void record_memory(ResultRecord& r, const Executor& ex, const Graph& g, const LoadedGraph& lg) {
  const MemoryStats m = ex.memory();
  nlohmann::json mem = {{"device_bytes", m.device_bytes},
                        {"backend_host_bytes", m.host_bytes},
                        {"uploaded_bytes", m.uploaded_bytes},
                        {"weight_bytes", g.figures().weight_bytes},
                        {"rss_before_bytes", lg.window ? lg.window->before() : 0},
                        {"rss_after_bytes", proc_kb_field("/proc/self/status", "VmRSS")}};
  // With VmHWM reset before loading, HWM - RSS before is the peak the model added (weights read
  // twice, cold then warm: the cold copy is freed before the warm read).
  if (lg.peak_added) mem["peak_rss_added_bytes"] = *lg.peak_added;
  r.metrics["memory"] = mem;
}

// A graph on one device, phase by phase: admit, load, validate, sample, memory.
ResultRecord run_graph(ResultRecord r, Backend& b, const DeviceInfo& dev, const Graph& g,
                       const WeightSource& ws, nlohmann::json load, const WorkloadOptions& o) {
  if (!admit(r, b, dev, g, o)) return r;
  LoadedGraph lg = load_graph(r, b, dev, g, ws, std::move(load), o);
  if (!lg.ex) return r;
  const auto status = validate_graph(r, b, dev, g, ws, o);
  if (!status) return r;
  if (!sample_graph(r, *lg.ex, lg.input, g, o)) return r;
  if (o.profile_layers) profile_layers(r, *lg.ex, lg.input, g);
  record_memory(r, *lg.ex, g, lg);
  r.status = *status;
  return r;
}

}  // namespace

Result<void> check_user_weights(const std::vector<workloads::WorkloadName>& wl,
                                const std::string& path) {
  if (wl.empty()) return make_error(path + ": no model tier selected to use it (--workload)");
  for (const auto& w : wl) {
    workloads::BuildOptions bo;
    bo.variant = w.variant;
    auto g = workloads::build_tier(w.tier, w.dtype, bo);
    if (!g) return g.error();
    if (auto c = workloads::check_weights_file(*g, path); !c) return c.error();
  }
  return {};
}

std::string human_bytes(double b) {
  const char* u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (b >= 1024 && i < 4) b /= 1024, ++i;
  char s[32];
  std::snprintf(s, sizeof s, "%.1f %s", b, u[i]);
  return s;
}

std::uint64_t mem_available_bytes() {
  return proc_kb_field("/proc/meminfo", "MemAvailable");
}

namespace {

// Runs `one` on every device of `b` (an unavailable backend: one record saying why), storing
// each record as soon as it is measured.
std::vector<ResultRecord> for_each_device(
    Store& store, std::int64_t run_id, Backend& b, const workloads::WorkloadName& w,
    const std::function<ResultRecord(const DeviceInfo&)>& one,
    const std::function<void(const ResultRecord&)>& on_result) {
  std::vector<ResultRecord> out;
  const auto emit = [&](ResultRecord r) {
    r.run_id = run_id;
    if (auto id = store.add_result(r); id)
      r.id = id.value();
    else
      r.message +=
          (r.message.empty() ? "" : "; ") + std::string("not stored: ") + id.error().message;
    if (on_result) on_result(r);
    out.push_back(std::move(r));
  };
  const Availability a = b.availability();
  std::vector<DeviceInfo> devices;
  if (a.available) devices = b.devices();
  if (!a.available || devices.empty()) {
    emit(fail(new_record(b, {}, w), Status::unavailable, a.available ? "no devices" : a.reason));
    return out;
  }
  for (const auto& dev : devices) {
    try {
      emit(one(dev));
    } catch (const std::exception& e) {
      emit(fail(new_record(b, dev, w), Status::error, std::string("exception: ") + e.what()));
    }
  }
  return out;
}

}  // namespace

std::vector<ResultRecord> run_workload(Store& store, std::int64_t run_id, Backend& b,
                                       const workloads::WorkloadName& w, const WorkloadOptions& o,
                                       const std::function<void(const ResultRecord&)>& on_result) {
  return for_each_device(
      store, run_id, b, w, [&](const DeviceInfo& dev) { return run_one(b, dev, w, o); }, on_result);
}

std::vector<ResultRecord> run_external_model(
    Store& store, std::int64_t run_id, Backend& b, const ExternalModel& m, const WorkloadOptions& o,
    const std::function<void(const ResultRecord&)>& on_result) {
  WeightSource ws;
  ws.load = m.load;
  // No reduced configuration exists for a user's model: validation runs the whole graph.
  ws.validation = [&]() -> Result<std::pair<Graph, std::vector<Tensor>>> {
    auto wt = m.load(false);
    if (!wt) return wt.error();
    return std::make_pair(m.graph, std::move(wt->tensors));
  };
  return for_each_device(
      store, run_id, b, m.name,
      [&](const DeviceInfo& dev) {
        ResultRecord r = new_record(b, dev, m.name);
        r.metrics["model"] = m.info;
        nlohmann::json load = nlohmann::json::object();
        load["weights_file"] = m.name.tier;  // the content hash; the path stays local
        return run_graph(std::move(r), b, dev, m.graph, ws, std::move(load), o);
      },
      on_result);
}

const std::vector<WorkloadSuite>& workload_suites() {
  static const std::vector<WorkloadSuite> v = [] {
    WorkloadSuite quick{"quick",
                        "representative model tiers, minutes on a 2-core machine",
                        {"person-detect:b1:f32", "person-detect:b1:int8", "mobilenetv2:b1:f32",
                         "llm-135m:decode:kv128:f32"}};
    WorkloadSuite full{"full", "every tier, variant and dtype (llm-1b needs ~8 GiB of memory)", {}};
    for (const auto& t : workloads::tiers())
      for (const auto& var : t.variants)
        for (const auto& d : t.dtypes) full.workloads.push_back(t.name + ":" + var + ":" + d);
    return std::vector<WorkloadSuite>{quick, full};
  }();
  return v;
}

const WorkloadSuite* find_workload_suite(std::string_view name) {
  for (const auto& s : workload_suites())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace tb

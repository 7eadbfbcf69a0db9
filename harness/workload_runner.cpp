#include "workload_runner.h"
#include <algorithm>

#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "executor.h"
#include "reference/reference_backend.h"
#include "stats.h"
#include "weights.h"

namespace tb {

namespace {

using Clock = std::chrono::steady_clock;
using workloads::Executor;
using workloads::Graph;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A field of /proc/self/status or /proc/meminfo, in bytes (the files print kB).
std::uint64_t proc_kb_field(const char* file, const std::string& key) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream is(line.substr(key.size() + 1));
      std::uint64_t kb = 0;
      is >> kb;
      return kb * 1024;
    }
  return 0;
}

// Resets VmHWM to the current RSS (Linux: "5" to clear_refs); false when not permitted.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

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

ResultRecord fail(ResultRecord r, Status s, std::string message) {
  r.status = std::string(status_name(s));
  r.message = std::move(message);
  return r;
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
    auto full = workloads::build_tier(w.tier, w.dtype, {});  // the default variant's weights
    if (!full) return fail(std::move(r), Status::error, full.error().message);
    const auto t0 = Clock::now();
    auto made = workloads::ensure_weights_file(*full, path, o.seed);
    if (!made) return fail(std::move(r), Status::error, "weights: " + made.error().message);
    if (*made) load["generate_weights_s"] = since(t0);
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

ResultRecord run_graph(ResultRecord r, Backend& b, const DeviceInfo& dev, const Graph& g,
                       const WeightSource& ws, nlohmann::json load, const WorkloadOptions& o) {
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

  // Every kernel layer must be supported.
  for (const auto& l : g.layers)
    if (l.problem)
      if (auto s = b.supports(*l.problem, dev.index); !s.supported)
        return fail(std::move(r), Status::unsupported,
                    "unsupported: " + l.problem->str() + ": " + s.reason);

  // Fit: the host holds the weights once plus the backend's copy (oneDNN may keep a plain and a
  // reordered one), and every value; a device backend needs weights and values in device memory.
  const double needs = 3.0 * static_cast<double>(f.weight_bytes) + static_cast<double>(value_bytes);
  const std::uint64_t has = o.memory_limit_bytes ? o.memory_limit_bytes : mem_available_bytes();
  if (has > 0 && needs > static_cast<double>(has))
    return fail(std::move(r), Status::skipped,
                "does not fit: needs " + human_bytes(needs) + ", has " +
                    human_bytes(static_cast<double>(has)));
  if (dev.type != "cpu" && dev.global_memory_bytes > 0 &&
      static_cast<double>(f.weight_bytes + value_bytes) >
          static_cast<double>(dev.global_memory_bytes))
    return fail(
        std::move(r), Status::skipped,
        "does not fit: needs " + human_bytes(static_cast<double>(f.weight_bytes + value_bytes)) +
            " of device memory, has " + human_bytes(static_cast<double>(dev.global_memory_bytes)));

  const std::uint64_t rss0 = proc_kb_field("/proc/self/status", "VmRSS");
  const bool hwm_reset = reset_peak_rss();
  auto cold = ws.load(true);
  if (!cold) return fail(std::move(r), Status::error, cold.error().message);
  load["read_cold_s"] = cold->seconds;
  cold->tensors.clear();
  auto warm = ws.load(false);
  if (!warm) return fail(std::move(r), Status::error, warm.error().message);
  load["read_warm_s"] = warm->seconds;
  load["read_bytes"] = warm->bytes;

  Executor ex(g, std::move(warm->tensors), o.seed);
  auto p1 = ex.prepare(b, dev.index, o.threads);
  if (!p1) return fail(std::move(r), Status::error, p1.error().message);
  load["prepare_first_s"] = p1->seconds;
  load["prepare_first"] = details_json(p1->details);
  auto p2 = ex.prepare(b, dev.index, o.threads);  // the backend's caches are warm now
  if (!p2) return fail(std::move(r), Status::error, p2.error().message);
  load["prepare_warm_s"] = p2->seconds;
  load["prepare_warm"] = details_json(p2->details);
  r.prepare_s = p1->seconds;
  auto up = ex.upload_weights();
  if (!up) return fail(std::move(r), Status::error, up.error().message);
  load["upload_s"] = *up;
  r.metrics["execution"] = {{"config", ex.config()}, {"segments", ex.segments()}};
  const Tensor input = Executor::make_input(g, o.seed);
  auto first = ex.infer(input);
  if (!first) return fail(std::move(r), Status::error, first.error().message);
  r.first_s = first->wall_s;
  r.metrics["execution"]["host_round_trips_per_inference"] = first->host_round_trips;
  r.metrics["execution"]["bytes_to_device_per_inference"] = first->bytes_to_device;
  r.metrics["execution"]["bytes_from_device_per_inference"] = first->bytes_from_device;
  load["first_inference_s"] = first->wall_s;
  r.metrics["load"] = load;
  // Peak RSS of loading and one inference, before validation loads its own copies.
  const std::uint64_t hwm = proc_kb_field("/proc/self/status", "VmHWM");

  // Correct before fast.
  Status status = Status::passed;
  if (o.validate && !b.traits().reference) {
    auto v = validate(b, dev.index, ws, o);
    if (!v) return fail(std::move(r), Status::error, "validation: " + v.error().message);
    r.max_rel_err = v->check.max_rel_err;
    r.metrics["validation"] = {{"scope", v->note},
                               {"rtol", graph_rtol(g.dtype)},
                               {"max_abs_err", v->check.max_abs_err},
                               {"max_rel_err", v->check.max_rel_err},
                               {"rel_l2_err", v->check.rel_l2_err},
                               {"mismatches", v->check.mismatches}};
    status = v->check.status;
    if (status == Status::failed)
      return fail(std::move(r), status, "output differs from the reference: " + v->check.message);
    if (status == Status::mistrusted) r.message = v->check.message;
    if (v->reduced) r.message += (r.message.empty() ? "" : "; ") + v->note;
  } else if (b.traits().reference) {
    r.metrics["validation"] = {{"scope", "the reference defines correctness"}};
  }

  // Steady state.
  const SamplingOptions& so = o.sampling;
  for (int i = 0; i < so.warmup; ++i)
    if (auto e = ex.infer(input); !e) return fail(std::move(r), Status::error, e.error().message);
  std::vector<double> kernel_s, transfer_s, host_s;
  const auto t_s = Clock::now();
  while (static_cast<int>(r.samples.size()) < so.max_reps) {
    auto e = ex.infer(input);
    if (!e) return fail(std::move(r), Status::error, e.error().message);
    r.samples.push_back(e->wall_s);
    kernel_s.push_back(e->kernel_s), transfer_s.push_back(e->transfer_s),
        host_s.push_back(e->host_s);
    const auto n = static_cast<int>(r.samples.size());
    if (n >= so.min_reps) {
      const double med = stats::quantile(r.samples, 0.5);
      const auto ci = stats::median_ci(r.samples, 0.95);
      if (med > 0 && (ci.hi - ci.lo) / 2 <= so.target_ci * med) break;
      if (since(t_s) >= so.max_time_s) break;
    } else if (since(t_s) >= so.max_time_s * 4) {
      break;
    }
  }
  const auto s = stats::summarize(r.samples);
  const auto ci = stats::median_ci(r.samples, 0.95);
  r.n = s.n;
  r.median_s = s.median, r.mean_s = s.mean, r.min_s = s.min, r.max_s = s.max;
  r.p10_s = s.p10, r.p90_s = s.p90, r.p99_s = s.p99, r.stddev_s = s.stddev, r.cv = s.cv;
  r.ci_lo_s = ci.lo, r.ci_hi_s = ci.hi;
  if (s.median > 0) r.gflops = 2 * f.macs / s.median * 1e-9;
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
  r.metrics["sampling"] = {
      {"wall_s", since(t_s)},
      {"outliers", s.outliers},
      {"threads", o.threads},
      {"ci_half_width_rel", s.median > 0 ? (ci.hi - ci.lo) / 2 / s.median : 0.0}};
  const MemoryStats m = ex.memory();
  nlohmann::json mem = {{"device_bytes", m.device_bytes},
                        {"backend_host_bytes", m.host_bytes},
                        {"uploaded_bytes", m.uploaded_bytes},
                        {"weight_bytes", f.weight_bytes},
                        {"rss_before_bytes", rss0},
                        {"rss_after_bytes", proc_kb_field("/proc/self/status", "VmRSS")}};
  // With VmHWM reset before loading, HWM - RSS before is the peak the model added (weights read
  // twice, cold then warm: the cold copy is freed before the warm read).
  if (hwm_reset && hwm >= rss0) mem["peak_rss_added_bytes"] = hwm - rss0;
  r.metrics["memory"] = mem;
  r.status = std::string(status_name(status));
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

#include "runner.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "compare.h"
#include "measure.h"
#include "perf_counters.h"
#include "probe_reader.h"
#include "reference/reference_backend.h"
#include "stats.h"
#include "workload_runner.h"

namespace tb {

namespace {

using measure::Clock;
using measure::fail;
using measure::fits;
using measure::fits_device_memory;
using measure::seconds_since;
using measure::stop;

ResultRecord base_record(const Backend& b, const DeviceInfo& dev, const Problem& p) {
  ResultRecord r;
  r.kind = "kernel";
  r.name = p.str();
  r.backend = std::string(b.name());
  r.device = dev.name;
  r.dtype = std::string(dtype_name(p.dtype));
  return r;
}

// TB_TEST_SLOWDOWN (see runner.h): the extra fraction for this benchmark, 0 when none.
double injected_slowdown(const std::string& key) {
  const char* v = std::getenv("TB_TEST_SLOWDOWN");
  if (!v) return 0;
  const std::string spec(v);
  const auto eq = spec.rfind('=');
  if (eq == std::string::npos) return 0;
  if (!compare::glob_match(spec.substr(0, eq), key)) return 0;
  return std::strtod(spec.c_str() + eq + 1, nullptr);
}

// Test-only fault injection, documented in runner.h: whether TB_TEST_FAULT is KIND:<backend>.
bool test_fault(std::string_view kind, std::string_view backend) {
  const char* f = std::getenv("TB_TEST_FAULT");
  return f && std::string_view(f) == std::string(kind) + ":" + std::string(backend);
}

// Busy work for `seconds`: real instructions on the CPU, not a sleep, so that it behaves like
// a slower kernel (it competes for the core and shows in CPU time).
void burn(double seconds) {
  const auto t0 = Clock::now();
  volatile double x = 1.0;
  while (seconds_since(t0) < seconds)
    for (int i = 0; i < 256; ++i) x = x * 1.0000001 + 1e-9;
}

// Load: prepare (timed: the load cost), upload, first execution (timed). Null when it stopped.
struct Loaded {
  std::unique_ptr<PreparedKernel> kernel;
  double upload_s = 0;
};
Loaded load(ResultRecord& r, Backend& b, const DeviceInfo& dev, const Problem& p,
            std::span<const Tensor> inputs, const KernelRunOptions& opts) {
  PrepareOptions po;
  po.device = dev.index;
  po.threads = opts.threads;
  const auto t_prep = Clock::now();
  auto prepared = b.prepare(p, po);
  r.prepare_s = seconds_since(t_prep);
  if (!prepared) {
    stop(r, Status::error, "prepare: " + prepared.error().message);
    return {};
  }
  Loaded l{std::move(prepared.value()), 0};
  const auto t_up = Clock::now();
  if (auto u = l.kernel->upload(inputs); !u) {
    stop(r, Status::error, "upload: " + u.error().message);
    return {};
  }
  l.upload_s = seconds_since(t_up);
  auto first = l.kernel->execute();
  if (!first) {
    stop(r, Status::error, "execute: " + first.error().message);
    return {};
  }
  r.first_s = first->seconds;
  r.timing_source = std::string(timing_source_name(first->source));
  return l;
}

// Validate: the first execution's outputs against the reference (none for the reference
// itself). The check's status (passed or mistrusted), or nullopt when it stopped.
std::optional<Status> validate(ResultRecord& r, PreparedKernel& k, const Backend& b,
                               const Problem& p, std::span<const Tensor> ref) {
  auto out = make_outputs(p);
  if (auto d = k.download(out); !d) {
    stop(r, Status::error, "download: " + d.error().message);
    return std::nullopt;
  }
  if (test_fault("wrong", b.name()))  // a backend computing wrong results: validation must fail
    for (auto& t : out) std::memset(t.raw(), 0x7f, t.bytes());
  if (ref.empty()) return Status::passed;
  const Check c = check_outputs(out, ref, tolerance_for(p));
  r.max_rel_err = c.max_rel_err;
  r.metrics["check"] = {{"max_abs_err", c.max_abs_err},
                        {"max_rel_err", c.max_rel_err},
                        {"rel_l2_err", c.rel_l2_err},
                        {"mismatches", c.mismatches},
                        {"rtol", tolerance_for(p).rtol}};
  if (c.status == Status::failed) {
    stop(r, Status::failed, c.message);
    return std::nullopt;
  }
  if (c.status == Status::mistrusted) r.message = c.message;
  return c.status;
}

// Sample (only after the check passed): the shared loop, with hardware counters per sample and
// the test-only injected slowdown; the summary, throughput and sampling metrics.
bool sample(ResultRecord& r, PreparedKernel& k, const Problem& p, const KernelRunOptions& opts) {
  const double slowdown = injected_slowdown(r.name + "@" + r.backend);
  std::optional<perf::PerfCounters> pc;
  if (opts.counters) pc.emplace(perf::Scope::process);
  std::vector<double> instructions, cycles;
  const auto execute = [&]() -> Result<double> {
    auto e = k.execute();
    if (!e) return make_error("execute: " + e.error().message);
    return e->seconds;
  };
  auto sampled = measure::sample(
      opts.sampling,
      [&]() -> Result<void> {
        if (auto e = execute(); !e) return e.error();
        return {};
      },
      [&]() -> Result<double> {
        if (pc && pc->available()) pc->start();
        auto t = execute();
        if (!t) return t;
        if (slowdown > 0) {
          const auto t0 = Clock::now();
          burn(*t * slowdown);
          *t += seconds_since(t0);
        }
        if (pc && pc->available()) {
          pc->stop();
          const perf::Reading rd = pc->read();
          if (rd.available) {
            instructions.push_back(static_cast<double>(rd.instructions));
            cycles.push_back(static_cast<double>(rd.cycles));
          }
        }
        return t;
      });
  if (!sampled) {
    stop(r, Status::error, sampled.error().message);
    return false;
  }
  const stats::Summary s = sampled->summary;
  const double wall = sampled->wall_s, cpu = sampled->cpu_s, other = sampled->other_cpu_share;
  const double ci_rel = measure::apply_summary(r, std::move(sampled.value()));
  if (s.median > 0) {
    r.gflops = p.flops() / s.median * 1e-9;
    r.gbps = p.min_bytes() / s.median * 1e-9;
  }
  r.metrics["sampling"] = {{"wall_s", wall},
                           {"cpu_s", cpu},
                           {"outliers", s.outliers},
                           {"ci_half_width_rel", ci_rel},
                           {"target_ci", opts.sampling.target_ci},
                           {"threads", opts.threads}};
  if (!instructions.empty()) {
    r.metrics["counters"] = {{"available", true},
                             {"instructions_median", stats::quantile(instructions, 0.5)},
                             {"cycles_median", stats::quantile(cycles, 0.5)},
                             {"instructions_samples", instructions}};
  } else if (pc) {
    r.metrics["counters"] = {{"available", false}, {"reason", pc->reason()}};
  }
  if (slowdown > 0) r.metrics["injected_slowdown"] = slowdown;
  if (const std::string noisy = stats::noise_problem(s); !noisy.empty()) {
    r.metrics["noise"] = noisy;
    if (r.message.empty()) r.message = "too noisy to gate on: " + noisy;
  }
  measure::record_contention(r, other);
  return true;
}

// What the kernel holds and cost to load, its configuration, and the share of the probed peak.
void describe(ResultRecord& r, PreparedKernel& k, const DeviceInfo& dev, const Problem& p,
              double upload_s, const KernelRunOptions& opts) {
  const MemoryStats m = k.memory();
  r.metrics["memory"] = {{"device_bytes", m.device_bytes},
                         {"host_bytes", m.host_bytes},
                         {"uploaded_bytes", m.uploaded_bytes}};
  r.metrics["load"] = {
      {"prepare_s", *r.prepare_s}, {"upload_s", upload_s}, {"first_s", *r.first_s}};
  for (const auto& [key, v] : k.details()) r.metrics["load"][key] = v;
  if (const auto c = k.kernel_config())
    r.metrics["config"] = {{"name", c->name}, {"source", c->source}};
  if (opts.peak_gflops && r.gflops) {
    if (const auto peak = opts.peak_gflops(dev, p.dtype); peak && *peak > 0) {
      r.metrics["peak_gflops"] = *peak;
      r.metrics["pct_peak"] = 100.0 * *r.gflops / *peak;
    }
  }
}

// The body of run_kernel, phase by phase; may throw (backend libraries such as oneDNN report
// errors that way).
ResultRecord run_kernel_unguarded(Backend& b, const DeviceInfo& dev, const Problem& p,
                                  std::span<const Tensor> inputs, std::span<const Tensor> ref,
                                  const KernelRunOptions& opts) {
  ResultRecord r = base_record(b, dev, p);
  if (auto s = b.supports(p, dev.index); !s.supported)
    return fail(std::move(r), Status::unsupported, s.reason);
  Loaded l = load(r, b, dev, p, inputs, opts);
  if (!l.kernel) return r;
  const auto checked = validate(r, *l.kernel, b, p, ref);
  if (!checked) return r;
  if (!sample(r, *l.kernel, p, opts)) return r;
  describe(r, *l.kernel, dev, p, l.upload_s, opts);
  r.status = *checked;
  return r;
}

// crash-second strikes as the backend starts its second problem, before it stores anything.
void inject_test_fault_in_item(std::string_view backend) {
  if (test_fault("crash-second", backend)) crash_for_test();
}

// crash, hang and oom strike right after the backend's first stored result.

void inject_test_fault(std::string_view backend) {
  if (test_fault("crash", backend)) crash_for_test();
  if (test_fault("hang", backend))
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  if (test_fault("oom", backend)) {
    // Exceed a memory limit: the address space capped 256 MiB above its current size, then
    // 1 GiB asked for. The allocation fails and the process aborts, as under a cgroup limit.
    rlimit lim{};
    getrlimit(RLIMIT_AS, &lim);
    std::ifstream status("/proc/self/status");
    std::uint64_t vm_kb = 0;
    for (std::string key; status >> key;)
      if (key == "VmSize:" && status >> vm_kb) break;
    lim.rlim_cur = (vm_kb << 10) + (std::uint64_t{256} << 20);
    setrlimit(RLIMIT_AS, &lim);
    std::vector<char> hog(std::size_t{1} << 30, 1);
    const volatile char touched = hog.back();  // keeps the allocation from being elided
    (void)touched;
    std::abort();  // not reached: the allocation above cannot succeed
  }
}

// Why `p` cannot run on `dev`, or "" when it fits. The host holds the inputs, the reference's
// outputs and the backend's (about twice the compulsory bytes); a device holds inputs and outputs.
std::string does_not_fit(const Problem& p, const DeviceInfo& dev, std::uint64_t host_has) {
  const double bytes = p.min_bytes();
  if (!fits(2 * bytes, host_has))
    return "needs " + human_bytes(2 * bytes) + ", the host has " +
           human_bytes(static_cast<double>(host_has)) + " available";
  if (!fits_device_memory(dev, bytes))
    return "needs " + human_bytes(bytes) + ", the device has " +
           human_bytes(static_cast<double>(dev.global_memory_bytes));
  return "";
}

}  // namespace

void crash_for_test() {
  std::signal(SIGSEGV, SIG_DFL);
  sigset_t segv;
  sigemptyset(&segv);
  sigaddset(&segv, SIGSEGV);
  pthread_sigmask(SIG_UNBLOCK, &segv, nullptr);
  std::raise(SIGSEGV);
  std::abort();  // not reached: SIGSEGV's default action ends the process
}

ResultRecord run_kernel(Backend& b, const DeviceInfo& dev, const Problem& p,
                        std::span<const Tensor> inputs, std::span<const Tensor> ref,
                        const KernelRunOptions& opts) {
  try {
    return run_kernel_unguarded(b, dev, p, inputs, ref, opts);
  } catch (const std::exception& e) {
    return fail(base_record(b, dev, p), Status::error, std::string("exception: ") + e.what());
  } catch (...) {
    return fail(base_record(b, dev, p), Status::error, "unknown exception");
  }
}

std::function<std::optional<double>(const DeviceInfo&, DType)> peak_lookup_from_probe(
    std::string backend, nlohmann::json report) {
  // A backend whose devices the probe lists under "accelerators" is bounded by their API peak.
  const BackendTraits* traits = find_backend_traits(backend);
  std::string probe_key = traits ? std::string(traits->probe_key) : std::string();
  return [probe_key = std::move(probe_key), report = std::move(report)](
             const DeviceInfo& dev, DType dt) -> std::optional<double> {
    const ProbeReader probe(report);
    if (!probe_key.empty()) {
      if (dt != DType::f32) return std::nullopt;
      for (const auto& d : probe.accelerator_devices(probe_key))
        if (d.name == dev.name && d.peak_f32_gflops_max) return d.peak_f32_gflops_max;
      return std::nullopt;
    }
    PeakClass c;
    switch (dt) {
      case DType::f32:
        c = PeakClass::f32;
        break;
      case DType::bf16:
        c = PeakClass::bf16;
        break;
      case DType::s8:
      case DType::u8:
        c = PeakClass::int8;
        break;
      default:
        return std::nullopt;
    }
    // The first supported ISA's best trial, single or all threads: the ceiling this device
    // showed it can reach.
    for (const char* k : peak_keys(c))
      if (const auto f = probe.peak(k); f && f->supported) {
        const double m = std::max(f->all_threads_max.value_or(0), f->single_thread_max.value_or(0));
        return m > 0 ? std::optional<double>(m) : std::nullopt;
      }
    return std::nullopt;
  };
}

int run_backend(Store& store, std::int64_t run_id, Backend& b, std::span<const Problem> problems,
                const KernelRunOptions& opts,
                const std::function<void(const ResultRecord&)>& on_result) {
  int failed = 0;
  const auto emit = [&](ResultRecord r) {
    r.run_id = run_id;
    if (auto id = store.add_result(r); id)
      r.id = id.value();
    else
      r.message +=
          (r.message.empty() ? "" : "; ") + std::string("not stored: ") + id.error().message;
    if (r.status == Status::failed || r.status == Status::error) ++failed;
    if (on_result) on_result(r);
    inject_test_fault(b.name());
  };

  const Availability a = b.availability();
  std::vector<DeviceInfo> devices;
  if (a.available) devices = b.devices();
  if (!a.available || devices.empty()) {
    for (const auto& p : problems) {
      ResultRecord r;
      r.name = p.str();
      r.backend = std::string(b.name());
      r.dtype = std::string(dtype_name(p.dtype));
      r.status = Status::unavailable;
      r.message = a.available ? "no devices" : a.reason;
      emit(std::move(r));
    }
    return failed;
  }

  const bool is_reference = b.traits().reference;
  std::vector<const Problem*> order;
  std::mt19937_64 shuffle_rng(opts.seed);
  for (int rep = 0; rep < std::max(1, opts.repetitions); ++rep) {
    for (const auto& p : problems) order.push_back(&p);
    if (opts.interleave)
      std::shuffle(order.end() - static_cast<std::ptrdiff_t>(problems.size()), order.end(),
                   shuffle_rng);
  }
  const std::uint64_t host_has =
      opts.memory_limit_bytes ? opts.memory_limit_bytes : mem_available_bytes();
  int started = 0;
  for (const Problem* pp : order) {
    const Problem& p = *pp;
    if (opts.on_start) opts.on_start(p.str());
    if (++started == 2) inject_test_fault_in_item(b.name());
    // Too large for this machine: skipped with what it needs, before anything is allocated.
    std::vector<const DeviceInfo*> fit;
    for (const auto& dev : devices)
      if (auto why = does_not_fit(p, dev, host_has); why.empty())
        fit.push_back(&dev);
      else
        emit(fail(base_record(b, dev, p), Status::skipped, why));
    if (fit.empty()) continue;
    // A problem the reference does not compute (softmax:...:s8) cannot be validated, so it is
    // not timed: unsupported, with the backend's own reason where it has one.
    if (auto rs = reference_supports(p); !rs.supported) {
      for (const DeviceInfo* dev : fit) {
        const Support s = b.supports(p, dev->index);
        emit(fail(base_record(b, *dev, p), Status::unsupported,
                  s.supported ? "no reference to validate against: " + rs.reason : s.reason));
      }
      continue;
    }
    const auto inputs = make_inputs(p, opts.seed);
    std::vector<Tensor> ref;
    if (!is_reference) {
      ref = make_outputs(p);
      if (auto e = reference_compute(p, inputs, ref); !e) {
        for (const DeviceInfo* dev : fit) {
          ResultRecord r = base_record(b, *dev, p);
          emit(fail(std::move(r), Status::error, "reference: " + e.error().message));
        }
        continue;
      }
    }
    for (const DeviceInfo* dev : fit) emit(run_kernel(b, *dev, p, inputs, ref, opts));
  }
  return failed;
}

}  // namespace tb

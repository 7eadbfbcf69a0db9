// tierbench OpenCL GEMM vs CLBlast sgemm on the same OpenCL device, f32, 1024^3 and 2048^3.
//
//   bench_opencl_gemm [--tune | --tune-quick] [google-benchmark flags]
//
// Both are timed on the host clock (enqueue .. clFinish) on the same queue; tierbench's A and B are
// packed once in upload() (pack_s, reported) as CLBlast's are not, so "tierbench+pack" is shown
// too. Before timing, tierbench's kernel is checked against the reference on an odd shape and its
// output at each timed size is compared with CLBlast's. A summary prints medians, spread and
// the tierbench / CLBlast ratio, then a paired comparison (tierbench and CLBlast alternated call by
// call, so that both see the same load on a shared machine: the ratio per pair, median and
// range), then the first-call cost with an empty and a warm PoCL kernel cache (child processes
// with POCL_CACHE_DIR pointing at a fresh directory).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "kernels.h"
#include "opencl/opencl_internal.h"
#include "opencl/opencl_tune.h"
#include "reference/reference_backend.h"

#ifdef TB_HAVE_CLBLAST
#include <clblast_c.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;
std::map<std::string, std::vector<double>> g_gflops;  // per benchmark name, one per iteration
std::map<std::string, double> g_notes;
std::map<int, std::vector<float>> g_tb_out;

std::shared_ptr<tb::ocl::DeviceCtx> device() {
  static auto d = tb::ocl::open_device(0);
  return d.ok() ? d.value() : nullptr;
}

void BM_tierbench(benchmark::State& st) {
  const int n = static_cast<int>(st.range(0));
  auto d = device();
  if (!d) return st.SkipWithError("no OpenCL device");
  const tb::Problem p = tb::make_gemm(n, n, n);
  const auto in = tb::make_inputs(p, 5);
  auto k = tb::ocl::prepare_gemm(d, p, tb::ocl::select_gemm_config(*d));
  if (!k) return st.SkipWithError(k.error().message.c_str());
  if (auto r = k.value()->upload(in); !r) return st.SkipWithError(r.error().message.c_str());
  if (auto r = k.value()->execute(); !r) return st.SkipWithError(r.error().message.c_str());
  auto out = tb::make_outputs(p);
  if (auto r = k.value()->download(out); !r) return st.SkipWithError(r.error().message.c_str());
  g_tb_out[n].assign(out[0].data<float>(), out[0].data<float>() + out[0].numel());
  auto& v = g_gflops["tierbench/" + std::to_string(n)];
  // Host clock around execute() (enqueue .. finish), as for CLBlast; the profiling-event time
  // of the same runs is kept as a counter.
  double ev_sum = 0;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    auto t = k.value()->execute();
    if (!t) return st.SkipWithError(t.error().message.c_str());
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    st.SetIterationTime(s);
    ev_sum += t->seconds;
    v.push_back(p.flops() / s * 1e-9);
  }
  st.counters["event_ms"] = benchmark::Counter(ev_sum * 1e3, benchmark::Counter::kAvgIterations);
  for (const auto& [name, val] : k.value()->details())
    g_notes[name + "/" + std::to_string(n)] = val;
  st.counters["GFLOP/s"] =
      benchmark::Counter(p.flops(), benchmark::Counter::kIsIterationInvariantRate);
}

#ifdef TB_HAVE_CLBLAST
void BM_clblast(benchmark::State& st) {
  const int n = static_cast<int>(st.range(0));
  auto d = device();
  if (!d) return st.SkipWithError("no OpenCL device");
  const tb::Problem p = tb::make_gemm(n, n, n);
  const auto in = tb::make_inputs(p, 5);
  const std::size_t bytes = static_cast<std::size_t>(n) * n * sizeof(float);
  cl_int err = CL_SUCCESS;
  tb::ocl::Mem a(clCreateBuffer(d->context.get(), CL_MEM_READ_WRITE, bytes, nullptr, &err));
  tb::ocl::Mem b(clCreateBuffer(d->context.get(), CL_MEM_READ_WRITE, bytes, nullptr, &err));
  tb::ocl::Mem c(clCreateBuffer(d->context.get(), CL_MEM_READ_WRITE, bytes, nullptr, &err));
  if (err != CL_SUCCESS) return st.SkipWithError("clCreateBuffer failed");
  cl_command_queue q = d->queue.get();
  clEnqueueWriteBuffer(q, a.get(), CL_TRUE, 0, bytes, in[0].raw(), 0, nullptr, nullptr);
  clEnqueueWriteBuffer(q, b.get(), CL_TRUE, 0, bytes, in[1].raw(), 0, nullptr, nullptr);
  auto run = [&](double* s) -> bool {
    // Host clock around enqueue .. clFinish: CLBlast may enqueue several kernels (padding,
    // transposes) and its event covers only the last one.
    const auto t0 = Clock::now();
    const CLBlastStatusCode rc =
        CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n, n, n, 1.0f,
                     a.get(), 0, n, b.get(), 0, n, 0.0f, c.get(), 0, n, &q, nullptr);
    if (rc != CLBlastSuccess) return false;
    if (clFinish(q) != CL_SUCCESS) return false;
    *s = std::chrono::duration<double>(Clock::now() - t0).count();
    return true;
  };
  double s = 0;
  if (!run(&s)) return st.SkipWithError("CLBlastSgemm failed");
  // Cross-check: CLBlast and tierbench must agree on the same inputs.
  if (auto it = g_tb_out.find(n); it != g_tb_out.end()) {
    std::vector<float> cb(static_cast<std::size_t>(n) * n);
    clEnqueueReadBuffer(q, c.get(), CL_TRUE, 0, bytes, cb.data(), 0, nullptr, nullptr);
    double maxabs = 0, maxref = 0;
    for (std::size_t i = 0; i < cb.size(); ++i) {
      maxabs = std::max(maxabs, static_cast<double>(std::fabs(cb[i] - it->second[i])));
      maxref = std::max(maxref, static_cast<double>(std::fabs(cb[i])));
    }
    g_notes["max_rel_diff_vs_clblast/" + std::to_string(n)] = maxabs / maxref;
    if (maxabs / maxref > 1e-4) return st.SkipWithError("tierbench and CLBlast disagree");
  }
  auto& v = g_gflops["clblast/" + std::to_string(n)];
  for (auto _ : st) {
    if (!run(&s)) return st.SkipWithError("CLBlastSgemm failed");
    st.SetIterationTime(s);
    v.push_back(p.flops() / s * 1e-9);
  }
  st.counters["GFLOP/s"] =
      benchmark::Counter(p.flops(), benchmark::Counter::kIsIterationInvariantRate);
}
#endif

#ifdef TB_HAVE_CLBLAST
// Paired: per pair, the median of 3 tierbench calls and one CLBlast call, back to back (host
// clock, enqueue .. finish, as above). Prints the per-pair speed-up: median [min, max].
void paired_report(int n, int pairs) {
  auto d = device();
  if (!d) return;
  const tb::Problem p = tb::make_gemm(n, n, n);
  const auto in = tb::make_inputs(p, 5);
  auto k = tb::ocl::prepare_gemm(d, p, tb::ocl::select_gemm_config(*d));
  if (!k || !k.value()->upload(in) || !k.value()->execute()) return;
  const std::size_t bytes = static_cast<std::size_t>(n) * n * sizeof(float);
  cl_int err = CL_SUCCESS;
  tb::ocl::Mem a(clCreateBuffer(d->context.get(), CL_MEM_READ_WRITE, bytes, nullptr, &err));
  tb::ocl::Mem b(clCreateBuffer(d->context.get(), CL_MEM_READ_WRITE, bytes, nullptr, &err));
  tb::ocl::Mem c(clCreateBuffer(d->context.get(), CL_MEM_READ_WRITE, bytes, nullptr, &err));
  if (err != CL_SUCCESS) return;
  cl_command_queue q = d->queue.get();
  clEnqueueWriteBuffer(q, a.get(), CL_TRUE, 0, bytes, in[0].raw(), 0, nullptr, nullptr);
  clEnqueueWriteBuffer(q, b.get(), CL_TRUE, 0, bytes, in[1].raw(), 0, nullptr, nullptr);
  auto clblast = [&]() -> double {
    const auto t0 = Clock::now();
    if (CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n, n, n, 1.0f,
                     a.get(), 0, n, b.get(), 0, n, 0.0f, c.get(), 0, n, &q,
                     nullptr) != CLBlastSuccess ||
        clFinish(q) != CL_SUCCESS)
      return -1;
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  if (clblast() < 0) return;  // warm-up (and CLBlast's kernel build)
  std::vector<double> ratio, ours, theirs;
  for (int i = 0; i < pairs; ++i) {
    std::vector<double> t;
    for (int j = 0; j < 3; ++j) {
      const auto t0 = Clock::now();
      if (!k.value()->execute()) return;
      t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    const double cb = clblast();
    if (cb < 0) return;
    ratio.push_back(cb / t[1]);
    ours.push_back(p.flops() / t[1] * 1e-9);
    theirs.push_back(p.flops() / cb * 1e-9);
  }
  std::sort(ratio.begin(), ratio.end());
  std::sort(ours.begin(), ours.end());
  std::sort(theirs.begin(), theirs.end());
  const std::size_t h = ratio.size() / 2;
  std::printf(
      "  %d^3 paired x%d: tierbench/clblast %.1fx [%.1f, %.1f]  (tierbench %.1f, clblast %.1f"
      " GFLOP/s, medians)\n",
      n, pairs, ratio[h], ratio.front(), ratio.back(), ours[h], theirs[h]);
}
#endif

// Child mode: the first call (prepare + upload + execute + download) of each library, wall time.
int first_call(int n) {
  auto t0 = Clock::now();
  auto d = tb::ocl::open_device(0);
  if (!d) return std::fprintf(stderr, "%s\n", d.error().message.c_str()), 1;
  const double ctx_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const tb::Problem p = tb::make_gemm(n, n, n);
  const auto in = tb::make_inputs(p, 5);
  auto out = tb::make_outputs(p);
  t0 = Clock::now();
  auto k = tb::ocl::prepare_gemm(d.value(), p, tb::ocl::select_gemm_config(*d.value()));
  if (!k) return std::fprintf(stderr, "%s\n", k.error().message.c_str()), 1;
  if (!k.value()->upload(in) || !k.value()->execute() || !k.value()->download(out)) return 1;
  const double tb_s = std::chrono::duration<double>(Clock::now() - t0).count();
  double cb_s = -1;
#ifdef TB_HAVE_CLBLAST
  {
    const std::size_t bytes = static_cast<std::size_t>(n) * n * sizeof(float);
    cl_int err = CL_SUCCESS;
    auto ctx = d.value()->context.get();
    cl_command_queue q = d.value()->queue.get();
    t0 = Clock::now();
    tb::ocl::Mem a(clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, nullptr, &err));
    tb::ocl::Mem b(clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, nullptr, &err));
    tb::ocl::Mem c(clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, nullptr, &err));
    clEnqueueWriteBuffer(q, a.get(), CL_TRUE, 0, bytes, in[0].raw(), 0, nullptr, nullptr);
    clEnqueueWriteBuffer(q, b.get(), CL_TRUE, 0, bytes, in[1].raw(), 0, nullptr, nullptr);
    if (CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n, n, n, 1.0f,
                     a.get(), 0, n, b.get(), 0, n, 0.0f, c.get(), 0, n, &q,
                     nullptr) == CLBlastSuccess) {
      clFinish(q);
      clEnqueueReadBuffer(q, c.get(), CL_TRUE, 0, bytes, out[0].raw(), 0, nullptr, nullptr);
      cb_s = std::chrono::duration<double>(Clock::now() - t0).count();
    }
  }
#endif
  double build = 0, hit = 0;
  for (const auto& [name, v] : k.value()->details()) {
    if (name == "program_build_s") build = v;
    if (name == "program_cache_hit") hit = v;
  }
  std::printf(
      "FIRSTCALL context_s=%.4f tierbench_s=%.4f build_s=%.4f binary_hit=%.0f clblast_s=%.4f\n",
      ctx_s, tb_s, build, hit, cb_s);
  return 0;
}

void first_call_report(const char* self) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("tb_pocl_cache_" + std::to_string(getpid()));
  const fs::path xdg = dir / "xdg";
  fs::create_directories(dir / "pocl");
  fs::create_directories(xdg);
  std::printf("\nFirst call at 256^3 (child processes; PoCL and tierbench caches in %s):\n",
              dir.c_str());
  for (const char* label : {"empty caches", "warm caches "}) {
    const std::string cmd = "POCL_CACHE_DIR=" + (dir / "pocl").string() +
                            " XDG_CACHE_HOME=" + xdg.string() + " " + self + " --first-call 256";
    std::FILE* f = popen(cmd.c_str(), "r");
    char line[512] = {0};
    std::string got;
    while (f && std::fgets(line, sizeof line, f)) got += line;
    if (f) pclose(f);
    std::printf("  %s: %s", label, got.empty() ? "(child failed)\n" : got.c_str() + 10);
  }
  fs::remove_all(dir);
}

struct Stat {
  double median = 0, min = 0, max = 0;
  std::size_t n = 0;
};
Stat stat(std::vector<double> v) {
  Stat s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = v.size();
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  s.min = v.front();
  s.max = v.back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--first-call") == 0) return first_call(std::atoi(argv[2]));
  bool tune = false, quick = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tune") == 0)
      tune = true;
    else if (std::strcmp(argv[i], "--tune-quick") == 0)
      tune = quick = true;
    else
      args.push_back(argv[i]);
  }
  auto d = device();
  if (!d) {
    std::fprintf(stderr, "bench_opencl_gemm: no OpenCL device\n");
    return 1;
  }
  std::printf("device: %s (%s)\n", d->info.name.c_str(), d->info.driver.c_str());
  if (tune) {
    tb::OpenclTuneOptions o;
    o.quick = quick;
    o.budget_s = quick ? 17 : 50;
    auto r = tb::tune_opencl_gemm(o);  // the winner is kept in this process only
    if (!r) {
      std::fprintf(stderr, "tuner: %s\n", r.error().message.c_str());
    } else {
      for (const auto& c : r->candidates)
        std::printf("  tune %-24s %-8s %7.1f GFLOP/s %s\n", c.config.c_str(),
                    std::string(tb::status_name(c.status)).c_str(), c.gflops, c.message.c_str());
      const auto& w = r->winner;
      std::printf("tuner: best %s %.1f GFLOP/s (default %s %.1f) in %.1f s\n", w.config.c_str(),
                  w.gflops, w.default_config.c_str(), w.default_gflops, w.tune_s);
    }
  }
  std::printf("gemm config: %s\n", tb::ocl::select_gemm_config(*d).str().c_str());

  for (int n : {1024, 2048}) {
    benchmark::RegisterBenchmark(("tierbench_sgemm/" + std::to_string(n)).c_str(), BM_tierbench)
        ->Arg(n)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(n == 1024 ? 30 : 8);
#ifdef TB_HAVE_CLBLAST
    benchmark::RegisterBenchmark(("clblast_sgemm/" + std::to_string(n)).c_str(), BM_clblast)
        ->Arg(n)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(n == 1024 ? 8 : 3);
#endif
  }
  int ac = static_cast<int>(args.size());
  benchmark::Initialize(&ac, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  std::printf("\nSummary (GFLOP/s per iteration, median [min, max] over n iterations):\n");
  for (int n : {1024, 2048}) {
    const Stat t = stat(g_gflops["tierbench/" + std::to_string(n)]);
    const Stat c = stat(g_gflops["clblast/" + std::to_string(n)]);
    const double pack = g_notes["pack_s/" + std::to_string(n)];
    std::printf("  %d^3 tierbench %.1f [%.1f, %.1f] n=%zu", n, t.median, t.min, t.max, t.n);
    if (t.median > 0 && pack > 0) {
      const double gemm_s = 2.0 * n * n * static_cast<double>(n) / (t.median * 1e9);
      std::printf("  (pack_s %.4f; with packing once: %.1f)", pack,
                  2.0 * n * n * static_cast<double>(n) / ((gemm_s + pack) * 1e9));
    }
    if (c.n)
      std::printf("\n        clblast   %.1f [%.1f, %.1f] n=%zu  ratio tierbench/clblast %.1fx",
                  c.median, c.min, c.max, c.n, c.median > 0 ? t.median / c.median : 0.0);
    if (auto it = g_notes.find("max_rel_diff_vs_clblast/" + std::to_string(n)); it != g_notes.end())
      std::printf("  max rel diff %.2g", it->second);
    std::printf("\n");
  }
#ifdef TB_HAVE_CLBLAST
  std::printf("\nPaired (alternating call by call, same load for both):\n");
  paired_report(1024, 9);
  paired_report(2048, 3);
#endif
  first_call_report(argv[0]);
  return 0;
}

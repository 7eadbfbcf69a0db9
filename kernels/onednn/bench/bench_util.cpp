#include "bench_util.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace tb::bench {

double g_peak_gflops = 567.0;
int g_threads = 2;

void parse_flags(int& argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--peak_gflops=", 0) == 0)
      g_peak_gflops = std::atof(a.c_str() + 14);
    else if (a.rfind("--threads=", 0) == 0)
      g_threads = std::atoi(a.c_str() + 10);
    else
      argv[out++] = argv[i];
  }
  argc = out;
}

double cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double rel_iqr(std::vector<double> v) {
  if (v.size() < 4) return 0;
  std::sort(v.begin(), v.end());
  const double q1 = v[v.size() / 4], q3 = v[v.size() * 3 / 4], m = median(v);
  return m > 0 ? (q3 - q1) / m : 0;
}

std::unique_ptr<PreparedKernel> prepare_tb(benchmark::State& st, Backend& b, const Problem& p) {
  if (auto s = b.supports(p, 0); !s.supported) {
    st.SkipWithError(("unsupported: " + s.reason).c_str());
    return nullptr;
  }
  auto k = b.prepare(p, PrepareOptions{0, g_threads});
  if (!k) {
    st.SkipWithError(("prepare: " + k.error().message).c_str());
    return nullptr;
  }
  if (auto r = k.value()->upload(make_inputs(p, 1)); !r) {
    st.SkipWithError(("upload: " + r.error().message).c_str());
    return nullptr;
  }
  return std::move(k.value());
}

void interleave(benchmark::State& st, const std::function<double()>& a,
                const std::function<double()>& b, const std::string& a_name,
                const std::string& b_name, int warmup) {
  for (int i = 0; i < warmup; ++i) a(), b();
  std::vector<double> ta, tb, ratio, ca, cb;
  for (auto _ : st) {
    const double c0 = cpu_s();
    const double x = a();
    const double c1 = cpu_s();
    const double y = b();
    const double c2 = cpu_s();
    if (x <= 0 || y <= 0) {
      st.SkipWithError("a run failed");
      return;
    }
    ta.push_back(x), tb.push_back(y), ratio.push_back(y / x);
    ca.push_back(c1 - c0), cb.push_back(c2 - c1);
    st.SetIterationTime(x);
  }
  // CPU-seconds of the whole process per run: on a loaded machine wall time includes time the
  // threads spent descheduled; CPU time does not (but includes OpenMP spin-waiting).
  st.counters[a_name + "_cpu_ms"] = median(ca) * 1e3;
  st.counters[b_name + "_cpu_ms"] = median(cb) * 1e3;
  st.counters[a_name + "_ms"] = median(ta) * 1e3;
  st.counters[a_name + "_spread"] = rel_iqr(ta);
  st.counters[b_name + "_ms"] = median(tb) * 1e3;
  st.counters[b_name + "_spread"] = rel_iqr(tb);
  st.counters[b_name + "_over_" + a_name] = median(ratio);
}

}  // namespace tb::bench

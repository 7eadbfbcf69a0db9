// export_gbench (gbench_export.h).
#include "gbench_export.h"

#include "results_io.h"

namespace tb::io {

Result<nlohmann::json> export_gbench(Store& store, std::int64_t run_id) {
  auto run = store.run(run_id);
  if (!run) return run.error();
  auto results = store.results(run_id, true);
  if (!results) return results.error();
  nlohmann::json ctx = {{"date", run->started_at},
                        {"executable", "tierbench"},
                        {"library_build_type", "release"},
                        {"tierbench_run_id", run_id},
                        {"tierbench_git_commit", run->git_commit}};
  if (run->env.contains("cpu") && run->env["cpu"].is_object()) {
    const auto& c = run->env["cpu"];
    if (c.contains("logical_cpus")) ctx["num_cpus"] = c["logical_cpus"];
    if (c.contains("freq_max_mhz") && c["freq_max_mhz"].is_number())
      ctx["mhz_per_cpu"] = c["freq_max_mhz"];
  }
  nlohmann::json benchmarks = nlohmann::json::array();
  for (const auto& r : results.value()) {
    if (r.samples.empty()) continue;
    const std::string name = benchmark_key(r);
    for (std::size_t i = 0; i < r.samples.size(); ++i)
      benchmarks.push_back({{"name", name},
                            {"family_index", r.id},
                            {"run_name", name},
                            {"run_type", "iteration"},
                            {"repetitions", r.samples.size()},
                            {"repetition_index", i},
                            {"threads", 1},
                            {"iterations", 1},
                            {"real_time", r.samples[i] * 1e9},
                            {"cpu_time", r.samples[i] * 1e9},
                            {"time_unit", "ns"}});
    const auto agg = [&](const char* what, const std::optional<double>& v) {
      if (!v) return;
      benchmarks.push_back({{"name", name + "_" + what},
                            {"family_index", r.id},
                            {"run_name", name},
                            {"run_type", "aggregate"},
                            {"repetitions", r.samples.size()},
                            {"threads", 1},
                            {"aggregate_name", what},
                            {"iterations", r.samples.size()},
                            {"real_time", *v * 1e9},
                            {"cpu_time", *v * 1e9},
                            {"time_unit", "ns"}});
    };
    agg("mean", r.mean_s);
    agg("median", r.median_s);
    agg("stddev", r.stddev_s);
  }
  return nlohmann::json{{"context", ctx}, {"benchmarks", benchmarks}};
}

}  // namespace tb::io

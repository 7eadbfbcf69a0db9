#include "predictor_tables.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "decide.h"

namespace tb::reports {

namespace {

using json = nlohmann::json;

std::string ms(double v) {
  return v < 0 ? "-" : v < 10 ? fmt::format("{:.2f}", v) : fmt::format("{:.1f}", v);
}

// The errors of a set of checks: shares within 5, 10 and 20%, median absolute errors.
struct Summary {
  int n = 0, w5 = 0, w10 = 0, w20 = 0, repeats = 0, w10_nearer = 0;
  std::vector<double> abs_err, cold, mem, noise;
  void add(const PredictionCheck& r) {
    const double e = std::abs(r.err());
    ++n, w5 += e <= 0.05, w10 += e <= 0.10, w20 += e <= 0.20;
    abs_err.push_back(e);
    if (!std::isnan(r.repeat_ms)) {
      ++repeats, w10_nearer += std::abs(r.nearer_err()) <= 0.10;
      noise.push_back(std::abs(r.noise()));
    }
    if (!std::isnan(r.cold_err)) cold.push_back(std::abs(r.cold_err));
    if (!std::isnan(r.memory_err)) mem.push_back(std::abs(r.memory_err));
  }
  static double med(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  json to_json() const {
    const auto pct = [&](int k) { return n ? 100.0 * k / n : 0.0; };
    return {{"n", n},
            {"within_5_pct", pct(w5)},
            {"within_10_pct", pct(w10)},
            {"within_20_pct", pct(w20)},
            {"median_abs_err_pct", 100 * med(abs_err)},
            {"cold_start_median_abs_err_pct", cold.empty() ? json() : json(100 * med(cold))},
            {"memory_median_abs_err_pct", mem.empty() ? json() : json(100 * med(mem))},
            {"repeat_median_abs_diff_pct", noise.empty() ? json() : json(100 * med(noise))},
            {"within_10_of_nearer_run_pct", repeats ? json(100.0 * w10_nearer / repeats) : json()}};
  }
};

using Groups = std::map<std::string, Summary>;

// Whether other processes shared the CPUs while the tier was timed (measure::contention_note's
// threshold): a measurement then times the sharing as much as the model.
std::string contention(const PredictionCheck& r) {
  if (std::isnan(r.other_cpu_share)) return "not known (sampled too briefly)";
  return r.other_cpu_share < 0.25 ? "others used < 25% of the CPUs"
                                  : "others used >= 25% of the CPUs";
}

struct Summaries {
  Groups all, by_config, by_backend, by_dtype, by_tier, transfer, by_contention;
  explicit Summaries(const PredictorValidation& v) {
    for (const auto& r : v.rows) {
      all["all"].add(r), by_config[r.config].add(r), by_backend[r.backend].add(r);
      by_dtype[r.dtype].add(r), by_tier[r.workload].add(r), by_contention[contention(r)].add(r);
    }
    for (const auto& [name, rows] : v.transfer)
      for (const auto& r : rows) transfer[name].add(r);
  }
};

std::string summary_table(const std::string& title, const Groups& by) {
  std::string out =
      fmt::format("\n{:<40} {:>3} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>7} {:>7}\n", title, "n",
                  "<=5%", "<=10%", "<=20%", "med err", "cold err", "mem err", "noise", "<=10%*");
  for (const auto& [k, s] : by) {
    const json j = s.to_json();
    const auto f = [&](const char* key) {
      return j[key].is_null() ? std::string("-") : fmt::format("{:.1f}%", j[key].get<double>());
    };
    out += fmt::format("{:<40} {:>3} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>7} {:>7}\n", k, s.n,
                       f("within_5_pct"), f("within_10_pct"), f("within_20_pct"),
                       f("median_abs_err_pct"), f("cold_start_median_abs_err_pct"),
                       f("memory_median_abs_err_pct"), f("repeat_median_abs_diff_pct"),
                       f("within_10_of_nearer_run_pct"));
  }
  return out;
}

}  // namespace

std::string format_calibration(const profiles::Calibration& c) {
  std::string out = fmt::format("calibration {} ({}), storage read {:.2f} GB/s\n", c.label,
                                c.created_utc, c.storage_read_gbps);
  out += fmt::format("{:<8} {:<5} {:<10} {:>3} {:>11} {:>11} {:>9}\n", "backend", "dtype", "class",
                     "pts", "node ms", "eff median", "compile");
  for (const auto& e : c.entries) {
    std::map<std::string, std::vector<const profiles::OpPoint*>> by;
    for (const auto& p : e.points) by[p.op_class].push_back(&p);
    for (const auto& [cls, pts] : by) {
      double lo = 1e30, hi = 0, comp = 0;
      std::vector<double> eff;
      for (const auto* p : pts) {
        lo = std::min(lo, p->node_s), hi = std::max(hi, p->node_s), comp += p->compile_s;
        if (p->efficiency > 0) eff.push_back(p->efficiency);
      }
      std::sort(eff.begin(), eff.end());
      out += fmt::format("{:<8} {:<5} {:<10} {:>3} {:>11} {:>11} {:>8.1f}ms\n", e.backend, e.dtype,
                         cls, pts.size(), ms(lo * 1e3) + "-" + ms(hi * 1e3),
                         eff.empty() ? "-" : fmt::format("{:.1f}%", 100 * eff[eff.size() / 2]),
                         comp / static_cast<double>(pts.size()) * 1e3);
    }
    out += fmt::format(
        "{:<8} {:<5} graph run {:.3f} ms (+{:.3f} after a host op), transfer {}, host ops "
        "{:.1f} GB/s (+{:.1f} us each), upload "
        "{:.1f} GB/s, first/steady {:.2f}, int8 epilogue {}, switching kernels +{:.1f} "
        "us/node{}{}\n",
        e.backend, e.dtype, e.graph_s * 1e3, e.segment_switch_s * 1e3,
        e.transfer_gbps > 0 ? fmt::format("{:.1f} GB/s", e.transfer_gbps) : std::string("free"),
        e.host_gbps, e.host_op_s * 1e6, e.upload_gbps, e.first_ratio,
        e.fuses_int8_epilogue ? (e.requantises_int8 ? "fused (u8 out)" : "fused") : "on the host",
        e.mixed_node_s * 1e6,
        e.cross_core_gbps > 0
            ? fmt::format(", across a change of threads {:.1f} GB/s", e.cross_core_gbps)
            : std::string(),
        e.kv_writes_on_device
            ? (e.permutes_on_device ? ", KV-cache writes, permutes and slices on the device"
                                    : ", KV-cache writes on the device")
            : "");
    if (!e.stream_gemv.empty()) {
      std::string gemv;
      for (const auto& [bytes, ratio] : e.stream_gemv)
        gemv += fmt::format("{}x{:.2f} at {:.0f} MB", gemv.empty() ? "" : ", ", ratio, bytes / 1e6);
      if (!e.stream_gemv_serial.empty()) {
        gemv += " (on one thread:";
        for (const auto& [bytes, ratio] : e.stream_gemv_serial)
          gemv += fmt::format(" x{:.2f} at {:.0f} MB", ratio, bytes / 1e6);
        gemv += ")";
      }
      out += fmt::format("{:<8} {:<5} weights streaming: small ops +{:.1f} us/node, GEMVs {}\n",
                         e.backend, e.dtype, e.stream_node_s * 1e6, gemv);
    }
  }
  return out;
}

std::string format_prediction(const Prediction& p) {
  std::string out =
      fmt::format("{} from calibration {}{}\n", p.workload, p.calibration,
                  p.projected_onto.empty() ? "" : " projected onto " + p.projected_onto);
  out +=
      fmt::format("{:<8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}  {}\n", "backend",
                  "latency ms", "read", "compile", "upload", "first+", "peak MiB", "weights", "");
  for (const auto& e : p.estimates)
    out +=
        fmt::format("{:<8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10.1f} {:>9.1f}  {}\n", e.backend,
                    ms(e.latency_ms), ms(e.read_ms), ms(e.compile_ms), ms(e.upload_ms),
                    ms(e.first_inference_ms), static_cast<double>(e.peak_memory_bytes) / 1048576.0,
                    static_cast<double>(e.weight_bytes) / 1048576.0, e.feasible ? "" : e.why);
  for (const auto& e : p.estimates)
    for (const auto& a : e.assumed) out += fmt::format("{}: assumed: {}\n", e.backend, a);
  if (p.layers)
    for (const auto& e : p.estimates) {
      out += "\n" + e.backend + ": per layer (ms, output bytes)\n";
      for (const auto& l : e.layers)
        out += fmt::format("  {:<48} {:>9.3f} {:>10}\n", l.name, l.latency_ms, l.output_bytes);
    }
  return out;
}

json prediction_json(const Prediction& p) {
  json j = json::array();
  for (const auto& e : p.estimates) j.push_back(decide::to_json(e));
  return j;
}

std::string format_predictor_validation(const PredictorValidation& v) {
  std::string out =
      fmt::format("{:<16} {:<8} {:<30} {:>10} {:>10} {:>7} {:>7} {:>10}\n", "config", "backend",
                  "tier", "measured", "predicted", "error", "others", "run before");
  for (const auto& r : v.rows)
    out += fmt::format(
        "{:<16} {:<8} {:<30} {:>8.2f}ms {:>8.2f}ms {:>+6.1f}% {:>7} {:>10}\n", r.config, r.backend,
        r.workload, r.measured_ms, r.predicted_ms, 100 * r.err(),
        std::isnan(r.other_cpu_share) ? std::string("-")
                                      : fmt::format("{:.0f}%", 100 * r.other_cpu_share),
        std::isnan(r.repeat_ms) ? std::string("-") : fmt::format("{:+.1f}%", 100 * r.noise()));
  Summaries s(v);
  out += summary_table("all tiers", s.all);
  out += summary_table("per configuration", s.by_config);
  out += summary_table("per backend", s.by_backend);
  out += summary_table("per dtype", s.by_dtype);
  out += summary_table("per tier", s.by_tier);
  out += summary_table("while timed, other processes", s.by_contention);
  if (!s.transfer.empty())
    out += summary_table("from another configuration's calibration", s.transfer);
  if (!v.ops.empty()) {
    // OpenCL and Vulkan time a layer on the device: the launch gaps and host waits between
    // kernels are outside every layer there, while a prediction charges each node its dispatch.
    out += fmt::format(
        "\n{:<16} {:<16} {:>6} {:>10} {:>10} {:>7}   (layer profiles; OpenCL, Vulkan: device "
        "time per layer, launch gaps outside)\n",
        "per op", "op", "layers", "measured", "predicted", "error");
    for (const auto& o : v.ops)
      out += fmt::format("{:<16} {:<16} {:>6} {:>8.2f}ms {:>8.2f}ms {:>+6.1f}%\n", o.config, o.op,
                         o.layers ? std::to_string(o.layers) : "-", o.measured_ms, o.predicted_ms,
                         100 * o.err());
  }
  const Summary& a = s.all["all"];
  if (a.repeats)
    out += fmt::format(
        "\nnoise: each tier was also timed in a run before the calibration ('run before': its "
        "median against the one after); the machine alone moved them by a median of {:.1f}%. "
        "<=10%*: within 10% of the nearer of the two runs.\n",
        100 * Summary::med(a.noise));
  out += fmt::format("\ntarget >= 95% within 10%: {:.1f}% ({} of {}) -- {}\n",
                     a.n ? 100.0 * a.w10 / a.n : 0.0, a.w10, a.n,
                     a.n && a.w10 >= 0.95 * a.n ? "met" : "NOT met");
  return out;
}

json predictor_validation_json(const PredictorValidation& v) {
  json j = {{"rows", json::array()}, {"summary", json::object()}};
  for (const auto& r : v.rows)
    j["rows"].push_back(
        {{"config", r.config},
         {"backend", r.backend},
         {"dtype", r.dtype},
         {"workload", r.workload},
         {"measured_ms", r.measured_ms},
         {"predicted_ms", r.predicted_ms},
         {"error_pct", 100 * r.err()},
         {"other_cpu_share", std::isnan(r.other_cpu_share) ? json() : json(r.other_cpu_share)},
         {"run_before_ms", std::isnan(r.repeat_ms) ? json() : json(r.repeat_ms)}});
  j["ops"] = json::array();
  for (const auto& o : v.ops)
    j["ops"].push_back({{"config", o.config},
                        {"op", o.op},
                        {"layers", o.layers},
                        {"measured_ms", o.measured_ms},
                        {"predicted_ms", o.predicted_ms},
                        {"error_pct", 100 * o.err()}});
  Summaries s(v);
  for (auto [title, by] : {std::pair{"all", &s.all}, std::pair{"config", &s.by_config},
                           std::pair{"backend", &s.by_backend}, std::pair{"dtype", &s.by_dtype},
                           std::pair{"tier", &s.by_tier}, std::pair{"transfer", &s.transfer},
                           std::pair{"contention", &s.by_contention}})
    for (const auto& [k, sum] : *by) j["summary"][title][k] = sum.to_json();
  return j;
}

}  // namespace tb::reports

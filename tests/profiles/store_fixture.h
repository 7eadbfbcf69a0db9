// A results store with a hand-made probe, kernel and workload results, for the profile tests.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "store.h"

namespace tb::test {

// A probe report with the identifying strings and exact figures a real probe has.
inline nlohmann::json fixture_probe(double f32_zmm_all = 455.5, double f32_ymm_all = 226.1) {
  const auto fig = [](double v) {
    return nlohmann::json{{"median", v * 0.98}, {"min", v * 0.9}, {"max", v}, {"trials", 5}};
  };
  const auto peak = [&](double one, double all) {
    return nlohmann::json{{"supported", true},         {"isa", "x"},
                          {"unit", "GFLOP/s"},         {"ops_per_instruction", 32},
                          {"single_thread", fig(one)}, {"all_threads", fig(all)}};
  };
  nlohmann::json p;
  p["cpu"] = {{"vendor", "AuthenticAMD"}, {"brand", "Secret CPU 9000 SN-12345"}};
  p["environment"] = {{"hostname", "host-7f3a9c"},
                      {"kernel", "6.18.44-fc-v1252"},
                      {"dmi_product_name", "Board XZ-4411"},
                      {"mem_total_bytes", 25276166144LL}};
  p["compute"]["peaks"] = {{"f32_fma_zmm", peak(231.7, f32_zmm_all)},
                           {"f32_fma_ymm", peak(115.3, f32_ymm_all)},
                           {"bf16_dpbf16_zmm", peak(463.1, 921.7)},
                           {"s8_dpbusd_zmm", peak(927.3, 1843.9)}};
  p["memory"]["bandwidth"]["read"] = {
      {"unit", "GB/s"}, {"single_thread", fig(41.08)}, {"all_threads", fig(34.02)}};
  p["storage"] = {{"available", true}, {"cold_read", fig(5.32)}, {"dir", "/var/tmp/secret-dir"}};
  p["accelerators"]["vulkan"] = {{"api", "vulkan"},
                                 {"available", true},
                                 {"devices",
                                  {{{"name", "llvmpipe (LLVM 15.0.6, 256 bits)"},
                                    {"type", "cpu"},
                                    {"driver_info", "Mesa 22.3.6"},
                                    {"uuid", "6d657361-3232-2e33-2e36-000000000000"}}}}};
  p["accelerators"]["opencl"] = {{"api", "opencl"}, {"available", false}, {"reason", "none"}};
  return p;
}

struct FixtureStore {
  TempDir dir;
  std::string db = (dir.path() / "r.db").string();
  std::unique_ptr<Store> store;
  std::int64_t run = 0;

  explicit FixtureStore(const nlohmann::json& probe = fixture_probe()) {
    store = std::move(Store::open(db).value());
    run = store->begin_run("probe", "x", {}).value();
    ResultRecord r;
    r.run_id = run;
    r.kind = "probe";
    r.name = "probe:quick";
    r.status = Status::passed;
    r.metrics = probe;
    (void)store->add_result(r).value();
  }

  void add_kernel(const std::string& name, const std::string& dtype, double gflops,
                  const std::string& backend = "onednn",
                  const std::string& device = "Secret CPU 9000 SN-12345") {
    ResultRecord r;
    r.run_id = run;
    r.kind = "kernel";
    r.name = name;
    r.dtype = dtype;
    r.backend = backend;
    r.device = device;
    r.status = Status::passed;
    r.median_s = 0.001;
    r.gflops = gflops;
    (void)store->add_result(r).value();
  }

  void add_workload(const std::string& name, const std::string& dtype, const std::string& status,
                    double median_s, const std::string& backend = "onednn",
                    const std::string& message = "") {
    ResultRecord r;
    r.run_id = run;
    r.kind = "workload";
    r.name = name;
    r.dtype = dtype;
    r.backend = backend;
    r.device = "Secret CPU 9000 SN-12345";
    r.status = status_from_name(status).value();
    r.message = message;
    if (median_s > 0) {
      r.median_s = median_s;
      r.p10_s = median_s * 0.97;
      r.p90_s = median_s * 1.05;
    }
    r.metrics["figures"] = {
        {"macs", 3.0e8}, {"weight_bytes", 14000000}, {"peak_activation_bytes", 4800000}};
    if (median_s > 0) {
      r.metrics["load"] = {{"read_cold_s", 0.0123},
                           {"prepare_first_s", 0.0456},
                           {"upload_s", 0.0011},
                           {"first_inference_s", median_s * 1.5},
                           {"weights_file", "/home/secret-user/.cache/tierbench/w.safetensors"}};
      r.metrics["memory"] = {{"peak_rss_added_bytes", 41234567}};
    }
    (void)store->add_result(r).value();
  }
};

}  // namespace tb::test

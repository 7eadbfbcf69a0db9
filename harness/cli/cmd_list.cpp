// tierbench list: backends, their devices, availability and why.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "kernels.h"
#include "model_arg.h"
#include "models.h"
#include "reporter.h"
#include "workload_runner.h"
#include "workloads.h"

namespace tb::cli {

namespace {

nlohmann::json device_json(const DeviceInfo& d) {
  return {{"index", d.index},
          {"name", d.name},
          {"type", d.type},
          {"vendor", d.vendor},
          {"driver", d.driver},
          {"api_version", d.api_version},
          {"compute_units", d.compute_units},
          {"global_memory_bytes", d.global_memory_bytes},
          {"max_workgroup_size", d.max_workgroup_size},
          {"subgroup_size", d.subgroup_size},
          {"fp16", d.fp16},
          {"int8_dot", d.int8_dot}};
}

int list_backends(const Context& ctx) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& b : make_backends()) {
    const Availability a = b->availability();
    nlohmann::json j = {{"name", b->name()}, {"available", a.available}};
    if (a.available) {
      j["version"] = b->version();
      j["devices"] = nlohmann::json::array();
      for (const auto& d : b->devices()) j["devices"].push_back(device_json(d));
    } else {
      j["reason"] = a.reason;
    }
    out.push_back(std::move(j));
  }
  (void)reports::listing_reporter(ctx.json ? "json" : "table")
      ->report(std::cout, {"backends", out});
  return kOk;
}

// Every tier, variant and data type with the figures computed from its graph.
int list_workloads(const Context& ctx) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : workloads::tiers()) {
    for (const auto& v : t.variants) {
      for (const auto& d : t.dtypes) {
        workloads::BuildOptions o;
        o.variant = v;
        auto g = workloads::build_tier(t.name, d, o);
        nlohmann::json j = {{"workload", t.name + ":" + v + ":" + d},
                            {"tier", t.name},
                            {"description", t.description},
                            {"full_suite_only", t.full_only}};
        if (g) {
          const auto f = g->figures();
          j["macs"] = f.macs;
          j["params"] = f.params;
          j["weight_bytes"] = f.weight_bytes;
          j["peak_activation_bytes"] = f.peak_activation_bytes;
          j["state_bytes"] = f.state_bytes;
          j["layers"] = f.kernel_layers + f.host_layers;
        } else {
          j["error"] = g.error().message;
        }
        out.push_back(std::move(j));
      }
    }
  }
  (void)reports::listing_reporter(ctx.json ? "json" : "table")
      ->report(std::cout, {"workloads", out});
  return kOk;
}

int list_suites(const Context& ctx) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : workloads::suites())
    out.push_back({{"name", s.name},
                   {"kind", "kernels"},
                   {"description", s.description},
                   {"items", s.problems}});
  for (const auto& s : workload_suites())
    out.push_back({{"name", s.name},
                   {"kind", "workloads"},
                   {"description", s.description},
                   {"items", s.workloads}});
  (void)reports::listing_reporter(ctx.json ? "json" : "table")->report(std::cout, {"suites", out});
  return kOk;
}

struct ModelListArgs {
  std::string path, dtype = "f32";
  std::vector<std::string> inputs;
};

// The imported model's figures, ops, and which backends run every op (the first that does not,
// with the backend's reason).
int list_model(const Context& ctx, const ModelListArgs& a) {
  auto opts = model_import_options(a.inputs, a.dtype);
  if (!opts) return usage_error(opts.error().message);
  workloads::OnnxImportSummary s;
  auto m = load_onnx_model(a.path, *opts, &s);
  if (!m) return usage_error("--model " + m.error().message);
  const auto f = m->graph.figures();
  nlohmann::json j = {{"workload", m->name.str()},
                      {"model", m->info},
                      {"macs", f.macs},
                      {"params", f.params},
                      {"weight_bytes", f.weight_bytes},
                      {"peak_activation_bytes", f.peak_activation_bytes},
                      {"kernel_layers", f.kernel_layers},
                      {"host_layers", f.host_layers},
                      {"backends", nlohmann::json::array()}};
  for (auto& b : make_backends()) {
    const Availability av = b->availability();
    nlohmann::json bj = {{"name", b->name()}};
    if (!av.available) {
      bj["supported"] = false, bj["reason"] = "unavailable: " + av.reason;
    } else {
      bj["supported"] = true;
      for (const auto& dev : b->devices()) {
        for (const auto& l : m->graph.layers) {
          if (!l.problem) continue;
          if (auto sp = b->supports(*l.problem, dev.index); !sp.supported) {
            bj["supported"] = false;
            bj["reason"] =
                dev.name + ": layer " + l.name + ": " + l.problem->str() + ": " + sp.reason;
            break;
          }
        }
        if (!bj["supported"].get<bool>()) break;
      }
    }
    j["backends"].push_back(std::move(bj));
  }
  (void)reports::model_reporter(ctx.json ? "json" : "table")
      ->report(std::cout, {a.path, std::move(s), std::move(j)});
  return kOk;
}

}  // namespace

void add_list_command(CLI::App& app, Context& ctx, Action& action) {
  auto* cmd = app.add_subcommand(
      "list", "List backends and devices (with availability and why), model tiers, or suites");
  auto what = std::make_shared<std::pair<bool, bool>>(false, false);
  auto* w = cmd->add_flag("--workloads", what->first,
                          "List model tiers with MACs, parameters, weight and activation bytes");
  cmd->add_flag("--suites", what->second, "List suites and what they run")->excludes(w);
  auto ma = std::make_shared<ModelListArgs>();
  cmd->add_option("--model", ma->path,
                  "An ONNX model: ops, MACs, parameters, bytes, and which backends run it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--input", ma->inputs, "Shape of a --model input: NAME=1x3x224x224");
  cmd->add_option("--dtype", ma->dtype, "Data type to import --model as: f32, bf16, int8");
  cmd->callback([&ctx, &action, what, ma] {
    action = [&ctx, what, ma] {
      if (!ma->path.empty()) return list_model(ctx, *ma);
      if (what->first) return list_workloads(ctx);
      if (what->second) return list_suites(ctx);
      return list_backends(ctx);
    };
  });
}

}  // namespace tb::cli

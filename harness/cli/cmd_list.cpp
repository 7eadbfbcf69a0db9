// tierbench list: backends, their devices, availability and why.
#include <iostream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "kernels.h"
#include "models.h"
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
  if (ctx.json) {
    std::cout << nlohmann::json{{"backends", out}}.dump(2) << "\n";
    return kOk;
  }
  for (const auto& b : out) {
    if (!b["available"].get<bool>()) {
      fmt::print("{:<10} unavailable: {}\n", b["name"].get<std::string>(),
                 b["reason"].get<std::string>());
      continue;
    }
    fmt::print("{:<10} available   {}\n", b["name"].get<std::string>(),
               b["version"].get<std::string>());
    for (const auto& d : b["devices"])
      fmt::print(
          "  [{}] {} ({}, {} compute units{})\n", d["index"].get<int>(),
          d["name"].get<std::string>(), d["type"].get<std::string>(),
          d["compute_units"].get<std::int64_t>(),
          d["global_memory_bytes"].get<std::uint64_t>() > 0
              ? fmt::format(", {:.1f} GiB", d["global_memory_bytes"].get<double>() / (1 << 30))
              : "");
  }
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
  if (ctx.json) {
    std::cout << nlohmann::json{{"workloads", out}}.dump(2) << "\n";
    return kOk;
  }
  fmt::print("{:<30} {:>10} {:>10} {:>11} {:>11} {:>7}\n", "workload", "GMACs", "params M",
             "weights MB", "peak act MB", "layers");
  for (const auto& j : out) {
    if (j.contains("error")) {
      fmt::print("{:<30} error: {}\n", j["workload"].get<std::string>(),
                 j["error"].get<std::string>());
      continue;
    }
    fmt::print("{:<30} {:>10.3f} {:>10.2f} {:>11.2f} {:>11.2f} {:>7}{}\n",
               j["workload"].get<std::string>(), j["macs"].get<double>() / 1e9,
               j["params"].get<double>() / 1e6, j["weight_bytes"].get<double>() / 1e6,
               j["peak_activation_bytes"].get<double>() / 1e6, j["layers"].get<int>(),
               j["full_suite_only"].get<bool>() ? "  (full suite only)" : "");
  }
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
  if (ctx.json) {
    std::cout << nlohmann::json{{"suites", out}}.dump(2) << "\n";
    return kOk;
  }
  for (const auto& s : out) {
    fmt::print("{} ({}): {}\n", s["name"].get<std::string>(), s["kind"].get<std::string>(),
               s["description"].get<std::string>());
    for (const auto& i : s["items"]) fmt::print("  {}\n", i.get<std::string>());
  }
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
  cmd->callback([&ctx, &action, what] {
    action = [&ctx, what] {
      if (what->first) return list_workloads(ctx);
      if (what->second) return list_suites(ctx);
      return list_backends(ctx);
    };
  });
}

}  // namespace tb::cli

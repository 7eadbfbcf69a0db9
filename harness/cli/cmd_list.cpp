// tierbench list: backends, their devices, availability and why.
#include <iostream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "kernels.h"

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

}  // namespace

void add_list_command(CLI::App& app, Context& ctx, Action& action) {
  auto* cmd = app.add_subcommand("list", "List backends and devices, with availability and why");
  cmd->callback([&ctx, &action] { action = [&ctx] { return list_backends(ctx); }; });
}

}  // namespace tb::cli

// tierbench export-model: a model tier as an ONNX file (workloads/onnx_export.h) with the weights
// tierbench runs (the same seeded safetensors file, or --weights), so that another runtime runs
// exactly the graph tierbench ran. With --io-dir, also the seeded inputs tierbench feeds it and
// the output tierbench computes for them on --backend: a side-by-side check for that runtime.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "executor.h"
#include "kernels.h"
#include "models.h"
#include "onnx_export.h"
#include "weights.h"

namespace tb::cli {

namespace {

struct ExportArgs {
  std::string workload, out, weights, io_dir, external_data;
  std::string backend = "onednn";
  std::uint64_t seed = 42;
  int threads = 0;
  bool reduced = false, static_scales = false;
};

nlohmann::json write_raw(const std::string& dir, const std::string& file, const std::string& name,
                         const Tensor& t) {
  std::ofstream f(std::filesystem::path(dir) / file, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.bytes()));
  if (!f) throw std::runtime_error("cannot write " + dir + "/" + file);
  return {{"name", name},
          {"dtype", std::string(dtype_name(t.dtype()))},
          {"shape", t.shape()},
          {"file", file}};
}

// The seeded inputs and tierbench's output for them, as raw little-endian files and io.json.
int write_io(const ExportArgs& a, const workloads::Graph& g, std::vector<Tensor> weights,
             const workloads::OnnxExportSummary& sum, nlohmann::json& report) {
  std::error_code ec;
  std::filesystem::create_directories(a.io_dir, ec);
  if (ec) return usage_error("--io-dir " + a.io_dir + ": " + ec.message());
  std::unique_ptr<Backend> backend;
  for (auto& b : make_backends())
    if (b->name() == a.backend) backend = std::move(b);
  if (!backend) return usage_error("--backend: no backend named '" + a.backend + "'");
  if (auto av = backend->availability(); !av.available) {
    std::cerr << "tierbench: error: backend " << a.backend << " unavailable: " << av.reason << "\n";
    return kJobFailed;
  }
  nlohmann::json io = {{"workload", report["workload"]},
                       {"seed", a.seed},
                       {"backend", a.backend},
                       {"inputs", nlohmann::json::array()}};
  const Tensor input = workloads::Executor::make_input(g, a.seed);
  io["inputs"].push_back(write_raw(a.io_dir, "input.bin", sum.inputs.at(0), input));
  int i = 0;
  for (const auto& [name, t] : workloads::onnx_state_inputs(g, a.seed))
    io["inputs"].push_back(write_raw(a.io_dir, "state" + std::to_string(i++) + ".bin", name, t));
  workloads::Executor ex(g, std::move(weights), a.seed);
  auto fail = [](const std::string& what, const Error& e) {
    std::cerr << "tierbench: error: " << what << ": " << e.message << "\n";
    return kJobFailed;
  };
  if (auto p = ex.prepare(*backend, 0, a.threads); !p) return fail("prepare", p.error());
  if (auto u = ex.upload_weights(); !u) return fail("upload", u.error());
  if (auto r = ex.infer(input); !r) return fail("infer", r.error());
  io["output"] = write_raw(a.io_dir, "output.bin", sum.output, ex.output());
  std::ofstream f(std::filesystem::path(a.io_dir) / "io.json", std::ios::trunc);
  f << io.dump(2) << "\n";
  if (!f) throw std::runtime_error("cannot write " + a.io_dir + "/io.json");
  report["io_dir"] = a.io_dir;
  return kOk;
}

int do_export(const Context& ctx, const ExportArgs& a) {
  auto w = workloads::parse_workload(a.workload);
  if (!w) return usage_error("--workload: " + w.error().message);
  workloads::BuildOptions bo;
  bo.variant = w->variant;
  bo.reduced = a.reduced;
  auto g = workloads::build_tier(w->tier, w->dtype, bo);
  if (!g) return usage_error("--workload: " + g.error().message);
  std::string path = a.weights;
  if (path.empty()) {  // the runner's synthetic file (harness/workload_runner.cpp)
    path = workloads::cached_weights_path(*g, a.seed);
    auto full = workloads::build_tier(w->tier, w->dtype, {});
    if (!full) return usage_error(full.error().message);
    if (auto made = workloads::ensure_weights_file(*full, path, a.seed); !made) {
      std::cerr << "tierbench: error: weights: " << made.error().message << "\n";
      return kJobFailed;
    }
  }
  auto lw = workloads::load_weights(*g, path, false);
  if (!lw) return usage_error("--weights: " + lw.error().message);
  std::string scales_note;
  if (a.static_scales) {  // the activation scales --backend calibrates, as constants (QDQ)
    if (g->dtype != DType::s8) return usage_error("--static-scales: int8 workloads only");
    std::unique_ptr<Backend> backend;
    for (auto& b : make_backends())
      if (b->name() == a.backend) backend = std::move(b);
    if (!backend) return usage_error("--backend: no backend named '" + a.backend + "'");
    if (auto av = backend->availability(); !av.available) {
      std::cerr << "tierbench: error: backend " << a.backend << " unavailable: " << av.reason
                << "\n";
      return kJobFailed;
    }
    workloads::Executor ex(*g, lw->tensors, a.seed);
    auto p = ex.prepare(*backend, 0, a.threads);
    auto sg = p ? ex.static_scales() : Result<workloads::Graph>(p.error());
    if (!sg) {
      std::cerr << "tierbench: error: --static-scales: " << sg.error().message << "\n";
      return kJobFailed;
    }
    *g = std::move(*sg);
    scales_note = "activation scales static (QDQ with constants), as " + a.backend +
                  " calibrates them: one inference on the seeded input (seed " +
                  std::to_string(a.seed) + ")";
  }
  workloads::OnnxExportOptions eo;
  eo.seed = a.seed;
  eo.external_data = a.external_data;
  auto sum = workloads::export_onnx(*g, lw->tensors, a.out, eo);
  if (!sum) {
    std::cerr << "tierbench: error: " << sum.error().message << "\n";
    // A graph the exporter cannot express is an input error (exit 2); I/O failures are not.
    return sum.error().message.find("no ONNX mapping") != std::string::npos ? kUsage : kJobFailed;
  }
  nlohmann::json report = {{"workload", w->str()},
                           {"file", a.out},
                           {"weights_file", path},
                           {"seed", a.seed},
                           {"opset", sum->opset},
                           {"nodes", sum->nodes},
                           {"initializers", sum->initializers},
                           {"initializer_bytes", sum->initializer_bytes},
                           {"inputs", sum->inputs},
                           {"output", sum->output},
                           {"notes", sum->notes}};
  if (!scales_note.empty()) report["notes"].push_back(scales_note);
  if (g->reduced) report["reduced"] = g->reduced_note;
  if (!sum->external_data.empty()) report["external_data"] = sum->external_data;
  if (!a.io_dir.empty())
    if (int rc = write_io(a, *g, std::move(lw->tensors), *sum, report); rc != kOk) return rc;
  if (ctx.json) {
    std::cout << report.dump(2) << "\n";
  } else {
    fmt::print("{} -> {}: opset {}, {} nodes, {} initializers ({:.1f} MB){}\n", w->str(), a.out,
               sum->opset, sum->nodes, sum->initializers,
               static_cast<double>(sum->initializer_bytes) / 1e6,
               g->reduced ? " [reduced: " + g->reduced_note + "]" : "");
    fmt::print("  weights: {} (seed {})\n", path, a.seed);
    for (const auto& n : report["notes"]) fmt::print("  note: {}\n", n.get<std::string>());
    if (!a.io_dir.empty())
      fmt::print("  inputs and {}'s output: {}/io.json\n", a.backend, a.io_dir);
  }
  return kOk;
}

}  // namespace

void add_export_model_command(CLI::App& app, Context& ctx, Action& action) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export-model",
                                 "Write a model tier as an ONNX file (opset 17, weights included)");
  cmd->add_option("-w,--workload", a->workload, "tier:variant:dtype, e.g. resnet50:b1:f32")
      ->required();
  cmd->add_option("-o,--output", a->out, "ONNX file to write")->required();
  cmd->add_option("--weights", a->weights,
                  "Your own safetensors file (default: the cached synthetic weights)");
  cmd->add_option("--seed", a->seed, "Seed of the synthetic weights and of --io-dir's inputs");
  cmd->add_flag("--reduced", a->reduced, "The tier's reduced configuration (as validation uses)");
  cmd->add_flag("--static-scales", a->static_scales,
                "int8: the activation scales --backend calibrates written as constants (static "
                "QDQ, as ONNX Runtime's quantiser writes), not tierbench's dynamic quantisation");
  cmd->add_option("--external-data", a->external_data,
                  "Write the weights to this file beside the model (ONNX external data; "
                  "automatic past 1.5 GiB)");
  cmd->add_option("--io-dir", a->io_dir,
                  "Also write the seeded inputs and --backend's output for them here "
                  "(raw little-endian files, io.json)");
  cmd->add_option("-b,--backend", a->backend,
                  "Backend computing --io-dir's output and --static-scales' scales");
  cmd->add_option("--threads", a->threads, "CPU threads for --io-dir's run (0: all)")
      ->check(kNonNegative);
  cmd->callback([&ctx, &action, a] { action = [&ctx, a] { return do_export(ctx, *a); }; });
}

}  // namespace tb::cli

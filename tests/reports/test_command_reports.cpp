// The documents of tune, calibrate, predict, validate-predictor, validate-decisions, list --model
// and compare's switch lines, pinned byte for byte against data/golden/ in every format their
// reporter family has (reports/reporter.h). The documents are written out here, so that a golden
// file changes only when its format does, not when a measurement or the predictor does.
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compare.h"
#include "compare_format.h"
#include "report_fixture.h"
#include "reporter.h"
#include "reports.h"
#include "switches.h"

namespace tb {
namespace {

using nlohmann::json;
using test::expect_golden;

template <class R, class Doc>
std::string render(const R& reporter, const Doc& doc) {
  EXPECT_NE(reporter, nullptr);
  if (!reporter) return "";
  std::ostringstream os;
  const auto r = reporter->report(os, doc);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return os.str();
}

TuneWinner winner(std::string backend, std::string device, std::string cls, std::string config,
                  double gflops, std::string def, double def_gflops) {
  TuneWinner w;
  w.key = {std::move(backend), std::move(device), "driver 1.0", "gemm", std::move(cls)};
  w.config = std::move(config), w.gflops = gflops;
  w.default_config = std::move(def), w.default_gflops = def_gflops;
  w.problem = "gemm:m1024n1024k1024:f32", w.tune_s = 31.25, w.tuned_at = "2026-12-05T10:00:00Z";
  return w;
}

TEST(CommandReports, TuneWinnersTableAndListing) {
  const std::vector<TuneWinner> v = {
      winner("vulkan", "llvmpipe", "m1024n1024k1024:f32", "wide:tm32tn32:8x1", 48.04, "reg16",
             16.4),
      winner("vulkan", "llvmpipe", "m64n64k64:f32", "reg16", 2.5, "reg16", 0),
      winner("opencl", "cpu", "m1024n1024k1024:f32", "packed:mr6nv4kc1024rb4o1", 375.8, "packed",
             0)};
  expect_golden("tune_list.txt",
                render(reports::tuning_reporter("table"), reports::TuneListing{v, "/tmp/r.db"}));
  expect_golden("tune_list.json",
                render(reports::tuning_reporter("json"), reports::TuneListing{v, "/tmp/r.db"}));
  EXPECT_EQ(render(reports::tuning_reporter("table"), reports::TuneListing{{}, "/tmp/r.db"}),
            "no tuned winners in /tmp/r.db (run 'tierbench tune')\n");
  // The rows `tune` prints as it goes.
  const std::string rows =
      reports::tune_table_header() + reports::tune_table_row(v[0], "tuned on " + v[0].problem) +
      reports::tune_table_untuned_row(v[1].key, "not tuned: time budget spent");
  expect_golden("tune_rows.txt", rows);
}

profiles::Calibration calibration() {
  std::ifstream f(test::report_data("calibration.json"));
  const json j = json::parse(f);
  auto c = profiles::calibration_from_json(j);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? *c : profiles::Calibration{};
}

TEST(CommandReports, Calibration) {
  const auto c = calibration();
  ASSERT_FALSE(c.entries.empty());
  expect_golden("calibration.txt", render(reports::calibration_reporter("table"), c));
  EXPECT_EQ(render(reports::calibration_reporter("json"), c), profiles::to_json(c).dump(1) + "\n");
}

profiles::ModelEstimate estimate(std::string backend, double latency) {
  profiles::ModelEstimate e;
  e.workload = "mobilenetv2:b1:f32", e.backend = std::move(backend), e.source = "predicted";
  e.latency_ms = latency, e.read_ms = 1.5, e.compile_ms = 12.25, e.upload_ms = 0.5;
  e.first_inference_ms = 0.75, e.peak_memory_bytes = 48u << 20, e.weight_bytes = 14u << 20;
  e.layers = {{"conv0", latency / 2, 401408}, {"fc", latency / 2, 4000}};
  return e;
}

TEST(CommandReports, Prediction) {
  reports::Prediction p{"mobilenetv2:b1:f32", "threads=2", "", {estimate("onednn", 3.36)}, false};
  auto infeasible = estimate("vulkan", -1);
  infeasible.feasible = false, infeasible.why = "vulkan has no calibration for f32";
  infeasible.layers.clear();
  p.estimates.push_back(infeasible);
  expect_golden("predict.txt", render(reports::prediction_reporter("table"), p));
  expect_golden("predict.json", render(reports::prediction_reporter("json"), p));
  p.layers = true, p.projected_onto = "Raspberry Pi 5";
  expect_golden("predict_layers.txt", render(reports::prediction_reporter("table"), p));
}

// run --profile-layers: after the results and their configurations, each profiled tier's ops
// by share and its slowest layers; a profile that failed says why.
TEST(CommandReports, LayerProfileAfterTheResultsTable) {
  ResultRecord r;
  r.kind = "workload", r.name = "tiny:b1:f32", r.backend = "onednn", r.status = Status::passed;
  r.median_s = 0.0012, r.p10_s = 0.0011, r.p90_s = 0.0014;
  r.metrics["layers"] = {{"runs", 20},
                         {"latency_median_s", 0.00121},
                         {"layers_sum_s", 0.00115},
                         {"all_timed", true},
                         {"columns", {"name", "op", "median_s"}},
                         {"rows",
                          {{"stem", "conv", 0.0004},
                           {"block.dw", "conv", 0.0002},
                           {"block.add", "add", 0.00005},
                           {"head", "gemm", 0.0005}}}};
  ResultRecord bad = r;
  bad.backend = "vulkan";
  bad.metrics["layers"] = {{"error", "segment at stem: device lost"}};
  std::ostringstream os;
  reports::print_results_table(os, {r, bad});
  expect_golden("layer_profile.txt", os.str());
}

TEST(CommandReports, PredictorValidation) {
  using Check = reports::PredictionCheck;
  reports::PredictorValidation v;
  // Runs before the calibration: 3.5 ms (the prediction within 10% of it, not of 4.14), 2.6 ms.
  v.rows = {
      Check{"onednn-t1", "onednn", "f32", "mobilenetv2:b1:f32", 4.14, 3.36, -0.2, 0.55, NAN, 3.5},
      Check{"onednn-t1", "onednn", "int8", "person-detect:b1:int8", 0.28, 0.47},
      Check{"onednn-t2", "onednn", "f32", "mobilenetv2:b1:f32", 2.5, 2.45, 0.05, NAN, 0.48, 2.6},
      Check{"opencl", "opencl", "f32", "mobilenetv2:b1:f32", 40, 43, NAN, NAN, 0.02}};
  v.transfer["onednn-t1 from onednn-t2"] = {
      Check{"onednn-t1", "onednn", "f32", "mobilenetv2:b1:f32", 4.14, 2.45}};
  v.ops = {reports::OpCheck{"onednn-t1", "gemm", 213, 21.73, 14.09},
           reports::OpCheck{"onednn-t1", "conv", 104, 3.94, 4.28},
           reports::OpCheck{"opencl", "conv", 52, 38.5, 41.2},
           reports::OpCheck{"opencl", "(outside layers)", 0, 12.1, 0.9}};
  expect_golden("validate_predictor.txt", render(reports::validation_reporter("table"), v));
  expect_golden("validate_predictor.json", render(reports::validation_reporter("json"), v));
}

TEST(CommandReports, DecisionEvaluation) {
  profiles::DecisionEvaluation ev;
  ev.name = "local profile (predictor)", ev.scenarios = 40, ev.agree = 38, ev.both_none = 2;
  ev.engine_none_oracle_runs = 1, ev.infeasible_choices = 0, ev.fidelity_lost = 1;
  ev.regrets = {0, 0, 0.01, 0.2}, ev.contested = 10, ev.contested_agree = 9;
  ev.contested_regrets = {0, 0.2};
  ev.by_network = {{"5G", {19, 20}}, {"offline", {19, 20}}};
  ev.oracle_kinds = {{"local", 30}, {"cloud", 10}};
  ev.engine_kinds = {{"local", 31}, {"cloud", 9}};
  ev.examples = {{"5G / mobilenetv2:b1:f32 / cold", "device onednn f32", "cloud", 0.2}};
  ev.skipped = {"onnx-0123456789ab:b1:f32"};
  auto shareable = ev;
  shareable.name = "shareable profile", shareable.constraint_violations = 1;
  const reports::DecisionEvaluations all = {ev, shareable};
  expect_golden("validate_decisions.txt", render(reports::decision_reporter("table"), all));
  expect_golden("validate_decisions.json", render(reports::decision_reporter("json"), all));
}

TEST(CommandReports, ImportedModelListing) {
  reports::ModelListing m;
  m.path = "models/tiny.onnx";
  m.summary.opset = 17, m.summary.producer = "pytorch 2.1";
  m.summary.input_name = "input", m.summary.input_shape = {1, 3, 224, 224};
  m.summary.input_nhwc = true;
  m.summary.op_counts = {{"Conv", 52}, {"Relu", 35}, {"Gemm", 1}};
  m.summary.notes = {"LayerNormalization epsilon 1e-12 kept"};
  m.figures = {
      {"workload", "onnx-0123456789ab:b1:f32"},
      {"model", {{"hash", "0123456789ab"}}},
      {"macs", 300774272},
      {"params", 3504872},
      {"weight_bytes", 14019488},
      {"peak_activation_bytes", 4816896},
      {"kernel_layers", 53},
      {"host_layers", 35},
      {"backends",
       {{{"name", "onednn"}, {"supported", true}},
        {{"name", "vulkan"}, {"supported", false}, {"reason", "unavailable: no Vulkan loader"}}}}};
  expect_golden("list_model.txt", render(reports::model_reporter("table"), m));
  EXPECT_EQ(render(reports::model_reporter("json"), m), m.figures.dump(2) + "\n");
}

// Above a comparison, the switches two runs set differently: every format of `compare`.
TEST(CommandReports, ComparisonSwitchLines) {
  const json base = {{"switches", {{"TB_ONEDNN_ATTENTION", "fused"}, {"OMP_NUM_THREADS", "2"}}}};
  const json cur = {{"switches", {{"OMP_NUM_THREADS", "4"}, {"TB_MADE_UP", "x"}}}};
  const auto sw = env::compare_switches(base, cur);
  compare::Comparison c;  // an empty comparison: the lines are what is pinned here
  std::string all;
  for (const char* f : {"terminal", "markdown", "junit", "json"}) {
    const auto d = compare::format_with_switches(f, c, sw);
    all += std::string("== ") + f + " (text)\n" + d.text + "== " + f + " (aside)\n" + d.aside;
  }
  expect_golden("compare_switches.txt", all);
  const auto none = compare::format_with_switches("terminal", c, env::compare_switches(base, base));
  EXPECT_EQ(none.text, compare::format_terminal(c));
  EXPECT_EQ(compare::switch_lines(env::compare_switches(json::object(), cur), "> ")
                .rfind("> switches not compared: ", 0),
            0u);
}

}  // namespace
}  // namespace tb

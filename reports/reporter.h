// One small reporter interface for every document tierbench renders for people or tools, after
// google/benchmark's BenchmarkReporter: a reporter writes one document in one format to a
// stream, and each family below lists its formats, so that a command asks for a reporter by the
// format name its user typed. Every format is pinned byte for byte by
// tests/reports/test_reporter_formats.cpp.
//
//   family       document                     formats
//   comparison   compare::Comparison          terminal, markdown, junit, json
//   run          a stored run (store, run id)  table, json (tierbench.results/1), gbench, csv
//   probe        a probe report (JSON)        table, json
//   listing      what `tierbench list` lists  table, json
//   tuning       the stored tuned winners     table, json      (`tune --list`)
//   model        an imported ONNX model       table, json      (`list --model`)
//   calibration  profiles::Calibration        table, json      (`calibrate`)
//   prediction   a tier predicted per backend table, json      (`predict`)
//   validation   predictions against runs     table, json      (`validate-predictor`)
//   decisions    the engine against the oracle table, json     (`validate-decisions`)
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare.h"
#include "decision_table.h"
#include "model_table.h"
#include "predictor_tables.h"
#include "result.h"
#include "store.h"
#include "tune_table.h"

namespace tb::reports {

template <class Doc>
class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual std::string_view format() const = 0;
  // Writes the document; an error (an unreadable store) leaves the stream untouched.
  virtual Result<void> report(std::ostream& os, const Doc& doc) const = 0;
};

// A run as the store holds it: reporters of a run read it from there, never from a runner.
struct StoredRun {
  Store& store;
  std::int64_t run_id = 0;
};

// What `tierbench list` lists: "backends", "workloads" or "suites", and the array of them.
struct Listing {
  std::string kind;
  nlohmann::json items;
};

// The stored winners of `tierbench tune --list`, and the store they came from.
struct TuneListing {
  std::vector<TuneWinner> winners;
  std::string store_path;
};

// One evaluation per engine (`validate-decisions`).
using DecisionEvaluations = std::vector<profiles::DecisionEvaluation>;

// nullptr for a format the family does not have (the caller names the formats it has).
std::unique_ptr<Reporter<compare::Comparison>> comparison_reporter(std::string_view format);
std::unique_ptr<Reporter<StoredRun>> run_reporter(std::string_view format);
std::unique_ptr<Reporter<nlohmann::json>> probe_reporter(std::string_view format);
std::unique_ptr<Reporter<Listing>> listing_reporter(std::string_view format);
// The families below have the formats "table" and "json".
std::unique_ptr<Reporter<TuneListing>> tuning_reporter(std::string_view format);
std::unique_ptr<Reporter<ModelListing>> model_reporter(std::string_view format);
std::unique_ptr<Reporter<profiles::Calibration>> calibration_reporter(std::string_view format);
std::unique_ptr<Reporter<Prediction>> prediction_reporter(std::string_view format);
std::unique_ptr<Reporter<PredictorValidation>> validation_reporter(std::string_view format);
std::unique_ptr<Reporter<DecisionEvaluations>> decision_reporter(std::string_view format);

const std::vector<std::string>& comparison_formats();
const std::vector<std::string>& run_formats();
const std::vector<std::string>& probe_formats();
const std::vector<std::string>& listing_formats();

}  // namespace tb::reports

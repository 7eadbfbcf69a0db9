// The predictor's documents (profiles/predictor.h): a stored calibration (`tierbench
// calibrate`, `predict --show-calibration`), a tier's prediction per backend (`tierbench
// predict`), and the predictions checked against measured tiers (`tierbench
// validate-predictor`). Reporter families "calibration", "prediction" and "predictor validation"
// in reporter.h.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "estimate.h"
#include "predictor.h"

namespace tb::reports {

// Per backend and dtype: each op class's node-time range, median efficiency and compile time,
// then the entry's graph, transfer and first-inference figures.
std::string format_calibration(const profiles::Calibration& c);

struct Prediction {
  std::string workload;                            // the tier predicted, as `run` names it
  std::string calibration;                         // the calibration's label
  std::string projected_onto;                      // a catalogue device, or empty: this device
  std::vector<profiles::ModelEstimate> estimates;  // one per backend
  bool layers = false;  // the table adds each backend's per-layer estimates
};
std::string format_prediction(const Prediction& p);
nlohmann::json prediction_json(const Prediction& p);  // the estimates (decide::to_json each)

// One measured tier against its prediction.
struct PredictionCheck {
  std::string config, backend, dtype, workload;
  double measured_ms = 0, predicted_ms = 0;
  double cold_err = NAN, memory_err = NAN;  // relative, NaN where not measured
  // Other processes' share of the CPUs while the tier was timed (NaN: not known).
  double other_cpu_share = NAN;
  // The same tier timed again in a run before the calibration, minutes from measured_ms (NaN:
  // not timed): how far the machine moves a measurement by itself.
  double repeat_ms = NAN;
  double err() const { return predicted_ms / measured_ms - 1; }
  double noise() const { return repeat_ms / measured_ms - 1; }
  // The error against the nearer of the two measurements.
  double nearer_err() const {
    const double e = err();
    return std::isnan(repeat_ms) || std::abs(e) <= std::abs(predicted_ms / repeat_ms - 1)
               ? e
               : predicted_ms / repeat_ms - 1;
  }
};

// One op on one configuration, over the layers of every tier measured there (their layer
// profiles, run --profile-layers): where the predictor's tier errors come from.
struct OpCheck {
  std::string config, op;
  int layers = 0;
  double measured_ms = 0, predicted_ms = 0;  // summed over those layers
  double err() const { return predicted_ms / measured_ms - 1; }
};

struct PredictorValidation {
  std::vector<PredictionCheck> rows;
  std::vector<OpCheck> ops;  // per configuration, the ops by measured time (largest first)
  // Leave one configuration out: "A from B" (A's tiers predicted from B's calibration).
  std::map<std::string, std::vector<PredictionCheck>> transfer;
};
// The rows, then the share within 5, 10 and 20% and the median errors over all tiers, per
// configuration, backend, dtype, tier and transfer, the machine's own noise (the median
// difference between a tier's two runs, and the share within 10% of the nearer of them), and
// the verdict on the >= 95%-within-10% target.
std::string format_predictor_validation(const PredictorValidation& v);
nlohmann::json predictor_validation_json(const PredictorValidation& v);

}  // namespace tb::reports

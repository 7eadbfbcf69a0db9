// The decision engine against the oracle (profiles/decide/evaluate.h), as `tierbench
// validate-decisions` prints it: one paragraph or one JSON object per engine (reporter family
// "decision evaluation" in reporter.h).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "evaluate.h"

namespace tb::reports {

std::string format_decision_evaluation(const profiles::DecisionEvaluation& ev);
nlohmann::json decision_evaluation_json(const profiles::DecisionEvaluation& ev);

}  // namespace tb::reports

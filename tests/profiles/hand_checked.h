// The hand-checked decision scenarios (profiles/decide/scenarios/hand_checked.json), for the
// engine and CLI tests.
#pragma once

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace tb::test {

inline nlohmann::json hand_checked_scenarios() {
  std::ifstream f(TB_HAND_CHECKED_JSON);
  if (!f) throw std::runtime_error("cannot read " TB_HAND_CHECKED_JSON);
  return nlohmann::json::parse(f)["scenarios"];
}

}  // namespace tb::test

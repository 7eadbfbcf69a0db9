// The probe report (probes/probe_report.h: run_probe) as fixed-width text tables, one block per
// section; `tierbench probe` prints it. Reads only the JSON, so that it renders a stored report
// as well as a fresh one.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tb {

// Fixed-width text tables of a report made by run_probe (tolerates absent sections).
std::string format_probe_table(const nlohmann::json& report);

}  // namespace tb

// A run's results as Google Benchmark's JSON, for existing tools (compare.py, Bencher,
// github-action-benchmark). The file holds raw timings: for CI artifacts, not for leaving the
// device.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "result.h"
#include "store.h"

namespace tb::io {

// Google Benchmark's JSON: one entry per sample (run_type "iteration", repetition_index) plus
// median/mean/stddev aggregates per benchmark, times in ns.
Result<nlohmann::json> export_gbench(Store& store, std::int64_t run_id);

}  // namespace tb::io

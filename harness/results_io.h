// Results leaving or entering the store as files: the full-fidelity JSON that `compare` and
// `import` read (every field and raw sample of a run) and the sample sets `compare` gates on
// (the Google Benchmark-compatible export is a reporter: reports/gbench_export.h). These files hold
// raw timings: they are for CI artifacts, not for leaving the device.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "compare.h"
#include "result.h"
#include "store.h"

namespace tb::io {

// {"schema": "tierbench.results/1", "run": {...}, "results": [{... "samples": [...]}, ...]}
Result<nlohmann::json> export_run(Store& store, std::int64_t run_id);
// Stores an exported run as a new run; returns its id.
Result<std::int64_t> import_run(Store& store, const nlohmann::json& doc);
// Reads and checks a tierbench.results/1 file (clear errors for missing, unreadable, malformed).
Result<nlohmann::json> read_results_file(const std::string& path);

// Every stored field of a result as JSON (samples only when asked): the one serialisation that
// `export`, `run --json` and the reports share.
nlohmann::json result_to_json(const ResultRecord& r, bool with_samples);

// The benchmark key compare matches on: "<problem>@<backend>" (device appended as "#i" when a
// backend has more than one).
std::string benchmark_key(const ResultRecord& r);

// Samples of every timed result (passed or mistrusted, with samples) of a run or a file; a key
// seen several times (repetitions) gets its samples concatenated.
compare::SampleSet sample_set(const std::vector<ResultRecord>& results);
Result<std::vector<ResultRecord>> results_from_json(const nlohmann::json& doc);

}  // namespace tb::io

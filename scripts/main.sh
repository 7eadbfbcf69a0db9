#!/usr/bin/env bash
# The main job: set up on first use, probe this device, tune the kernels the quick suite runs
# and calibrate the predictor (first use only: later runs reuse the stored winners and
# calibration), run the quick suite (kernels and model tiers on every available backend, each
# validated against the reference before it is timed), then print the privacy-preserving
# capability profile. Everything measured goes to the embedded SQLite store
# ($XDG_DATA_HOME/tierbench/results.db, or --db PATH given as the first arguments).
# Extra arguments are passed to `tierbench run` (e.g. --suite full, --backend onednn).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
db=()
if [ "${1:-}" = "--db" ]; then db=(--db "$2"); shift 2; fi
build/release/tierbench "${db[@]}" probe --quick
# OpenCL and Vulkan GEMM winners for the quick suite's shape classes, within a fixed budget
# (TB_TUNE_BUDGET seconds); a class that has a winner is reused, not re-tuned. A tuner failure
# leaves the defaults in place and does not stop the job.
build/release/tierbench "${db[@]}" tune --suite quick --budget "${TB_TUNE_BUDGET:-90}" ||
  echo "main.sh: tuning failed (exit $?); the run uses the default configurations" >&2
# The predictor's calibration (tierbench predict / decide, the local profile): a few minutes on
# first use, kept after (tierbench calibrate measures again). A failure does not stop the job.
build/release/tierbench "${db[@]}" calibrate --if-missing ||
  echo "main.sh: calibration failed (exit $?); tierbench predict needs tierbench calibrate" >&2
status=0
build/release/tierbench "${db[@]}" run "$@" || status=$?
[ "$status" -le 1 ] || exit "$status"
echo
echo "capability profile (buckets only, safe to share):"
build/release/tierbench "${db[@]}" profile
# The report of this run, rendered from the store (HTML: charts; see also --format md|json).
report="$(dirname "${db[1]:-${XDG_DATA_HOME:-$HOME/.local/share}/tierbench/results.db}")/report.html"
build/release/tierbench "${db[@]}" report -o "$report"
echo "report: $report"
exit "$status"

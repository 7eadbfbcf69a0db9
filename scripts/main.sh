#!/usr/bin/env bash
# The main job: set up on first use, then probe this device and run the quick suite (kernels and
# model tiers on every available backend, each validated against the reference before it is
# timed). Everything measured goes to the embedded SQLite store
# ($XDG_DATA_HOME/tierbench/results.db, or --db PATH given as the first arguments).
# Extra arguments are passed to `tierbench run` (e.g. --suite full, --backend onednn).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
db=()
if [ "${1:-}" = "--db" ]; then db=(--db "$2"); shift 2; fi
build/release/tierbench "${db[@]}" probe --quick
exec build/release/tierbench "${db[@]}" run "$@"

#!/usr/bin/env bash
# The main job: set up on first use, then run tierbench's quick job on this device.
# Results go to the embedded SQLite store ($XDG_DATA_HOME/tierbench/results.db unless --db).
# Extra arguments are passed to `tierbench run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/release/tierbench run "$@"

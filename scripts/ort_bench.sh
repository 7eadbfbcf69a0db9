#!/usr/bin/env bash
# tierbench vs ONNX Runtime (CPU) on tierbench's exported ONNX models, same input and threads.
# Not part of the product build or the tests. Needs node and npm (Debian: nodejs npm) and a
# built tierbench (scripts/setup.sh). onnxruntime-node ships its CPU library inside the npm
# package; its install script only fetches GPU extras, so it is skipped (--ignore-scripts).
#   scripts/ort_bench.sh                          # the default tiers, 2 threads
#   scripts/ort_bench.sh --threads 4 --workload resnet50:b1:f32
#   scripts/ort_bench.sh --help
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$ROOT/scripts/ort_bench"
if [ ! -d "$DIR/node_modules/onnxruntime-node" ]; then
  (cd "$DIR" && npm install --ignore-scripts --no-audit --no-fund)
fi
cd "$ROOT"
THREADS=(--threads 2)
for a in "$@"; do [ "$a" = "--threads" ] && THREADS=(); done
exec node "$DIR/bench.mjs" --tierbench "${TIERBENCH:-$ROOT/build/release/tierbench}" "${THREADS[@]}" "$@"

#!/usr/bin/env bash
# Shows that the regression gate works on this machine: an A/A comparison (the same suite run
# twice) must flag nothing, and a known slowdown injected into one benchmark (TB_TEST_SLOWDOWN,
# test-only: adds that fraction of each sample's time as extra busy work) must be flagged.
#
#   scripts/gate_experiment.sh [THRESHOLD] [BACKENDS...]     defaults: 0.03 onednn opencl
#
# Prints the false-positive count of the A/A comparison and whether each injected slowdown
# (5% and 10%) was detected; exits 1 if the gate was wrong either way.
set -euo pipefail
cd "$(dirname "$0")/.."
threshold="${1:-0.03}"
shift || true
backends=("${@:-onednn opencl}")
[ $# -eq 0 ] && backends=(onednn opencl)
tb=build/release/tierbench
[ -x "$tb" ] || scripts/setup.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/gate.db"
target="gemm:m1024n1024k1024:f32@onednn"

bargs=()
for b in "${backends[@]}"; do bargs+=(--backend "$b"); done
run() {  # run the suite; prints the new run id
  "$tb" --db "$db" run --json --suite gemm-shapes "${bargs[@]}" --repetitions 5 --interleave \
    --max-time 0.3 --target-ci 0.005 | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])'
}
gate() {  # gate BASE CURRENT -> JSON comparison on stdout, never fails the script
  "$tb" --db "$db" compare "$1" "$2" --threshold "$threshold" --format json || true
}
count() {  # count VERDICT [KEY] < comparison JSON
  python3 -c '
import json, sys
rows = json.load(sys.stdin)["benchmarks"]
verdict, key = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
print(sum(1 for r in rows if r["verdict"] == verdict and (key is None or r["key"] == key)))' "$@"
}

echo "threshold $threshold, backends ${backends[*]}, target $target"
a=$(run)
b=$(run)
aa=$(gate "$a" "$b")
n=$(echo "$aa" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["benchmarks"]))')
fp=$(echo "$aa" | count regression)
noisy=$(echo "$aa" | count too_noisy)
echo "A/A: $fp false regressions of $n benchmarks ($noisy too noisy to judge)"
echo "$aa" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["benchmarks"]:
    if r["verdict"] == "regression":
        print("    false: %s ratio %.3f p %.2g" % (r["key"], r["ratio"], r["p_value"]))' 

ok=1
[ "$fp" -eq 0 ] || ok=0
for frac in 0.05 0.10; do
  c=$(TB_TEST_SLOWDOWN="$target=$frac" run)
  cmp=$(gate "$a" "$c")
  hit=$(echo "$cmp" | count regression "$target")
  others=$(($(echo "$cmp" | count regression) - hit))
  ratio=$(echo "$cmp" | python3 -c 'import json,sys; print(next(("%.3f" % r["ratio"]) for r in json.load(sys.stdin)["benchmarks"] if r["key"] == sys.argv[1]))' "$target")
  echo "injected +$frac on $target: detected=$hit (measured ratio $ratio), false regressions elsewhere=$others"
  echo "$cmp" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["benchmarks"]:
    if r["verdict"] == "regression" and r["key"] != sys.argv[1]:
        print("    false: %s ratio %.3f p %.2g" % (r["key"], r["ratio"], r["p_value"]))' "$target"
  [ "$hit" -eq 1 ] && [ "$others" -eq 0 ] || ok=0
done
[ "$ok" -eq 1 ] && echo "gate: correct" || { echo "gate: WRONG"; exit 1; }

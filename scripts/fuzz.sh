#!/usr/bin/env bash
# Long fuzzing runs of the libFuzzer targets in tests/fuzz (clang, ASan + UBSan): builds the
# `fuzz` preset, then fuzzes each target in turn and prints its executions and findings.
# Usage: scripts/fuzz.sh [--seconds N] [--jobs J] [TARGET...]    (default: 600 s, every target)
#   TARGET: problem safetensors results profile decide onnx. New interesting inputs collect in
#   build/fuzz/fuzz-corpus/TARGET; crashes in build/fuzz/fuzz-artifacts/ (add each as
#   tests/fuzz/corpus/TARGET/regress-WHAT once fixed: the replay tests then run it forever).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
jobs=1
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(problem safetensors results profile decide onnx)
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t (valid: ${all[*]})" >&2; exit 2; }
done

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "${TB_JOBS:-$(nproc)}"

found=0
for t in "${targets[@]}"; do
  work=build/fuzz/fuzz-corpus/$t
  log=build/fuzz/fuzz-$t.log
  mkdir -p "$work" build/fuzz/fuzz-artifacts
  rc=0
  par=()  # -jobs > 1 forks workers that share the corpus directory (one log each: fuzz-N.log)
  if ((jobs > 1)); then par=(-jobs="$jobs" -workers="$jobs"); fi
  build/fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${par[@]}" \
    -artifact_prefix=build/fuzz/fuzz-artifacts/"$t"- "$work" tests/fuzz/corpus/"$t" \
    >"$log" 2>&1 || rc=$?
  runs=$({ cat "$log" fuzz-*.log 2>/dev/null || true; } |
         awk '/^stat::number_of_executed_units/ {s += $2} END {print s + 0}')
  if ((rc)); then
    found=1
    echo "$t: FINDING after $runs executions (exit $rc): see $log and build/fuzz/fuzz-artifacts/"
    grep -m3 -E 'ERROR: |runtime error:|SUMMARY:' "$log" || true
  else
    echo "$t: $runs executions in ${seconds} s, no findings; $(ls "$work" | wc -l) inputs in $work"
  fi
  rm -f fuzz-*.log
done
exit "$found"

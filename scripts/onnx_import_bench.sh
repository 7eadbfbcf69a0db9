#!/usr/bin/env bash
# Your own ONNX model path, measured: MobileNetV2, ResNet-50 and BERT-base (12 layers, seq 128)
# exported by tierbench export-model, imported back with `tierbench run --model FILE` in the same
# run as the built-in tier on each backend (target: imported within 5% of the tier), and ONNX
# Runtime (CPU) on the same file, 2 threads. Not part of the build or the tests; drives
# scripts/ort_bench.sh --imported (node and npm needed, see there).
#   scripts/onnx_import_bench.sh                          # onednn, opencl, vulkan
#   scripts/onnx_import_bench.sh --tb-backend onednn --workload resnet50:b1:f32
#   scripts/onnx_import_bench.sh --hf [PAIRS] [BACKEND...]
# --hf: SmolLM-135M in Hugging Face's decoder-with-past form (scripts/hf_decoder.py, seeded
# weights, 538 MB in a temporary directory), one decode step after 127 tokens through
# `tierbench run --model`, alternated PAIRS times (default 3) with the built-in tier
# llm-135m:decode:kv128:f32 on each backend (default onednn opencl vulkan), 2 threads; prints
# both medians per pair and the median of the pairs' ratios, then ONNX Runtime (CPU) on the file.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--hf" ]; then
  shift
  pairs=3
  if [[ "${1:-}" =~ ^[0-9]+$ ]]; then pairs="$1"; shift; fi
  backends=("$@")
  ((${#backends[@]})) || backends=(onednn opencl vulkan)
  T="${TIERBENCH:-$ROOT/build/release/tierbench}"
  dir="$(mktemp -d)"
  trap 'rm -rf "$dir"' EXIT
  /usr/bin/python3 "$ROOT/scripts/hf_decoder.py" "$dir/smollm.onnx"
  model=(--model "$dir/smollm.onnx" --input input_ids=1x1
         --input past_key_values.0.key=1x3x127x64)
  median() {  # the median of one run's --json output
    /usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)["results"][0]
print(r["median_s"] * 1e3 if r["status"] == "passed" else "nan")'
  }
  for b in "${backends[@]}"; do
    ratios=()
    for ((i = 1; i <= pairs; i++)); do
      imp=$("$T" --db "$dir/store.db" run "${model[@]}" -b "$b" --threads 2 --json | median)
      tier=$("$T" --db "$dir/store.db" run -w llm-135m:decode:kv128:f32 -b "$b" --threads 2 \
        --json | median)
      ratios+=("$(/usr/bin/python3 -c "print(f'{$imp / $tier:.3f}')")")
      printf '%-8s pair %d: imported %.2f ms, tier %.2f ms, ratio %s\n' "$b" "$i" "$imp" "$tier" \
        "${ratios[-1]}"
    done
    printf '%-8s imported / tier, median of %d pairs: %s\n' "$b" "$pairs" \
      "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')"
  done
  # ONNX Runtime (CPU) on the same file and step, 2 threads: the anchor.
  "$ROOT/scripts/ort_bench.sh" --tierbench "$T" --hf-model "$dir/smollm.onnx" --past 127 \
    --kv-shape 3x64
  exit 0
fi
args=(--imported)
backend=0 workload=0
for a in "$@"; do
  case "$a" in
    --tb-backend) backend=1 ;;
    --workload | -w) workload=1 ;;
  esac
done
((backend)) || args+=(--tb-backend onednn --tb-backend opencl --tb-backend vulkan)
((workload)) || args+=(--workload mobilenetv2:b1:f32 --workload resnet50:b1:f32
                       --workload bert-base:seq128:f32)
exec "$ROOT/scripts/ort_bench.sh" "${args[@]}" "$@"

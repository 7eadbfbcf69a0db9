#!/usr/bin/env bash
# Your own ONNX model path, measured: MobileNetV2, ResNet-50 and BERT-base (12 layers, seq 128)
# exported by tierbench export-model, imported back with `tierbench run --model FILE` in the same
# run as the built-in tier on each backend (target: imported within 5% of the tier), and ONNX
# Runtime (CPU) on the same file, 2 threads. Not part of the build or the tests; drives
# scripts/ort_bench.sh --imported (node and npm needed, see there).
#   scripts/onnx_import_bench.sh                          # onednn, opencl, vulkan
#   scripts/onnx_import_bench.sh --tb-backend onednn --workload resnet50:b1:f32
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
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

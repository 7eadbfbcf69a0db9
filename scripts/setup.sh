#!/usr/bin/env bash
# Installs what tierbench needs from Debian 12 (apt-get, non-interactive, idempotent: it does
# nothing when every package is present), then configures and builds the release preset.
# Usage: scripts/setup.sh [--no-build]          (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git clang-format
  libdnnl-dev                                   # oneDNN: the CPU backend
  libvulkan-dev glslc mesa-vulkan-drivers vulkan-tools vulkan-validationlayers  # Vulkan (lavapipe)
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo  # OpenCL (PoCL on the CPU)
  nlohmann-json3-dev libsqlite3-dev sqlite3      # JSON, the results store
  libhwloc-dev libcli11-dev libfmt-dev           # topology, arguments, formatting
  libgtest-dev libgmock-dev libbenchmark-dev     # tests and benchmarks
  libclblast-dev clpeak                          # anchors for the OpenCL benchmarks
  libonnx-dev libprotobuf-dev                    # export-model: ONNX files
  libssl-dev                                     # ONNX import: SHA-256 of the model file
  python3-onnx python3-numpy                     # tests: the ONNX import corpus (make_models.py)
  chromium libpng-dev                            # the HTML report's browser test (headless)
  clang libclang-rt-dev                          # libFuzzer + sanitizer runtimes (fuzz preset)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0

JOBS="${TB_JOBS:-$(nproc)}"
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"

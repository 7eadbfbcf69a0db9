#!/usr/bin/env bash
# The whole test suite: set up on first use, build everything, run every test with ctest.
# Usage: scripts/test.sh [--sanitize | --sanitize-only] [--fuzz] [CTEST ARGS...]
#   (default)        the release preset: build, then every test
#   --sanitize       then the debug preset too (ASan + UBSan; tests/sanitizers/): a second build
#                    and every test under the sanitizers. After the release suite it reuses the
#                    release build's optimised SPIR-V (build/spirv-cache) and so finds the same
#                    shaders, and the same OpenCL programs, in the drivers' caches that suite filled
#   --sanitize-only  the debug preset alone, without the release build
#   --fuzz           then the fuzz preset (clang): each libFuzzer target for TB_FUZZ_SECONDS (10) s
# CTEST ARGS go to every ctest run. TB_JOBS: build and test parallelism (default: the cores).
# CI (.ci/run) runs `--fuzz --sanitize`: tests/README.md has what each stage costs.
set -euo pipefail
cd "$(dirname "$0")/.."

release=1 sanitize=0 fuzz=0
while (($#)); do
  case "$1" in
    --sanitize) sanitize=1; shift ;;
    --sanitize-only) sanitize=1; release=0; shift ;;
    --fuzz) fuzz=1; shift ;;
    *) break ;;
  esac
done
JOBS="${TB_JOBS:-$(nproc)}"
stage() { echo "== test.sh: $1 ($(date -u +%H:%M:%S))"; }
failed=0

if ((release)); then
  stage "release: setup and build"
  scripts/setup.sh
  stage "release: tests"
  ctest --test-dir build/release --output-on-failure -j "$JOBS" --timeout 900 "$@" || failed=1
fi

if ((fuzz)); then
  stage "fuzz: build"
  scripts/setup.sh --no-build
  cmake --preset fuzz -DTB_FUZZ_SECONDS="${TB_FUZZ_SECONDS:-10}" >/dev/null
  cmake --build --preset fuzz -j "$JOBS"
  stage "fuzz: ${TB_FUZZ_SECONDS:-10} s per target"
  ctest --preset fuzz || failed=1
fi

if ((sanitize)); then
  stage "debug (ASan + UBSan): setup and build"
  scripts/setup.sh --no-build
  # After a release build the optimised SPIR-V is in build/spirv-cache: the same words cost
  # nothing to build, and lavapipe's shader cache already holds what the release suite compiled.
  spirv=()
  ((release)) && spirv=(-DTB_SPIRV_OPTIMIZE=ON)
  cmake --preset debug "${spirv[@]}" >/dev/null
  cmake --build --preset debug -j "$JOBS"
  stage "debug (ASan + UBSan): tests"
  # shellcheck source=tests/sanitizers/env.sh
  source tests/sanitizers/env.sh
  ctest --test-dir build/debug --output-on-failure -j "$JOBS" --timeout 1800 "$@" || failed=1
fi
stage "done"
exit "$failed"

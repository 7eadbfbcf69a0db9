#!/usr/bin/env bash
# The whole test suite: set up on first use, build everything, run every test with ctest.
# Usage: scripts/test.sh [--sanitize] [--fuzz] [CTEST ARGS...]
#   (default)   the release preset: build, then every test
#   --sanitize  the debug preset instead (ASan + UBSan, -O1; tests/sanitizers/): build, then
#               every test under the sanitizers (a second CI job: see tests/README.md)
#   --fuzz      then the fuzz preset (clang): each libFuzzer target for TB_FUZZ_SECONDS (10) s
# TB_JOBS: build and test parallelism (default: the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0 fuzz=0
while (($#)); do
  case "$1" in
    --sanitize) sanitize=1; shift ;;
    --fuzz) fuzz=1; shift ;;
    *) break ;;
  esac
done
JOBS="${TB_JOBS:-$(nproc)}"
stage() { echo "== test.sh: $1 ($(date -u +%H:%M:%S))"; }

if ((sanitize)); then
  stage "debug (ASan + UBSan): setup and build"
  scripts/setup.sh --no-build
  cmake --preset debug >/dev/null
  cmake --build --preset debug -j "$JOBS"
  stage "debug (ASan + UBSan): tests"
  # shellcheck source=tests/sanitizers/env.sh
  source tests/sanitizers/env.sh
  ctest --test-dir build/debug --output-on-failure -j "$JOBS" --timeout 1800 "$@"
else
  stage "release: setup and build"
  scripts/setup.sh
  stage "release: tests"
  ctest --test-dir build/release --output-on-failure -j "$JOBS" --timeout 900 "$@"
fi

if ((fuzz)); then
  stage "fuzz: build"
  cmake --preset fuzz -DTB_FUZZ_SECONDS="${TB_FUZZ_SECONDS:-10}" >/dev/null
  cmake --build --preset fuzz -j "$JOBS"
  stage "fuzz: ${TB_FUZZ_SECONDS:-10} s per target"
  ctest --preset fuzz
fi
stage "done"

#!/usr/bin/env bash
# The whole test suite: set up on first use, build everything, run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build/release --output-on-failure -j "${TB_JOBS:-$(nproc)}" --timeout 900 "$@"

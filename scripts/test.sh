#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds the debug preset
# (warnings as errors) and the ASan+UBSan preset, and runs every CTest test in both.
# Ends with CTest's summary line. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh

jobs=$(nproc)
for preset in debug asan; do
  echo "[test] === preset $preset: configure and build ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
done

status=0
for preset in debug asan; do
  echo "[test] === preset $preset: ctest ==="
  ctest --preset "$preset" || status=$?
done
exit $status

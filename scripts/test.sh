#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. installs what is missing (scripts/install-deps.sh) and checks the C++ formatting;
#   2. builds the debug preset (warnings as errors) and the ASan+UBSan preset, and runs every
#      unit and integration test in both;
#   3. runs the end-to-end tests on a real Docker Swarm (scripts/e2e.sh: images, stack deploy,
#      ctest -L e2e), then on a Swarm of three nodes (scripts/e2e-multinode.sh: docker-in-docker
#      nodes, a registry, ctest -L e2e-multinode). In CI (CI=true) Docker is installed and they
#      must pass; on a machine without a running Docker engine they are skipped, and the summary
#      says so.
# Ends with one line adding up every CTest run: "total: N passed, N failed".
# Usage: scripts/test.sh       (FAAS_E2E=0 skips step 3, FAAS_E2E=1 forces it; FAAS_MULTINODE=0
#                               skips its multi-node part)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh

results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0

# Runs a command, echoing its output, and keeps CTest's summary lines for the total.
run_ctest() {
  local rc=0
  "$@" 2>&1 | tee -a "$results" || rc=$?
  [ "$rc" -eq 0 ] || status=1
}

echo "[test] === clang-format: every C++ file as .clang-format says ==="
if ! git ls-files -z '*.cpp' '*.h' | xargs -0 clang-format --dry-run --Werror; then
  echo "[test] clang-format: the files above are not formatted (clang-format -i FILE)"
  status=1
fi

# doctest_discover_tests hands CTest a list: a ';' in a test's name splits it in two names that
# match no test, and both fail.
if git grep -n -E 'TEST_CASE\("[^"]*;' -- 'tests/*.cpp'; then
  echo "[test] the test names above contain ';', which CTest splits: write ',' instead"
  status=1
fi

jobs=$(nproc)
for preset in debug asan; do
  echo "[test] === preset $preset: configure and build ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
done
for preset in debug asan; do
  echo "[test] === preset $preset: unit and integration tests ==="
  run_ctest ctest --preset "$preset" -LE e2e
done

e2e=${FAAS_E2E:-auto}
if [ "$e2e" = auto ]; then
  if [ "${CI:-}" = true ] || docker info >/dev/null 2>&1; then e2e=1; else e2e=0; fi
fi
if [ "$e2e" = 1 ]; then
  echo "[test] === e2e: real Docker Swarm ==="
  run_ctest scripts/e2e.sh
  if [ "${FAAS_MULTINODE:-1}" = 1 ]; then
    echo "[test] === e2e-multinode: a Swarm of a manager and two workers ==="
    run_ctest scripts/e2e-multinode.sh
  else
    echo "[test] === e2e-multinode: NOT RUN: FAAS_MULTINODE=0 ==="
  fi
elif [ "${FAAS_E2E:-auto}" = 0 ]; then
  echo "[test] === e2e: NOT RUN: FAAS_E2E=0 ==="
else
  echo "[test] === e2e: NOT RUN: no Docker engine is running here (CI=true or FAAS_E2E=1 installs one and runs them) ==="
fi

# The failed tests again, just above the total, so the last lines of a CI log name them.
failed_line='^[[:space:]]+[0-9]+ - .* \((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception|Not Run)\)$'
if grep -q -E "$failed_line" "$results"; then
  echo "[test] failed tests:"
  grep -E "$failed_line" "$results" | sed 's/^[[:space:]]*/[test]   /'
fi
awk '/tests passed, [0-9]+ tests failed out of [0-9]+/ {
       failed += $4; total += $NF }
     END { printf "total: %d passed, %d failed\n", total - failed, failed }' "$results"
exit $status

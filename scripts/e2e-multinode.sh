#!/usr/bin/env bash
# The multi-node end-to-end run (issue #14), as CI does it after scripts/e2e.sh:
#
#   1. a 1-manager + 2-worker Swarm of docker-in-docker nodes with a registry
#      (scripts/multinode.sh up; the host's own swarm is left alone)
#   2. every image of stack.yml pushed to its registry and stack.yml deployed on its manager
#      (scripts/multinode-stack.sh up)
#   3. build and run the tests labelled e2e-multinode against it, required to run
#   4. remove the stack and the cluster, leaving the host as it was
#
# Usage: scripts/e2e-multinode.sh [ctest arguments...]
# Environment:
#   BUILD_DIR        CMake build directory for the test binary (default build/e2e)
#   KEEP_CLUSTER=1   leave the cluster and its stack up afterwards (scripts/multinode.sh down
#                    removes them)
# Needs the images stack.yml names: scripts/build-images.sh and the stand-ins scripts/e2e.sh
# builds (scripts/multinode-stack.sh up says which are missing).
set -euo pipefail

readonly REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly BUILD_DIR=${BUILD_DIR:-$REPO/build/e2e}
readonly LOG_DIR=$REPO/build/docker
start=$SECONDS

say() { printf '[e2e-multinode] %4ss %s\n' "$((SECONDS - start))" "$*"; }
die() { printf '[e2e-multinode] %4ss ERROR: %s\n' "$((SECONDS - start))" "$*" >&2; exit 1; }

cleanup() {
  local status=$?
  if [[ ${KEEP_CLUSTER:-0} == 1 ]]; then
    say "KEEP_CLUSTER=1: leaving the cluster up (scripts/multinode.sh down removes it)"
  else
    "$REPO/scripts/multinode-stack.sh" down || true
    "$REPO/scripts/multinode.sh" down || true
  fi
  exit "$status"
}

mkdir -p "$LOG_DIR"
trap cleanup EXIT

"$REPO/scripts/multinode.sh" up
"$REPO/scripts/multinode-stack.sh" up

say "building the multi-node tests in $BUILD_DIR"
if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    >"$LOG_DIR/e2e-multinode-cmake.log" 2>&1 ||
    { tail -n 30 "$LOG_DIR/e2e-multinode-cmake.log" >&2; die "cmake configure failed"; }
fi
cmake --build "$BUILD_DIR" --target gateway_multinode_e2e_test faas -j2 \
  >"$LOG_DIR/e2e-multinode-build.log" 2>&1 ||
  { tail -n 30 "$LOG_DIR/e2e-multinode-build.log" >&2; die "building the tests failed"; }

eval "$("$REPO/scripts/multinode-stack.sh" env)"
export FAAS_MN_REQUIRED=1 FAAS_E2E_REPORT=$BUILD_DIR/e2e-multinode-report.txt
rm -f "$FAAS_E2E_REPORT"
say "running ctest -L '^e2e-multinode\$' against the gateway on $FAAS_E2E_GATEWAY_HOST"
test_status=0
(cd "$BUILD_DIR" && ctest -L '^e2e-multinode$' --output-on-failure --timeout 600 "$@") ||
  test_status=$?
[[ -f $FAAS_E2E_REPORT ]] && sed 's/^/[e2e-multinode] report: /' "$FAAS_E2E_REPORT"
say "finished (status $test_status)"
exit "$test_status"

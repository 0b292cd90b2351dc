#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset, and starts the gateway
# with the sample functions deployed on the local provider (functions run as local fwatchdog
# processes; no Docker needed), and the faas CLI beside it. Prints the curl and the faas
# commands that call one. Ctrl-C drains and stops it.
#
#   scripts/run.sh            environment: port (8080), state_dir, and any gateway setting
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
echo "[run] building the release preset (first build takes a few minutes)"
cmake --preset release >/dev/null
cmake --build --preset release --target gateway fwatchdog faas queue-worker
exec gateway/run-local.sh build/release/bin

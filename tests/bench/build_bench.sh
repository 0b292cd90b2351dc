#!/usr/bin/env bash
# Builds from source through the gateway: the time from `POST /system/builds` to the first 200
# that carries the new handler's answer, one row per provider and template:
#
#   cold    a new function whose dependency file is new too, so the install step runs: npm
#           installs is-number (from the host's npm cache when it has it); requirements.txt
#           names requests on the Swarm (apt installs python3-requests in the image) and flask
#           locally (the host's python3 has it: the local builder installs nothing into the
#           system and PyPI is unreachable here, so a cold local python build only checks);
#           on the Swarm every layer after the template's base runs again
#   warm    the same function again with only its handler changed: the dependency layer is
#           reused (the local builder's hard links, Docker's layer cache) and a rolling update
#           replaces the running version
#   stages  of the warm build, from GET /system/builds/<id> (building, pushing, deploying)
#
#   tests/bench/build_bench.sh [local] [swarm]      (default: both)
#
# local: starts its own gateway (BIN_DIR, default build/release/bin) on a free loopback port with
#        a fresh state_dir, the project's templates, and no auth; stopped on exit.
# swarm: the stack of `KEEP_STACK=1 scripts/e2e.sh` (GATEWAY, default http://127.0.0.1:8080, its
#        credentials file or GATEWAY_PASSWORD); its gateway builds with the Docker engine and
#        pushes to the stack's registry. Without that stack the row says "not measured".
# Environment: TRIALS (3 warm builds per row, the median reported), LANGS ("python3-http node").
# Targets (issue #11): a handler-only change live in under 2 s locally, under 15 s on the Swarm.
# Only 127.0.0.1 is sent traffic; the functions it deploys are removed, also on failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/tests/bench/lib.sh"
measure="$here/tests/bench/build_bench_measure.py"
bin=${BIN_DIR:-$here/build/release/bin}
trials=${TRIALS:-3}
read -r -a langs <<<"${LANGS:-python3-http node}"
providers=("$@")
((${#providers[@]})) || providers=(local swarm)

work=$(mktemp -d /tmp/build-bench.XXXXXX)
gateway_pid=""
local_url=""
deployed=()  # "URL|AUTH|NAME" of every function made, removed on exit
cleanup() {
  for entry in "${deployed[@]}"; do
    IFS='|' read -r url auth name <<<"$entry"
    remove_function "$url" "$name" ${auth:+-u "$auth"}
  done
  stop_process "$gateway_pid"
  rm -rf "$work"
}
trap cleanup EXIT

# median of the numbers given, to 2 decimals
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }

# row PROVIDER URL AUTH LANG TARGET: one cold build, then TRIALS handler-only rebuilds.
row() {
  local provider=$1 url=$2 auth=$3 lang=$4 target=$5
  local name="bench-${lang//[^a-z0-9]/}-$provider-$$" salt="bench $$ $RANDOM"
  deployed+=("$url|$auth|$name")
  local out cold warm=() stages=""
  bench_log "$provider $lang: cold build"
  if ! out=$(python3 "$measure" "$url" "$auth" "$name" "$lang" "cold $RANDOM" "$salt"); then
    printf '%-7s %-13s %9s %9s  %-40s %s\n' "$provider" "$lang" "failed" "-" "$out" "$target"
    return
  fi
  cold=$(python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["seconds"])' <<<"$out")
  for ((i = 1; i <= trials; i++)); do
    bench_log "$provider $lang: handler-only rebuild $i/$trials"
    if ! out=$(python3 "$measure" "$url" "$auth" "$name" "$lang" "warm $i $RANDOM" "$salt"); then
      printf '%-7s %-13s %9s %9s  %-40s %s\n' "$provider" "$lang" "$cold" "failed" "$out" "$target"
      return
    fi
    warm+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])' <<<"$out")")
    stages=$(python3 -c 'import json,sys
b = json.load(sys.stdin)["build"]
print(" ".join("%s %.2f" % (k, v) for k, v in b.items() if v is not None and k != "queued"))' <<<"$out")
  done
  printf '%-7s %-13s %9s %9s  %-40s %s\n' "$provider" "$lang" "$cold" "$(median "${warm[@]}")" \
    "$stages" "$target"
}

start_local_gateway() {
  for program in gateway fwatchdog; do
    [[ -x $bin/$program ]] || { bench_log "missing $bin/$program (cmake --build --preset release)"; return 1; }
  done
  local port
  port=$(free_port)
  # The caller's environment, as scripts/run.sh starts the gateway, with Debian's runtimes
  # first on PATH: python3-http needs the python3 that apt's python3-flask and -waitress serve
  # (a pyenv python3 ahead on PATH has neither).
  PATH="/usr/local/bin:/usr/bin:/bin:$PATH" provider=local port="$port" state_dir="$work/state" watchdog_path="$bin/fwatchdog" \
    templates_dir="$here/templates" basic_auth=false \
    "$bin/gateway" >"$work/gateway.log" 2>&1 &
  gateway_pid=$!
  wait_http "http://127.0.0.1:$port/healthz" 15 || { cat "$work/gateway.log" >&2; return 1; }
  local_url="http://127.0.0.1:$port"
}

printf '%-7s %-13s %9s %9s  %-40s %s\n' provider lang "cold s" "warm s" "warm build stages (s)" target
for provider in "${providers[@]}"; do
  case $provider in
    local)
      start_local_gateway
      for lang in "${langs[@]}"; do
        PYTHON_REQUIREMENT=flask row local "$local_url" "" "$lang" "< 2 s"
      done
      ;;
    swarm)
      url=${GATEWAY:-http://127.0.0.1:8080}
      credentials=${CREDENTIALS:-$here/build/e2e/e2e-credentials}
      password=${GATEWAY_PASSWORD:-}
      [[ -z $password && -r $credentials ]] && password=$(cat "$credentials")
      if [[ -z $password ]] || ! curl -fsS -m 3 -o /dev/null "$url/healthz"; then
        printf '%-7s %-13s %9s %9s  %-40s %s\n' swarm "${langs[*]}" "-" "-" \
          "not measured: no stack (KEEP_STACK=1 scripts/e2e.sh)" "< 15 s"
        continue
      fi
      for lang in "${langs[@]}"; do
        PYTHON_REQUIREMENT=requests row swarm "$url" "admin:$password" "$lang" "< 15 s"
      done
      ;;
    *) bench_log "unknown provider $provider (local, swarm)"; exit 1 ;;
  esac
done

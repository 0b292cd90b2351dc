#!/usr/bin/env bash
# Scale from zero: the time from a call to a function at 0 replicas to its 200, which the
# gateway holds while it scales the function up to its minimum (at least 1) and forwards once
# a replica is ready. One row per provider and function, as a Markdown table:
#
#   trials, failed   TRIALS times: POST /system/scale-function/<name> with 0 replicas, wait
#                    (bounded) until GET /system/function/<name> says replicas 0 and
#                    availableReplicas 0 and stays so for SETTLE s (locally also until no
#                    fwatchdog replica of it is left under the gateway, on the Swarm no container
#                    of the service, as `docker ps` sees them), then one POST
#                    /function/<name> on a new connection; a trial without a 200 failed
#   cold p50/p90/max seconds from sending that call to its whole 200, of the trials that passed
#   breakdown        ms from the first held call to: the scale request done / a replica
#                    reported by the provider / the first healthy probe (medians, from the
#                    gateway's "Ready for held calls" log lines)
#   burst 50         once more at zero, 50 calls at once: seconds to the last 200
#   warm p50         the same call with the replica running, the median of WARM calls
#   failures         what the failed trials got instead (status, "no answer", "not at zero")
#
# Functions: catservice (`cat` under the classic fwatchdog: a fork per call, the smallest
# replica there is), catservice-pause (the same, labelled com.openfaas.scale.zero-mode=pause:
# on the Swarm its task is frozen at zero, not removed, and "at zero" means no container of it
# running unpaused; the local provider has no pause mode) and python3-http built from source
# through POST /system/builds (a Flask app behind the watchdog in http mode: the start users
# wait for).
#
#   tests/bench/cold_start.sh [local] [swarm]      (default: both)
#
# local: starts its own gateway (BIN_DIR, default build/release/bin) on a free loopback port with
#        a fresh state_dir, the project's templates, and no auth; stopped on exit.
# swarm: the stack of `KEEP_STACK=1 scripts/e2e.sh` (GATEWAY, default http://127.0.0.1:8080, its
#        credentials file or GATEWAY_PASSWORD, user admin); catservice from the faas/catservice
#        image, python3-http built by the stack's gateway. Without that stack the rows say
#        "not measured".
# Environment: TRIALS (20), WARM (5), SETTLE (0.5), ZERO_TIMEOUT (60 s a trial), CALL_TIMEOUT
# (60 s), BUILD_TIMEOUT (300 s), FUNCTIONS ("catservice catservice-pause python3-http"), BIN_DIR, GATEWAY,
# GATEWAY_PASSWORD.
# Target (issue: scale from zero): the cold start is the replica's own start, the gateway adding
# at most ~50 ms beyond the moment the replica first answers /_/health. That moment is not
# visible from outside, so the table reports the whole times: compare cold with warm and the
# providers with each other.
# Exit status: non-zero when any trial failed. Only 127.0.0.1 is sent traffic; the functions it
# deploys are removed, also on failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/tests/bench/lib.sh"
measure="$here/tests/bench/cold_start_measure.py"
build="$here/tests/bench/build_bench_measure.py"
bin=${BIN_DIR:-$here/build/release/bin}
read -r -a functions <<<"${FUNCTIONS:-catservice catservice-pause python3-http}"
export TRIALS=${TRIALS:-20}
providers=("$@")
((${#providers[@]})) || providers=(local swarm)

work=$(mktemp -d /tmp/cold-start.XXXXXX)
gateway_pid=""
child=""     # the helper running now, stopped by cleanup
deployed=()  # "URL|NAME" of every function made, removed on exit
cleanup() {
  if [[ -n $child ]]; then
    kill "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  for entry in "${deployed[@]}"; do
    IFS='|' read -r url name <<<"$entry"
    local -a curl_auth=()
    [[ $url == "${swarm_url:-}" && -n ${swarm_auth:-} ]] && curl_auth=(--config "$work/swarm.curl")
    remove_function "$url" "$name" "${curl_auth[@]}"
  done
  stop_process "$gateway_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rows=()
failed=0
not_measured() { # PROVIDER LABEL WHY
  rows+=("| $1 | $2 | 0 | - | - | - | - | - | - | - | not measured: $3 |")
}

# in_background OUT COMMAND...: runs it with stdout to OUT and waits, so that a signal ends the
# wait at once (cleanup then stops it) instead of after the helper's last trial.
in_background() {
  local out=$1 rc=0
  shift
  "$@" >"$out" &
  child=$!
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

label_of() { # FUNCTION: what the table calls it
  case $1 in
    catservice) echo "catservice (cat, fork per call)" ;;
    catservice-pause) echo "catservice, zero-mode=pause" ;;
    python3-http) echo "python3-http (built from source)" ;;
    *) echo "$1" ;;
  esac
}

# measure_row PROVIDER URL AUTH NAME LABEL [REPLICA_PARENT]: the trials of one deployed function.
measure_row() {
  local out rc=0 containers=""
  [[ $1 == swarm ]] && command -v docker >/dev/null && containers=1
  # Where the gateway's wake lines are: its output locally, `docker service logs` on the Swarm.
  local log_file="" service=""
  if [[ $1 == local ]]; then log_file=$work/gateway.log; else service=${STACK:-func}_gateway; fi
  GATEWAY_LOG=$log_file GATEWAY_SERVICE=$service GATEWAY_AUTH=$3 REPLICA_PARENT=${6:-} \
    REPLICA_CONTAINERS=$containers \
    in_background "$work/row" python3 "$measure" "$2" "$4" "$1" "$5" || rc=$?
  out=$(cat "$work/row")
  if [[ -n $out ]]; then rows+=("$out"); else not_measured "$1" "$5" "cold_start_measure.py exited $rc"; fi
  ((rc == 0)) || failed=1
}

# deploy URL NAME JSON [CURL_ARGS...]: POST /system/functions, 202 expected.
deploy() {
  local url=$1 name=$2 json=$3 code
  shift 3
  deployed+=("$url|$name")
  code=$(curl -s -o "$work/deploy.out" -w '%{http_code}' -m 30 "$@" -X POST "$url/system/functions" \
    -d "$json") || true
  [[ $code == 202 || $code == 200 ]] && return 0
  bench_log "deploying $name answered $code: $(head -c 200 "$work/deploy.out")"
  return 1
}

# build_from_source URL AUTH NAME REQUIREMENT: a python3-http function through POST
# /system/builds, waited for (bounded) until it answers 200.
build_from_source() {
  bench_log "building $3 (python3-http) from source"
  if ! TIMEOUT=${BUILD_TIMEOUT:-300} PYTHON_REQUIREMENT=$4 in_background "$work/build" \
    python3 "$build" "$1" "$2" "$3" python3-http "cold start bench" "cold start bench"; then
    bench_log "building $3 failed: $(cat "$work/build")"
    return 1
  fi
}

# rows_for PROVIDER URL AUTH [REPLICA_PARENT]: every function of FUNCTIONS on one gateway.
rows_for() {
  local provider=$1 url=$2 auth=$3 parent=${4:-} name label requirement labels
  local -a curl_auth=()
  [[ -n $auth ]] && curl_auth=(--config "$work/$provider.curl")
  for function in "${functions[@]}"; do
    name="bench-cold-${function//[^a-z0-9]/}-$$"
    label=$(label_of "$function")
    case $function in
      catservice | catservice-pause)
        if [[ $function == catservice-pause && $provider == local ]]; then
          not_measured "$provider" "$label" "pause is a Swarm mode: local replicas are removed"
          continue
        fi
        if [[ $provider == swarm ]] && command -v docker >/dev/null &&
          ! docker image inspect faas/catservice:latest >/dev/null 2>&1; then
          not_measured "$provider" "$label" "no faas/catservice image"
          continue
        fi
        labels=""
        [[ $function == catservice-pause ]] &&
          labels=',"labels":{"com.openfaas.scale.zero-mode":"pause"}'
        deploy "$url" "$name" \
          "{\"service\":\"$name\",\"image\":\"faas/catservice:latest\",\"envProcess\":\"cat\"$labels}" \
          "${curl_auth[@]}" || { not_measured "$provider" "$label" "deploy failed"; failed=1; continue; }
        ;;
      python3-http)
        requirement=flask
        [[ $provider == swarm ]] && requirement=requests
        deployed+=("$url|$name")
        build_from_source "$url" "$auth" "$name" "$requirement" ||
          { not_measured "$provider" "$label" "build failed"; failed=1; continue; }
        ;;
      *) bench_log "unknown function $function (catservice, python3-http)"; exit 1 ;;
    esac
    bench_log "$provider $name: $TRIALS cold starts"
    measure_row "$provider" "$url" "$auth" "$name" "$label" "$parent"
  done
}

start_local_gateway() {
  for program in gateway fwatchdog; do
    [[ -x $bin/$program ]] || { bench_log "missing $bin/$program (cmake --build --preset release)"; return 1; }
  done
  local port
  port=$(free_port)
  # As build_bench.sh: Debian's runtimes first on PATH, since python3-http needs the python3
  # that apt's python3-flask and -waitress serve.
  PATH="/usr/local/bin:/usr/bin:/bin:$PATH" provider=local port="$port" state_dir="$work/state" \
    watchdog_path="$bin/fwatchdog" templates_dir="$here/templates" basic_auth=false \
    "$bin/gateway" >"$work/gateway.log" 2>&1 &
  gateway_pid=$!
  wait_http "http://127.0.0.1:$port/healthz" 15 || { cat "$work/gateway.log" >&2; return 1; }
  local_url="http://127.0.0.1:$port"
}

local_url=""
swarm_url=${GATEWAY:-http://127.0.0.1:8080}
swarm_auth=""
for provider in "${providers[@]}"; do
  case $provider in
    local)
      if start_local_gateway; then
        rows_for local "$local_url" "" "$gateway_pid"
      else
        for function in "${functions[@]}"; do
          not_measured local "$(label_of "$function")" "the gateway did not start"
        done
        failed=1
      fi
      ;;
    swarm)
      [[ $swarm_url =~ ^http://127\.0\.0\.1(:[0-9]+)?$ ]] ||
        { bench_log "GATEWAY must be http://127.0.0.1[:port], not $swarm_url"; exit 1; }
      credentials=${CREDENTIALS:-$here/build/e2e/e2e-credentials}
      password=${GATEWAY_PASSWORD:-}
      [[ -z $password && -r $credentials ]] && password=$(cat "$credentials")
      if [[ -z $password ]] || ! curl -fsS -m 3 -o /dev/null "$swarm_url/healthz" 2>/dev/null; then
        for function in "${functions[@]}"; do
          not_measured swarm "$(label_of "$function")" "no stack (KEEP_STACK=1 scripts/e2e.sh)"
        done
        continue
      fi
      swarm_auth="admin:$password"
      # curl reads the credentials from a file, so they never show in the process list.
      quoted=${swarm_auth//\\/\\\\}
      (umask 077 && printf 'user = "%s"\n' "${quoted//\"/\\\"}" >"$work/swarm.curl")
      rows_for swarm "$swarm_url" "$swarm_auth"
      ;;
    *) bench_log "unknown provider $provider (local, swarm)"; exit 1 ;;
  esac
done

printf '\n| provider | function | trials | failed | cold p50 s | cold p90 s | cold max s | scaled / reported / healthy ms | burst 50 s | warm p50 s | failures |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
printf '%s\n' "${rows[@]}"
if ((failed)); then
  bench_log "some trials failed: see the failed and failures columns"
  exit 1
fi

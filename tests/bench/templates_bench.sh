#!/usr/bin/env bash
# One row per template, on the Swarm stack (deployed by `KEEP_STACK=1 scripts/e2e.sh`), through
# the `faas` CLI as a user runs it:
#
#   image size            of the starter function's image
#   cold build            `faas build --no-cache` (every layer, packages downloaded again)
#   rebuild               `faas build` after a handler-only change (a comment appended)
#   deploy to first 200   `faas push` done, then from `faas deploy --no-wait` to the first 200
#   req/s c=8             wrk, 8 connections, POST through the gateway, DURATION seconds
#
#   KEEP_STACK=1 scripts/e2e.sh -R sample    deploy the stacks (gateway, registry)
#   tests/bench/templates_bench.sh [LANG...] uses the credentials file that run leaves
#   scripts/e2e.sh down                       remove them
# Environment: GATEWAY (http://127.0.0.1:8080), DURATION (10), FAAS (the CLI; default
# build/e2e/bin/faas), REGISTRY (127.0.0.1:5000).
# Only 127.0.0.1 is sent traffic; the functions it deploys are removed, also on failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/tests/bench/lib.sh"
gateway=${GATEWAY:-http://127.0.0.1:8080}
duration=${DURATION:-10}
faas=${FAAS:-$here/build/e2e/bin/faas}
registry=${REGISTRY:-127.0.0.1:5000}
credentials=${CREDENTIALS:-$here/build/e2e/e2e-credentials}
if [[ -z ${GATEWAY_PASSWORD:-} && -r $credentials ]]; then GATEWAY_PASSWORD=$(cat "$credentials"); fi
[[ -n ${GATEWAY_PASSWORD:-} ]] || { bench_log "set GATEWAY_PASSWORD (or run KEEP_STACK=1 scripts/e2e.sh)"; exit 1; }
for tool in wrk curl docker; do command -v $tool >/dev/null || { bench_log "missing $tool"; exit 1; }; done
[[ -x $faas ]] || { bench_log "no faas CLI at $faas (cmake --build build/e2e --target faas)"; exit 1; }
curl -fsS -m 3 "$gateway/healthz" >/dev/null || { bench_log "no gateway at $gateway"; exit 1; }
curl -fsS -m 3 "http://$registry/v2/" >/dev/null || { bench_log "no registry at $registry"; exit 1; }

langs=("$@")
if ((${#langs[@]} == 0)); then
  for dir in "$here"/templates/*/; do [[ -f $dir/template.yml ]] && langs+=("$(basename "$dir")"); done
fi

work=$(mktemp -d /tmp/templates-bench.XXXXXX)
export OPENFAAS_URL=$gateway OPENFAAS_CONFIG=$work/.openfaas
cleanup() {
  for lang in "${langs[@]}"; do (cd "$work" && "$faas" remove "bench-$lang" >/dev/null 2>&1) || true; done
  rm -rf "$work"
}
trap cleanup EXIT
printf '%s' "$GATEWAY_PASSWORD" | "$faas" login --username admin --password-stdin >/dev/null

# The handler file of each template's starter, and how a comment is written in it.
handler_of() {
  case $1 in
    python3-http | python3) echo "handler.py #" ;;
    node) echo "handler.js //" ;;
    bash) echo "handler.sh #" ;;
    cpp) echo "handler.cpp //" ;;
    go) echo "handler.go //" ;;
    dockerfile) echo "Dockerfile #" ;;
    *) return 1 ;;
  esac
}

timed() { # COMMAND...: runs it quietly, prints its wall time in seconds
  local start end
  start=$(date +%s.%N)
  "$@" >>"$work/log" 2>&1 || { bench_log "failed: $* (log below)"; tail -n 30 "$work/log" >&2; return 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}

first_200_after() { # NAME: seconds from now until /function/NAME answers 200 (bounded: 180 s)
  local start end deadline=$((SECONDS + 180))
  start=$(date +%s.%N)
  (cd "$work" && "$faas" deploy -f "$1.yml" --no-wait >>"$work/log" 2>&1)
  until curl -fs -o /dev/null -m 5 -d x "$gateway/function/$1"; do
    ((SECONDS < deadline)) || { echo "timeout"; return 0; }
    sleep 0.1
  done
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}

rows=()
for lang in "${langs[@]}"; do
  name=bench-$lang
  read -r file comment < <(handler_of "$lang") || { bench_log "no handler known for $lang"; continue; }
  bench_log "$lang: new, cold build"
  (cd "$work" && "$faas" new "$name" --lang "$lang" --prefix "$registry" --quiet >>"$work/log" 2>&1)
  cold=$(cd "$work" && timed "$faas" build -f "$name.yml" --no-cache)
  size=$(docker image inspect -f '{{.Size}}' "$registry/$name:latest" | awk '{ printf "%.1f MB", $1 / 1e6 }')
  bench_log "$lang: handler-only rebuild"
  printf '\n%s bench edit %s\n' "$comment" "$(date +%s%N)" >>"$work/$name/$file"
  rebuild=$(cd "$work" && timed "$faas" build -f "$name.yml")
  bench_log "$lang: push, deploy to first 200"
  (cd "$work" && "$faas" push -f "$name.yml" >>"$work/log" 2>&1)
  first=$(first_200_after "$name")
  sleep 2 # let the gateway's endpoint cache settle on the ready replica
  bench_log "$lang: wrk c=8 ${duration}s"
  read -r rps p50 p99 non2xx errors < <(run_wrk 8 "$duration" "$gateway/function/$name" "$here/tests/bench/post_hello.lua" 2>/dev/null ||
    echo "0 0 0 0 0")
  rows+=("$(printf '| %-12s | %9s | %8s s | %7s s | %9s s | %8s | %6s | %s |' "$lang" "$size" "$cold" "$rebuild" \
    "$first" "$rps" "$((p50 / 1000))" "$((non2xx + errors))")")
  (cd "$work" && "$faas" remove "$name" >>"$work/log" 2>&1) || true
done

printf '\n| template     | image     | cold build | rebuild | deploy->200 | req/s c=8 | p50 ms | errors |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
printf '%s\n' "${rows[@]}"

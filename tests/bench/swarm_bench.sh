#!/usr/bin/env bash
# Benchmarks on the Swarm stack (deployed by `KEEP_STACK=1 scripts/e2e.sh`), one table:
#
#   catservice through the gateway (client -> gateway task -> function task over the overlay),
#   wrk with keep-alive, 1 KiB POST bodies: requests/s, p50 and p99 at concurrency 8 and 64,
#   with 1 and with 3 replicas, via 127.0.0.1:8080 (docker-proxy) and via the task's IP;
#   time from POST /system/functions to the first 200 of a new function (median of RUNS);
#   image sizes of faas/watchdog, faas/catservice and faas/gateway.
#
#   KEEP_STACK=1 scripts/e2e.sh -R sample    deploy the stack (and run one quick test)
#   tests/bench/swarm_bench.sh                uses the credentials file that run leaves
#   scripts/e2e.sh down                       remove the stack, its secrets, the swarm
# Environment: GATEWAY (http://127.0.0.1:8080), DURATION (10s), RUNS (3).
# Only 127.0.0.1 is sent traffic; the scaled function is put back to 1 replica and the
# functions it deploys are removed, also on failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/tests/bench/lib.sh"
gateway=${GATEWAY:-http://127.0.0.1:8080}
duration=${DURATION:-10}
runs=${RUNS:-3}
credentials=${CREDENTIALS:-$here/build/e2e/e2e-credentials}
if [[ -z ${GATEWAY_PASSWORD:-} && -r $credentials ]]; then GATEWAY_PASSWORD=$(cat "$credentials"); fi
[[ -n ${GATEWAY_PASSWORD:-} ]] || { bench_log "set GATEWAY_PASSWORD (or run KEEP_STACK=1 scripts/e2e.sh)"; exit 1; }
auth=(-u "admin:$GATEWAY_PASSWORD")
for tool in wrk curl python3 docker; do command -v $tool >/dev/null || { bench_log "missing $tool"; exit 1; }; done
curl -fsS -m 3 "$gateway/healthz" >/dev/null || { bench_log "no gateway at $gateway"; exit 1; }

work=$(mktemp -d /tmp/swarm-bench.XXXXXX)
cleanup() {
  curl -fsS -m 30 "${auth[@]}" -X POST "$gateway/system/scale-function/catservice" \
    -d '{"serviceName":"catservice","replicas":1}' >/dev/null 2>&1 || true
  for i in $(seq 1 "$runs"); do
    curl -fsS -m 30 "${auth[@]}" -X DELETE "$gateway/system/functions" \
      -d "{\"functionName\":\"bench-cold-$i\"}" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

available() { # NAME -> availableReplicas
  curl -fsS -m 5 "${auth[@]}" "$gateway/system/function/$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("availableReplicas", 0))'
}
scale_to() { # NAME REPLICAS: scale and wait (90 s) until that many are available and routed
  curl -fsS -m 30 "${auth[@]}" -X POST "$gateway/system/scale-function/$1" \
    -d "{\"serviceName\":\"$1\",\"replicas\":$2}" >/dev/null
  local deadline=$((SECONDS + 90))
  until [[ $(available "$1" 2>/dev/null) == "$2" ]]; do
    ((SECONDS < deadline)) || { bench_log "$1 did not reach $2 replicas"; return 1; }
    sleep 0.5
  done
  sleep 2 # the gateway's endpoint cache refreshes every second
}

head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$work/body"
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = io.open("$work/body"):read("a")
wrk.headers["Content-Type"] = "text/plain"
EOF

# 127.0.0.1:8080 goes through docker-proxy (Docker's userland proxy serves loopback clients of
# a published port); a client on another host reaches the gateway task by DNAT instead. The
# second path measures that: the gateway task's address on docker_gwbridge, from this host.
gateway_task=$(docker ps -q --no-trunc --filter label=com.docker.swarm.service.name=func_gateway | head -n 1)
bridge_ip=$(docker network inspect docker_gwbridge -f '{{json .Containers}}' |
  python3 -c "import json,sys; print(json.load(sys.stdin)['$gateway_task']['IPv4Address'].split('/')[0])" 2>/dev/null || true)
paths=("127.0.0.1:8080=$gateway")
[[ -n $bridge_ip ]] && paths+=("task-ip:8080=http://$bridge_ip:8080")

printf '%-32s %6s %10s %10s %10s %7s %7s\n' "catservice via gateway" conc "req/s" "p50 ms" "p99 ms" non2xx errors
for replicas in 1 3; do
  scale_to catservice "$replicas"
  run_wrk 8 2 "$gateway/function/catservice" "$work/post.lua" >/dev/null # warm up
  for path in "${paths[@]}"; do
    label=${path%%=*} base=${path#*=}
    for conc in 8 64; do
      read -r rps p50 p99 non2xx errors < <(run_wrk "$conc" "$duration" "$base/function/catservice" "$work/post.lua")
      printf '%-32s %6s %10s %10.2f %10.2f %7s %7s\n' "$replicas replica(s), $label" "$conc" "$rps" \
        "$(echo "$p50 / 1000" | bc -l)" "$(echo "$p99 / 1000" | bc -l)" "$non2xx" "$errors"
    done
  done
done
scale_to catservice 1

# Deploy to first successful invocation: POST the deployment, then call every 50 ms.
times=()
for i in $(seq 1 "$runs"); do
  name=bench-cold-$i
  t0=$(date +%s.%N)
  curl -fsS -m 30 "${auth[@]}" -X POST "$gateway/system/functions" \
    -d "{\"service\":\"$name\",\"image\":\"faas/catservice:latest\"}" >/dev/null
  ok=0
  for _ in $(seq 1 1200); do # 60 s at most
    if [[ $(curl -s -m 2 -o /dev/null -w '%{http_code}' -d hi "$gateway/function/$name") == 200 ]]; then ok=1; break; fi
    sleep 0.05
  done
  t1=$(date +%s.%N)
  ((ok)) || { bench_log "$name never answered"; exit 1; }
  times+=("$(echo "$t1 - $t0" | bc -l)")
  curl -fsS -m 30 "${auth[@]}" -X DELETE "$gateway/system/functions" -d "{\"functionName\":\"$name\"}" >/dev/null
done
printf 'deploy -> first 200 (s):   %s   median %s\n' "$(printf '%.2f ' "${times[@]}")" \
  "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}')"

for image in faas/watchdog:latest faas/catservice:latest faas/gateway:latest; do
  printf 'image %-24s %s\n' "$image" \
    "$(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB (%d bytes)", $1/1e6, $1}')"
done

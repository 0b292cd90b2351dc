#!/usr/bin/env bash
# Benchmarks on the Swarm stacks, one table, single node and multi-node side by side:
#
#   single node: the stack of `KEEP_STACK=1 scripts/e2e.sh` (the host's own one-node swarm)
#   multi-node:  stack.yml on the test cluster of scripts/multinode.sh (a manager, two workers,
#                a registry; `scripts/multinode-stack.sh up`)
#
#   bench-cat (catservice's image, labelled com.openfaas.scale.factor=0 so that the stack's
#   alerts do not scale it under load) through the gateway, wrk with keep-alive, 1 KiB POST
#   bodies: requests/s, p50 and p99 at concurrency 8 and 64, with 1 and with 3 replicas;
#   on one node via 127.0.0.1:8080 (docker-proxy) and via the gateway task's IP, on several
#   via the manager's address (replicas on the two workers, calls across the overlay);
#   time from POST /system/functions to the first 200 of a new function (median of RUNS): on
#   one node, on several with the image already on every worker, and on several with an image
#   (catservice plus a PULL_MIB MiB layer of its own) the chosen worker must pull first;
#   image sizes of faas/watchdog, faas/catservice and faas/gateway.
#
#   KEEP_STACK=1 scripts/e2e.sh -R sample    the single-node stack (and one quick test)
#   scripts/multinode-stack.sh up             the multi-node cluster and its stack
#   tests/bench/swarm_bench.sh                either or both, whichever answer
#   scripts/e2e.sh down; scripts/multinode.sh down
# Environment: GATEWAY (http://127.0.0.1:8080), MN_GATEWAY (http://192.168.232.10:8080),
# DURATION (10s), RUNS (3), PULL_MIB (16), ONLY (single or multi: one of the two).
# Traffic goes only to 127.0.0.1 and the test cluster; scaled functions are put back to 1
# replica and the functions and images it makes are removed, also on failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/tests/bench/lib.sh"
gateway=${GATEWAY:-http://127.0.0.1:8080}
mn_gateway=${MN_GATEWAY:-http://192.168.232.10:8080}
duration=${DURATION:-10}
runs=${RUNS:-3}
pull_mib=${PULL_MIB:-16}
only=${ONLY:-}
readonly workers=(faas-mn-w1 faas-mn-w2) registry=127.0.0.1:5001
readonly pulled_repository=$registry/bench/pulled pulled_image=$registry/bench/pulled:latest
readonly fn=bench-cat
# Alerts would add replicas under load; the table compares replica counts the bench chose.
readonly no_alert_scaling='"labels":{"com.openfaas.scale.factor":"0"}'
readonly on_workers='"constraints":["node.labels.faas.role==functions"]'
for tool in wrk curl python3 docker bc; do command -v $tool >/dev/null || { bench_log "missing $tool"; exit 1; }; done

# The single-node stack: its password from the file scripts/e2e.sh leaves, or GATEWAY_PASSWORD.
single=()
if [[ $only != multi ]]; then
  credentials=${CREDENTIALS:-$here/build/e2e/e2e-credentials}
  if [[ -z ${GATEWAY_PASSWORD:-} && -r $credentials ]]; then GATEWAY_PASSWORD=$(cat "$credentials"); fi
  if [[ -n ${GATEWAY_PASSWORD:-} ]] && curl -fsS -m 3 "$gateway/healthz" >/dev/null 2>&1; then
    single=(-u "admin:$GATEWAY_PASSWORD")
  else
    bench_log "no single-node stack at $gateway (KEEP_STACK=1 scripts/e2e.sh -R sample): its rows are left out"
  fi
fi
# The multi-node stack: credentials from scripts/multinode-stack.sh.
multi=()
if [[ $only != single ]]; then
  if [[ -r $here/build/multinode/credentials ]] && curl -fsS -m 3 "$mn_gateway/healthz" >/dev/null 2>&1; then
    read -r mn_user mn_password <"$here/build/multinode/credentials"
    multi=(-u "$mn_user:$mn_password")
  else
    bench_log "no multi-node stack at $mn_gateway (scripts/multinode-stack.sh up): its rows are left out"
  fi
fi
((${#single[@]} + ${#multi[@]} > 0)) || { bench_log "neither stack answers"; exit 1; }

work=$(mktemp -d /tmp/swarm-bench.XXXXXX)
cleanup() {
  local i
  if ((${#single[@]})); then
    remove_function "$gateway" "$fn" "${single[@]}"
    for i in $(seq 1 "$runs"); do remove_function "$gateway" "bench-cold-$i" "${single[@]}"; done
  fi
  if ((${#multi[@]})); then
    remove_function "$mn_gateway" "$fn" "${multi[@]}"
    for i in $(seq 1 "$runs"); do
      remove_function "$mn_gateway" "bench-mn-warm-$i" "${multi[@]}"
      remove_function "$mn_gateway" "bench-mn-pull-$i" "${multi[@]}"
    done
    docker rmi "$pulled_image" >/dev/null 2>&1 || true
    forget_image "$pulled_repository" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

available() { # URL AUTH... -- NAME -> availableReplicas
  local url=$1 name=${*: -1}
  curl -fsS -m 5 "${@:2:$#-2}" "$url/system/function/$name" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("availableReplicas", 0))'
}
# scale_to URL NAME REPLICAS AUTH...: scale and wait (90 s) until that many are available and
# routed.
scale_to() {
  local url=$1 name=$2 replicas=$3
  shift 3
  curl -fsS -m 30 "$@" -X POST "$url/system/scale-function/$name" \
    -d "{\"serviceName\":\"$name\",\"replicas\":$replicas}" >/dev/null
  local deadline=$((SECONDS + 90))
  until [[ $(available "$url" "$@" "$name" 2>/dev/null) == "$replicas" ]]; do
    ((SECONDS < deadline)) || { bench_log "$name did not reach $replicas replicas"; return 1; }
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

ms() { echo "$1 / 1000" | bc -l; }
# throughput LABEL BASE_URL: one row a concurrency.
throughput() {
  local label=$1 base=$2 conc rps p50 p99 non2xx errors
  for conc in 8 64; do
    read -r rps p50 p99 non2xx errors < <(run_wrk "$conc" "$duration" "$base/function/$fn" "$work/post.lua")
    printf '%-44s %6s %10s %10.2f %10.2f %7s %7s\n' "$label" "$conc" "$rps" "$(ms "$p50")" "$(ms "$p99")" \
      "$non2xx" "$errors"
  done
}

# Where the function's tasks run on the cluster, e.g. "faas-mn-w1=2 faas-mn-w2=1".
mn_placement() {
  docker exec faas-mn-mgr docker service ps --filter desired-state=running --format '{{.Node}}' \
    "$fn" | sort | uniq -c | awk '{ printf "%s%s=%s", sep, $2, $1; sep = " " }'
}

# deploy URL IMAGE EXTRA_JSON AUTH...: the function, redeployed from scratch.
deploy() {
  local url=$1 image=$2 extra=$3
  shift 3
  remove_function "$url" "$fn" "$@"
  local deadline=$((SECONDS + 60))
  until curl -fsS -m 30 "$@" -o /dev/null -X POST "$url/system/functions" \
    -d "{\"service\":\"$fn\",\"image\":\"$image\",$no_alert_scaling$extra}" 2>/dev/null; do
    # The old service may still be going away.
    ((SECONDS < deadline)) || { bench_log "could not deploy $fn on $url"; return 1; }
    sleep 1
  done
}
((${#single[@]})) && deploy "$gateway" faas/catservice:latest "" "${single[@]}"
((${#multi[@]})) && deploy "$mn_gateway" "$registry/faas/catservice:latest" ",$on_workers" "${multi[@]}"

printf '%-44s %6s %10s %10s %10s %7s %7s\n' "$fn (catservice) via gateway" conc "req/s" "p50 ms" "p99 ms" non2xx errors
for replicas in 1 3; do
  if ((${#single[@]})); then
    # 127.0.0.1:8080 goes through docker-proxy (Docker's userland proxy serves loopback clients
    # of a published port); a client on another host reaches the gateway task by DNAT instead:
    # the second path is the gateway task's address on docker_gwbridge.
    gateway_task=$(docker ps -q --no-trunc --filter label=com.docker.swarm.service.name=func_gateway | head -n 1)
    bridge_ip=$(docker network inspect docker_gwbridge -f '{{json .Containers}}' |
      python3 -c "import json,sys; print(json.load(sys.stdin)['$gateway_task']['IPv4Address'].split('/')[0])" 2>/dev/null || true)
    scale_to "$gateway" "$fn" "$replicas" "${single[@]}"
    run_wrk 8 2 "$gateway/function/$fn" "$work/post.lua" >/dev/null # warm up
    throughput "1 node, $replicas replica(s), 127.0.0.1:8080" "$gateway"
    [[ -n $bridge_ip ]] && throughput "1 node, $replicas replica(s), task-ip:8080" "http://$bridge_ip:8080"
  fi
  if ((${#multi[@]})); then
    scale_to "$mn_gateway" "$fn" "$replicas" "${multi[@]}"
    run_wrk 8 2 "$mn_gateway/function/$fn" "$work/post.lua" >/dev/null
    throughput "3 nodes, $replicas replica(s), manager:8080" "$mn_gateway"
    printf '%-44s %s\n' "  (tasks: $(mn_placement))" ""
  fi
done
((${#single[@]})) && remove_function "$gateway" "$fn" "${single[@]}"
((${#multi[@]})) && remove_function "$mn_gateway" "$fn" "${multi[@]}"

# first_200 URL NAME IMAGE EXTRA_JSON AUTH...: seconds from POST /system/functions to the first
# 200 (calls every 50 ms, 60 s at most), then the function is removed.
first_200() {
  local url=$1 name=$2 image=$3 extra=$4
  shift 4
  local t0 t1 ok=0
  t0=$(date +%s.%N)
  curl -fsS -m 30 "$@" -X POST "$url/system/functions" \
    -d "{\"service\":\"$name\",\"image\":\"$image\"$extra}" >/dev/null
  for _ in $(seq 1 1200); do
    if [[ $(curl -s -m 2 -o /dev/null -w '%{http_code}' -d hi "$url/function/$name") == 200 ]]; then ok=1; break; fi
    sleep 0.05
  done
  t1=$(date +%s.%N)
  ((ok)) || { bench_log "$name never answered"; return 1; }
  curl -fsS -m 30 "$@" -X DELETE "$url/system/functions" -d "{\"functionName\":\"$name\"}" >/dev/null
  echo "$t1 - $t0" | bc -l
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }
print_times() { # LABEL TIMES...
  local label=$1
  shift
  printf '%-44s %s  median %s\n' "$label" "$(printf '%.2f ' "$@")" "$(median "$@")"
}
# forget_image REPOSITORY: on every worker no container or image of it is left, tagged or not
# (Swarm pulls by digest and leaves no tag), so the next task must pull it.
# A task of a function just removed may still be stopping: retried for 30 s.
forget_image() {
  local worker deadline=$((SECONDS + 30))
  for worker in "${workers[@]}"; do
    until docker exec "$worker" docker container prune -f >/dev/null &&
      docker exec "$worker" sh -c "docker image ls -q '$1' | sort -u | xargs -r docker image rm -f" >/dev/null 2>&1 &&
      [[ -z $(docker exec "$worker" docker image ls -q "$1") ]]; do
      ((SECONDS < deadline)) || { bench_log "$worker still has $1"; return 1; }
      sleep 1
    done
  done
}

printf '\n%-44s %s\n' "deploy -> first 200 (s)" "runs"
if ((${#single[@]})); then
  times=()
  for i in $(seq 1 "$runs"); do
    times+=("$(first_200 "$gateway" "bench-cold-$i" faas/catservice:latest "" "${single[@]}")")
  done
  print_times "1 node, image local" "${times[@]}"
fi
if ((${#multi[@]})); then
  for worker in "${workers[@]}"; do
    docker exec "$worker" docker pull -q "$registry/faas/catservice:latest" >/dev/null
  done
  times=()
  for i in $(seq 1 "$runs"); do
    times+=("$(first_200 "$mn_gateway" "bench-mn-warm-$i" "$registry/faas/catservice:latest" \
      ",$on_workers" "${multi[@]}")")
  done
  print_times "3 nodes, image on every worker" "${times[@]}"

  # The same function with a layer of its own that the workers must pull first.
  printf 'FROM faas/catservice:latest\nRUN head -c %d /dev/urandom > /home/app/pad\n' \
    "$((pull_mib * 1024 * 1024))" | DOCKER_BUILDKIT=0 docker build -q -t "$pulled_image" - \
    >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
  docker push -q "$pulled_image" >/dev/null
  times=()
  for i in $(seq 1 "$runs"); do
    forget_image "$pulled_repository"
    times+=("$(first_200 "$mn_gateway" "bench-mn-pull-$i" "$pulled_image" ",$on_workers" "${multi[@]}")")
  done
  print_times "3 nodes, pulls catservice + $pull_mib MiB layer" "${times[@]}"
fi

printf '\n'
for image in faas/watchdog:latest faas/catservice:latest faas/gateway:latest; do
  printf 'image %-24s %s\n' "$image" \
    "$(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB (%d bytes)", $1/1e6, $1}')"
done

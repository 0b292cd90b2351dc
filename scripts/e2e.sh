#!/usr/bin/env bash
# The end-to-end run on a real Docker Swarm, as CI does it:
#
#   1. install and start Docker if needed (scripts/install-docker.sh)
#   2. build every image (scripts/build-images.sh, the nats:2.9 stand-in among them) and the
#      local stand-ins for the official Prometheus, Alertmanager and registry images
#      (monitor/images/, registry/; same names and tags as the stack files)
#   3. build the `faas` CLI and, in the background, every template's starter function with it
#      (`faas build --parallel 2`), so the tests' builds find Docker's layer cache warm
#   4. `docker swarm init --advertise-addr 127.0.0.1` unless this node is in a swarm already
#   5. deploy the registry (registry/registry.stack.yml, on 127.0.0.1:5000), create the
#      basic-auth secrets and `docker stack deploy -c stack.yml func`
#   6. wait, with a deadline, for the registry, the gateway, every sample function, Prometheus,
#      NATS (the gateway's /system/calls answers) and both queue workers
#   7. build and run the e2e tests (`ctest -L e2e`) against it
#   8. remove the stacks and the secrets, and leave the swarm if step 4 created it
#
# Usage: scripts/e2e.sh [ctest arguments...]     e.g. scripts/e2e.sh -R secret
#        scripts/e2e.sh down      removes what a KEEP_STACK=1 run left (stack, secrets, test
#                                 functions) and leaves the swarm if that run created it
# Environment:
#   BUILD_DIR        CMake build directory for the test binary (default build/e2e)
#   STACK            stack name (default func; stack.yml names its network func_functions)
#   KEEP_STACK=1     leave the stack (and swarm) up afterwards, for poking at it
#   READY_TIMEOUT    seconds to wait for the stack (default 240)
set -euo pipefail

readonly REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly BUILD_DIR=${BUILD_DIR:-$REPO/build/e2e}
readonly STACK=${STACK:-func}
readonly READY_TIMEOUT=${READY_TIMEOUT:-240}
readonly REGISTRY_STACK=${REGISTRY_STACK:-${STACK}-registry}
readonly LOG_DIR=$REPO/build/docker
export DOCKER_BUILDKIT=0

say() { printf '[e2e] %s\n' "$*"; }
die() { printf '[e2e] ERROR: %s\n' "$*" >&2; exit 1; }

swarm_inited_here=0
stack_deployed=0
cleanup() {
  local status=$?
  if [[ -n ${warm_pid:-} ]] && kill -0 "$warm_pid" 2>/dev/null; then
    kill -- "-$warm_pid" 2>/dev/null || kill "$warm_pid" 2>/dev/null || true
  fi
  if [[ ${KEEP_STACK:-0} == 1 ]]; then
    # For tests/bench/swarm_bench.sh and for poking at the stack by hand.
    if [[ -n ${password:-} ]]; then
      mkdir -p "$BUILD_DIR"
      (umask 077 && printf '%s' "$password" >"$BUILD_DIR/e2e-credentials")
    fi
    ((swarm_inited_here)) && : >"$BUILD_DIR/e2e-swarm-inited"
    say "KEEP_STACK=1: leaving stack '$STACK' up (admin password in $BUILD_DIR/e2e-credentials;" \
      "scripts/e2e.sh down removes it)"
    exit "$status"
  fi
  if ((stack_deployed)); then
    say "removing stack $STACK"
    # Functions a failed test or benchmark left behind (theirs are named e2e-* and bench-*).
    for service in $(docker service ls --filter label=function=true --format '{{.Name}}' 2>/dev/null); do
      case $service in e2e-* | bench-*) docker service rm "$service" >/dev/null 2>&1 || true ;; esac
    done
    docker stack rm "$STACK" "$REGISTRY_STACK" >/dev/null 2>&1 || true
    # Its containers and network go asynchronously; secrets can go once they have.
    for _ in $(seq 1 60); do
      [[ -z $(docker ps -q --filter "label=com.docker.stack.namespace=$STACK") ]] &&
        [[ -z $(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK") ]] && break
      sleep 1
    done
    docker secret rm basic-auth-user basic-auth-password >/dev/null 2>&1 || true
    # The gateway's state (builds, versions) lives in a volume of the stack.
    # So is NATS's store (queued calls, records): the next run starts with empty streams.
    docker volume rm "${STACK}_gateway-state" "${STACK}_nats-data" >/dev/null 2>&1 || true
  fi
  if ((swarm_inited_here)); then
    say "leaving the swarm this run created"
    docker swarm leave --force >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT

if [[ ${1:-} == down ]]; then
  docker info >/dev/null 2>&1 || die "docker does not answer"
  KEEP_STACK=0 stack_deployed=1
  [[ -e $BUILD_DIR/e2e-swarm-inited ]] && swarm_inited_here=1
  rm -f "$BUILD_DIR/e2e-swarm-inited" "$BUILD_DIR/e2e-credentials"
  exit 0 # the EXIT trap removes everything
fi

start=$SECONDS
"$REPO/scripts/install-docker.sh"
docker info >/dev/null 2>&1 || die "docker does not answer"

say "building images"
SKIP_DOCKER_INSTALL=1 "$REPO/scripts/build-images.sh"
mkdir -p "$LOG_DIR"
for standin in monitor/images/prometheus:prom/prometheus:v2.42.0 \
  monitor/images/alertmanager:prom/alertmanager:v0.25.0 registry:registry:2; do
  dir=${standin%%:*} image=${standin#*:}
  t0=$SECONDS
  printf '[e2e] %-28s ' "$image"
  docker build --pull=false --force-rm -t "$image" "$REPO/$dir" \
    >"$LOG_DIR/standin-${dir##*/}.log" 2>&1 </dev/null ||
    { echo FAILED; tail -n 30 "$LOG_DIR/standin-${dir##*/}.log" >&2; die "building $image failed"; }
  printf 'built %4ss  (local stand-in for the official image)\n' "$((SECONDS - t0))"
done

say "building the faas CLI in $BUILD_DIR"
cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug >"$LOG_DIR/e2e-cmake.log" 2>&1 ||
  { tail -n 30 "$LOG_DIR/e2e-cmake.log" >&2; die "cmake configure failed"; }
cmake --build "$BUILD_DIR" --target faas -j2 >"$LOG_DIR/e2e-build.log" 2>&1 ||
  { tail -n 30 "$LOG_DIR/e2e-build.log" >&2; die "building the faas CLI failed"; }

# Every template's starter, built once with the CLI while the stacks start: the tests build
# the same Dockerfiles and files, so theirs reuse these layers and only the handler edits build.
warm_dir=$(mktemp -d /tmp/faas-e2e-warm.XXXXXX)
warm_log=$LOG_DIR/templates-warm.log
(
  cd "$warm_dir"
  stack=""
  for dir in "$REPO"/templates/*/; do
    lang=$(basename "$dir")
    [[ -f $dir/template.yml ]] || continue
    if [[ -z $stack ]]; then
      "$BUILD_DIR/bin/faas" new "warm-$lang" --lang "$lang" --quiet && stack=warm-$lang.yml
    else
      "$BUILD_DIR/bin/faas" new "warm-$lang" --lang "$lang" --quiet --append "$stack"
    fi
  done
  "$BUILD_DIR/bin/faas" build -f "$stack" --parallel 2
) >"$warm_log" 2>&1 </dev/null &
warm_pid=$!
warm_start=$SECONDS

if [[ $(docker info --format '{{.Swarm.LocalNodeState}}') != active ]]; then
  say "docker swarm init --advertise-addr 127.0.0.1"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  swarm_inited_here=1
fi

if docker stack ls --format '{{.Name}}' | grep -qx "$STACK"; then
  die "stack '$STACK' is already deployed; remove it first (docker stack rm $STACK)"
fi
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
docker secret rm basic-auth-user basic-auth-password >/dev/null 2>&1 || true
printf admin | docker secret create basic-auth-user - >/dev/null
printf '%s' "$password" | docker secret create basic-auth-password - >/dev/null

say "docker stack deploy -c registry/registry.stack.yml $REGISTRY_STACK"
stack_deployed=1
(cd "$REPO" && docker stack deploy --resolve-image never -c registry/registry.stack.yml "$REGISTRY_STACK") \
  >"$LOG_DIR/registry-deploy.log" 2>&1 || { cat "$LOG_DIR/registry-deploy.log" >&2; die "registry deploy failed"; }

say "docker stack deploy -c stack.yml $STACK"
stack_deployed=1
deploy_start=$SECONDS
(cd "$REPO" && BUILD_REGISTRY=127.0.0.1:5000 docker stack deploy -c stack.yml "$STACK") >"$LOG_DIR/stack-deploy.log" 2>&1 ||
  { cat "$LOG_DIR/stack-deploy.log" >&2; die "stack deploy failed"; }

# Ready: Prometheus is up and every sample function answers through the gateway (which also
# means the gateway has its replicas' addresses, not only Docker).
ready() {
  curl -fsS -m 3 http://127.0.0.1:9090/-/ready >/dev/null 2>&1 || return 1
  curl -fsS -m 3 http://127.0.0.1:5000/v2/ >/dev/null 2>&1 || return 1
  local name
  for name in catservice echoit wordcount env base64 sleep; do
    curl -fsS -m 5 -o /dev/null -d 0 "http://127.0.0.1:8080/function/$name" 2>/dev/null || return 1
  done
  # Asynchronous calls: the gateway reaches NATS (503 until it does) and every worker runs.
  curl -fsS -m 5 -o /dev/null -u "admin:$password" "http://127.0.0.1:8080/system/calls?limit=1" \
    2>/dev/null || return 1
  [[ $(docker service ls --filter "name=${STACK}_queue-worker" --format '{{.Replicas}}') == 2/2 ]]
}
deadline=$((SECONDS + READY_TIMEOUT))
until ready; do
  if ((SECONDS >= deadline)); then
    docker stack ps "$STACK" --no-trunc >&2 || true
    docker service logs --tail 30 "${STACK}_gateway" >&2 || true
    die "stack not ready after ${READY_TIMEOUT}s"
  fi
  sleep 1
done
say "stack ready $((SECONDS - deploy_start))s after deploy"

say "building the e2e tests in $BUILD_DIR"
cmake --build "$BUILD_DIR" --target gateway_e2e_test -j2 >>"$LOG_DIR/e2e-build.log" 2>&1 ||
  { tail -n 30 "$LOG_DIR/e2e-build.log" >&2; die "building the e2e tests failed"; }

say "waiting for the template builds (log: $warm_log)"
if ! wait "$warm_pid"; then
  tail -n 40 "$warm_log" >&2
  die "building the templates' starter functions failed"
fi
rm -rf "$warm_dir"
grep -E '^\[[a-z0-9-]+\] (built|FAILED)' "$warm_log" | sed 's/^/[e2e] /' || true
say "template builds done $((SECONDS - warm_start))s after they started"

say "running ctest -L e2e"
export FAAS_E2E_REQUIRED=1 FAAS_E2E_USER=admin FAAS_E2E_PASSWORD=$password FAAS_E2E_STACK=$STACK
export FAAS_E2E_REPORT=$BUILD_DIR/e2e-report.txt
rm -f "$FAAS_E2E_REPORT"
test_status=0
# '^e2e$': the label is a regular expression, and e2e-multinode (scripts/e2e-multinode.sh) is
# another run on another Swarm.
(cd "$BUILD_DIR" && ctest -L '^e2e$' --output-on-failure --timeout 600 "$@") || test_status=$?
[[ -f $FAAS_E2E_REPORT ]] && sed 's/^/[e2e] report: /' "$FAAS_E2E_REPORT"
say "e2e finished in $((SECONDS - start))s (status $test_status)"
exit "$test_status"

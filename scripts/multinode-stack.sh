#!/usr/bin/env bash
# The faas stack on the multi-node test Swarm of scripts/multinode.sh (issue #14): the
# repository's stack.yml, as an operator deploys it, with scripts/multinode/stack.override.yml
# (functions on the workers), deployed as stack `func` ON THE MANAGER (faas-mn-mgr), never on
# the host's own swarm (the one scripts/e2e.sh uses). The gateway, NATS, Prometheus and
# Alertmanager run on the manager; queue workers and functions on the workers.
#
# Usage: scripts/multinode-stack.sh up     bring the cluster up if `scripts/multinode.sh status`
#                                          fails; push every image of stack.yml to the cluster
#                                          registry (127.0.0.1:5001/...); create the secrets
#                                          basic-auth-user/-password (user admin, a random
#                                          password, kept in build/multinode/credentials as
#                                          `user password`); deploy with IMAGE_PREFIX set to the
#                                          registry, so every node pulls what it runs; wait for
#                                          every service and GET /healthz = 200 on
#                                          http://192.168.232.10:8080. A second `up` keeps the
#                                          secrets and redeploys (a changed image rolls).
#        scripts/multinode-stack.sh env    `export` lines for the e2e tests (FAAS_E2E_*):
#                                          eval "$(scripts/multinode-stack.sh env)"
#        scripts/multinode-stack.sh down   remove the functions the gateway deployed, the stack,
#                                          its networks and volumes and the secrets from the
#                                          manager; the cluster stays (scripts/multinode.sh down)
#
#   eval "$(scripts/multinode-stack.sh env)"
#   ctest --test-dir build/debug -L e2e-multinode --output-on-failure
#
# Needs the images of stack.yml on the host: scripts/build-images.sh and the Prometheus and
# Alertmanager stand-ins scripts/e2e.sh builds (monitor/images/).
# Environment:
#   FAAS_MN_STACK_TIMEOUT  seconds for each wait (default 120)
set -euo pipefail

readonly REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly STATE_DIR=$REPO/build/multinode
readonly CREDENTIALS=$STATE_DIR/credentials
readonly STACK_FILE=$REPO/stack.yml OVERRIDE_FILE=$REPO/scripts/multinode/stack.override.yml
# What the stack file reads besides itself (its configs), copied with it to the manager.
readonly STACK_FILES=(stack.yml monitor/prometheus.yml monitor/alert.rules.yml monitor/alertmanager.yml)
readonly MANAGER_DIR=/faas-stack
readonly STACK=func
readonly MANAGER=faas-mn-mgr MANAGER_IP=192.168.232.10 GATEWAY_PORT=8080
readonly PROMETHEUS_PORT=9090 ALERTMANAGER_PORT=9093
readonly REGISTRY=127.0.0.1:${FAAS_MN_REGISTRY_PORT:-5001}
readonly TIMEOUT=${FAAS_MN_STACK_TIMEOUT:-120}
readonly MULTINODE=$REPO/scripts/multinode.sh

# The host's dockerd for pushes (multinode.sh forces it too); the manager's for everything else.
export DOCKER_HOST=unix:///var/run/docker.sock
unset DOCKER_CONTEXT

say() { printf '[multinode-stack] %4ss %s\n' "$SECONDS" "$*"; }
die() { printf '[multinode-stack] %4ss ERROR: %s\n' "$SECONDS" "$*" >&2; exit 1; }

# on_manager ARGS...: the manager's docker (its own CLI, inside the node container).
on_manager() { docker exec "$MANAGER" docker "$@"; }
# on_manager_stdin ARGS...: the same, with this script's stdin.
on_manager_stdin() { docker exec -i "$MANAGER" docker "$@"; }

# poll SECONDS COMMAND...: run COMMAND every second until it succeeds (0) or SECONDS pass (1).
poll() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}
# wait_for SECONDS WHAT COMMAND...: poll, or die naming WHAT.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  poll "$seconds" "$@" || die "timeout after ${seconds}s: $what"
}

manager_running() {
  [[ $(docker container inspect -f '{{.State.Status}}' "$MANAGER" 2>/dev/null) == running ]] &&
    on_manager info >/dev/null 2>&1
}

healthz() { curl -fsS -m 2 -o /dev/null "http://$MANAGER_IP:$GATEWAY_PORT/healthz"; }
secret_exists() { on_manager secret inspect "$1" >/dev/null 2>&1; }
stack_services() { on_manager service ls -q --filter "label=com.docker.stack.namespace=$STACK"; }
function_services() { on_manager service ls -q --filter label=function=true; }
no_stack_services() { [[ -z $(stack_services) ]]; }
no_function_services() { [[ -z $(function_services) ]]; }
networks_gone() { [[ -z $(on_manager network ls -q --filter "label=com.docker.stack.namespace=$STACK") ]]; }
no_stack_containers() {
  [[ -z $(on_manager ps -aq --filter "label=com.docker.stack.namespace=$STACK") ]]
}

# ---------------------------------------------------------------------------------- up

ensure_cluster() {
  if "$MULTINODE" status >/dev/null 2>&1; then
    say "cluster is up (scripts/multinode.sh status)"
  else
    say "cluster is not up: scripts/multinode.sh up"
    "$MULTINODE" up
    "$MULTINODE" status >/dev/null || die "scripts/multinode.sh status still fails after up"
  fi
}

# The images stack.yml names (after its ${IMAGE_PREFIX:-}), one a line.
stack_images() { sed -n 's/^ *image: *\${IMAGE_PREFIX:-}//p' "$STACK_FILE"; }

push_images() {
  local images image missing=()
  mapfile -t images < <(stack_images)
  ((${#images[@]} > 0)) || die "no 'image: \${IMAGE_PREFIX:-}...' lines in ${STACK_FILE#"$REPO"/}"
  for image in "${images[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 || missing+=("$image")
  done
  ((${#missing[@]} == 0)) ||
    die "not on the host: ${missing[*]} (scripts/build-images.sh; the prom/* stand-ins: scripts/e2e.sh)"
  local line
  "$MULTINODE" push "${images[@]}" | while IFS= read -r line; do
    say "${line#\[multinode\] *[0-9]s }"
  done
  ((PIPESTATUS[0] == 0)) || die "scripts/multinode.sh push failed"
}

# The secrets are kept when they and the credentials file both exist; otherwise the stack (a
# secret in use cannot be removed) and the secrets are removed and made again.
ensure_secrets() {
  if secret_exists basic-auth-user && secret_exists basic-auth-password && [[ -s $CREDENTIALS ]]; then
    say "secrets basic-auth-user/-password exist (credentials: ${CREDENTIALS#"$REPO"/})"
    return
  fi
  if ! no_stack_services; then
    say "removing stack $STACK to renew its secrets"
    remove_stack
  fi
  local name
  for name in basic-auth-user basic-auth-password; do
    secret_exists "$name" && on_manager secret rm "$name" >/dev/null
  done
  local user=admin password
  password=$(head -c 16 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)
  printf '%s' "$user" | on_manager_stdin secret create basic-auth-user - >/dev/null
  printf '%s' "$password" | on_manager_stdin secret create basic-auth-password - >/dev/null
  mkdir -p "$STATE_DIR"
  (umask 077 && printf '%s %s\n' "$user" "$password" >"$CREDENTIALS")
  say "created secrets basic-auth-user/-password on $MANAGER (credentials: ${CREDENTIALS#"$REPO"/})"
}

copy_stack_files() {
  docker exec "$MANAGER" sh -c "rm -rf $MANAGER_DIR && mkdir -p $MANAGER_DIR"
  (cd "$REPO" && tar -c "${STACK_FILES[@]}") | docker exec -i "$MANAGER" tar -x -C "$MANAGER_DIR"
  docker exec -i "$MANAGER" sh -c "cat > $MANAGER_DIR/stack.override.yml" <"$OVERRIDE_FILE"
}

# stack_deploy: the manager's CLI deploys the copied files with the registry as image prefix
# (it resolves each image to its digest there, so an image pushed anew rolls its service).
stack_deploy() {
  docker exec -w "$MANAGER_DIR" -e "IMAGE_PREFIX=$REGISTRY/" -e "BUILD_REGISTRY=$REGISTRY" \
    "$MANAGER" docker stack deploy -c stack.yml -c stack.override.yml "$STACK" 2>&1
}

# Every service of the stack runs as many tasks as it wants (its REPLICAS column n/n).
stack_converged() {
  local replicas
  replicas=$(on_manager service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Replicas}}')
  [[ -n $replicas ]] && ! awk -F'[/ ]' '$1 != $2 { bad = 1 } END { exit !bad }' <<<"$replicas"
}

deploy() {
  local start=$SECONDS output
  copy_stack_files
  if ! output=$(stack_deploy); then
    # A swarm config cannot change in place: a changed monitor/ file needs the stack removed.
    grep -q 'only updates to Labels are allowed' <<<"$output" ||
      { printf '%s\n' "$output" >&2; die "docker stack deploy failed on $MANAGER"; }
    say "a config of the stack changed: removing stack $STACK to deploy it anew"
    remove_stack
    output=$(stack_deploy) || { printf '%s\n' "$output" >&2; die "docker stack deploy failed on $MANAGER"; }
  fi
  sed 's/^/[multinode-stack]   /' <<<"$output"
  say "deployed stack $STACK on $MANAGER: stack.yml + ${OVERRIDE_FILE#"$REPO"/}, images from $REGISTRY"
  poll "$TIMEOUT" stack_converged || {
    on_manager service ls >&2 || true
    die "the services of stack $STACK did not all run within ${TIMEOUT}s"
  }
  say "every service of stack $STACK runs ($((SECONDS - start))s after deploy)"
  poll "$TIMEOUT" healthz || {
    on_manager service ps --no-trunc "${STACK}_gateway" >&2 || true
    on_manager service logs --tail 30 "${STACK}_gateway" >&2 || true
    die "GET http://$MANAGER_IP:$GATEWAY_PORT/healthz did not answer 200 within ${TIMEOUT}s"
  }
  say "gateway answers 200 on http://$MANAGER_IP:$GATEWAY_PORT/healthz ($((SECONDS - start))s after deploy)"
}

e2e_env() {
  [[ -s $CREDENTIALS ]] || die "no ${CREDENTIALS#"$REPO"/}: run scripts/multinode-stack.sh up"
  local user password
  read -r user password <"$CREDENTIALS"
  cat <<EOF
export FAAS_E2E_GATEWAY_HOST=$MANAGER_IP
export FAAS_E2E_GATEWAY_PORT=$GATEWAY_PORT
export FAAS_E2E_USER=$user
export FAAS_E2E_PASSWORD=$password
export FAAS_E2E_STACK=$STACK
export FAAS_E2E_PROMETHEUS_HOST=$MANAGER_IP
export FAAS_E2E_PROMETHEUS_PORT=$PROMETHEUS_PORT
export FAAS_E2E_ALERTMANAGER_PORT=$ALERTMANAGER_PORT
export FAAS_MN_MANAGER=$MANAGER
export FAAS_MN_REGISTRY=$REGISTRY
EOF
}

up() {
  [[ -f $STACK_FILE && -f $OVERRIDE_FILE ]] || die "no ${STACK_FILE#"$REPO"/} or ${OVERRIDE_FILE#"$REPO"/}"
  ensure_cluster
  push_images
  ensure_secrets
  deploy
  say "up; for the tests: eval \"\$(scripts/multinode-stack.sh env)\""
  e2e_env | sed 's/FAAS_E2E_PASSWORD=.*/FAAS_E2E_PASSWORD=(in build\/multinode\/credentials)/; s/^/[multinode-stack]   /'
}

# ---------------------------------------------------------------------------------- down

remove_stack() {
  on_manager stack rm "$STACK" >/dev/null 2>&1 || true
  wait_for "$TIMEOUT" "the services of stack $STACK are still listed" no_stack_services
  wait_for "$TIMEOUT" "the containers of stack $STACK are still there" no_stack_containers
  say "stack $STACK removed"
}

down() {
  if ! manager_running; then
    say "$MANAGER is not running: nothing to remove"
    rm -f "$CREDENTIALS"
    return
  fi
  # Functions the gateway deployed hold the stack's network.
  local functions
  functions=$(function_services)
  if [[ -n $functions ]]; then
    # shellcheck disable=SC2086 # one id per word
    on_manager service rm $functions >/dev/null
    wait_for "$TIMEOUT" "function services are still listed" no_function_services
    say "removed $(wc -w <<<"$functions") function service(s)"
  fi
  remove_stack
  wait_for "$TIMEOUT" "the networks of stack $STACK are still there" networks_gone
  on_manager volume rm "${STACK}_gateway-state" "${STACK}_nats-data" >/dev/null 2>&1 || true
  docker exec "$MANAGER" rm -rf "$MANAGER_DIR"
  local name
  for name in basic-auth-user basic-auth-password; do
    secret_exists "$name" && on_manager secret rm "$name" >/dev/null
  done
  rm -f "$CREDENTIALS"
  say "down: stack, secrets and credentials removed (the cluster stays: scripts/multinode.sh down)"
}

case ${1:-} in
  up) up ;;
  env) e2e_env ;;
  down) down ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac

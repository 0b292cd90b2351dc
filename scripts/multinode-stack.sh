#!/usr/bin/env bash
# The faas stack on the multi-node test Swarm of scripts/multinode.sh (issue #14): the gateway
# from scripts/multinode/stack.yml deployed as stack `func` ON THE MANAGER (faas-mn-mgr), never
# on the host's own swarm (the one scripts/e2e.sh uses).
#
# Usage: scripts/multinode-stack.sh up     bring the cluster up if `scripts/multinode.sh status`
#                                          fails; push faas/gateway and faas/catservice to the
#                                          test registry; pull the gateway on the manager and
#                                          tag it faas/gateway:latest there; create the secrets
#                                          basic-auth-user/-password (user admin, a random
#                                          password, kept in build/multinode/credentials as
#                                          `user password`); deploy; wait for GET /healthz = 200
#                                          on http://192.168.232.10:8080. A second `up` keeps
#                                          the secrets and redeploys.
#        scripts/multinode-stack.sh env    `export` lines for the e2e tests (FAAS_E2E_*):
#                                          eval "$(scripts/multinode-stack.sh env)"
#        scripts/multinode-stack.sh down   remove the functions the gateway deployed, the stack,
#                                          its network and volume and the secrets from the
#                                          manager; the cluster stays (scripts/multinode.sh down)
#
#   eval "$(scripts/multinode-stack.sh env)"
#   ctest --test-dir build/debug -L e2e-multinode --output-on-failure
#
# Environment:
#   FAAS_MN_STACK_TIMEOUT  seconds for each wait (default 120)
set -euo pipefail

readonly REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly STATE_DIR=$REPO/build/multinode
readonly CREDENTIALS=$STATE_DIR/credentials
readonly STACK_FILE=$REPO/scripts/multinode/stack.yml
readonly STACK=func
readonly MANAGER=faas-mn-mgr MANAGER_IP=192.168.232.10 GATEWAY_PORT=8080
readonly PULL_REGISTRY=192.168.232.5:5000
readonly TIMEOUT=${FAAS_MN_STACK_TIMEOUT:-120}
readonly MULTINODE=$REPO/scripts/multinode.sh
# Images the stack and the tests need; the gateway is also tagged under its own name on the
# manager, functions are deployed from the registry's name.
readonly IMAGES=(faas/gateway:latest faas/catservice:latest)
GATEWAY_CHANGED=0

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
network_gone() { ! on_manager network inspect "${STACK}_functions" >/dev/null 2>&1; }
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

push_images() {
  local image
  for image in "${IMAGES[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 ||
      die "no image $image on the host: run scripts/build-images.sh"
  done
  local line
  "$MULTINODE" push "${IMAGES[@]}" | while IFS= read -r line; do
    say "${line#\[multinode\] *[0-9]s }"
  done
  ((PIPESTATUS[0] == 0)) || die "scripts/multinode.sh push failed"
  on_manager pull -q "$PULL_REGISTRY/faas/gateway:latest" >/dev/null ||
    die "the manager could not pull $PULL_REGISTRY/faas/gateway:latest"
  local before
  before=$(on_manager image inspect -f '{{.Id}}' faas/gateway:latest 2>/dev/null || true)
  on_manager tag "$PULL_REGISTRY/faas/gateway:latest" faas/gateway:latest
  [[ $(on_manager image inspect -f '{{.Id}}' faas/gateway:latest) == "$before" ]] || GATEWAY_CHANGED=1
  say "manager pulled $PULL_REGISTRY/faas/gateway:latest, tagged faas/gateway:latest"
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

deploy() {
  local running_before start=$SECONDS
  running_before=$(stack_services)
  # The manager's CLI reads the stack file from stdin; --resolve-image never: the gateway image
  # is local to the manager (no registry knows the name faas/gateway).
  on_manager_stdin stack deploy --resolve-image never -c - "$STACK" <"$STACK_FILE" |
    sed 's/^/[multinode-stack]   /'
  say "deployed stack $STACK on $MANAGER from ${STACK_FILE#"$REPO"/}"
  # The same image name with new content: the deploy above does not roll the running task.
  if ((GATEWAY_CHANGED)) && [[ -n $running_before ]]; then
    say "the gateway image changed: restarting ${STACK}_gateway"
    timeout "$TIMEOUT" docker exec "$MANAGER" docker service update --force --quiet \
      "${STACK}_gateway" >/dev/null || die "service update --force ${STACK}_gateway did not converge in ${TIMEOUT}s"
  fi
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
export FAAS_MN_MANAGER=$MANAGER
export FAAS_MN_REGISTRY_PULL=$PULL_REGISTRY
EOF
}

up() {
  [[ -f $STACK_FILE ]] || die "no ${STACK_FILE#"$REPO"/}"
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
  wait_for "$TIMEOUT" "network ${STACK}_functions is still there" network_gone
  on_manager volume rm "${STACK}_gateway-state" >/dev/null 2>&1 || true
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

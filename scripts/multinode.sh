#!/usr/bin/env bash
# A real multi-node Docker Swarm on this one machine, for tests that need more than one node
# (issue #14): one manager and two workers, each a container running its own dockerd
# (docker-in-docker, image built from scripts/multinode/), plus a registry the nodes pull from.
# The host's own dockerd only runs these containers: its swarm (the one scripts/e2e.sh uses)
# and its stacks, networks, volumes and images are never touched.
#
#   bridge faas-mn-net 192.168.232.0/24 (on the host)
#     faas-mn-registry  192.168.232.5    registry:2 (registry/), published on 127.0.0.1:5001
#     faas-mn-mgr       192.168.232.10   swarm manager
#     faas-mn-w1/-w2    192.168.232.11/.12  swarm workers, labelled faas.role=functions
#   overlay faas-mn-ovl 10.232.0.0/24 (attachable, in the swarm)
#
# The registry has one name everywhere, 127.0.0.1:5001: on the host it is the published port,
# in each node a forwarder to 192.168.232.5:5000 (scripts/multinode/entrypoint.sh). So an image
# pushed from the host as 127.0.0.1:5001/NAME (`faas push`, `docker push`) is deployed under
# that same name and every node pulls it, as with a registry all machines reach by one name.
#
# Usage: scripts/multinode.sh up            build the images and start everything; a second
#                                           `up` only checks and returns
#        scripts/multinode.sh push IMAGE... tag host images 127.0.0.1:5001/IMAGE and push them
#                                           (an IMAGE named 127.0.0.1:5001/... is pushed as is)
#        scripts/multinode.sh status        one line per node and the registry's health;
#                                           exit 0 only when all 3 nodes are Ready and the
#                                           registry answers
#        scripts/multinode.sh env           `export` lines for driving the manager from the host:
#                                           eval "$(scripts/multinode.sh env)"; docker node ls
#        scripts/multinode.sh down [--images]  remove all of it (and, with --images, the node image)
#
# `up` writes build/multinode/env (KEY=VALUE lines): DOCKER_HOST for the manager's dockerd
# (unix:///proc/PID/root/run/docker.sock, valid until the manager container restarts; `up` or
# `env` refresh it), the registry's address (FAAS_MN_REGISTRY), the overlay.
# The kernel here has no IP_VS: services need `--endpoint-mode dnsrr` and no `--publish`
# (ingress); publish in host mode instead. See /work/shared/reference/multinode-swarm.md.
# Environment:
#   FAAS_MN_REGISTRY_PORT  host port of the registry on 127.0.0.1 (default 5001; the host's
#                          own registry service has 5000)
#   FAAS_MN_TIMEOUT        seconds for each wait (default 90)
set -euo pipefail

readonly REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly STATE_DIR=$REPO/build/multinode
readonly ENV_FILE=$STATE_DIR/env
readonly TIMEOUT=${FAAS_MN_TIMEOUT:-90}

readonly NET=faas-mn-net SUBNET=192.168.232.0/24 GATEWAY=192.168.232.1
readonly OVERLAY=faas-mn-ovl OVERLAY_SUBNET=10.232.0.0/24
readonly REGISTRY=faas-mn-registry REGISTRY_IP=192.168.232.5
readonly REGISTRY_PORT=${FAAS_MN_REGISTRY_PORT:-5001}
# The registry's one name, on the host and in every node; its address on the bridge.
readonly CLUSTER_REGISTRY=127.0.0.1:$REGISTRY_PORT BRIDGE_REGISTRY=$REGISTRY_IP:5000
readonly MANAGER=faas-mn-mgr
readonly WORKERS=(faas-mn-w1 faas-mn-w2)
readonly NODES=("$MANAGER" "${WORKERS[@]}")
declare -rA NODE_IP=([faas-mn-mgr]=192.168.232.10 [faas-mn-w1]=192.168.232.11 [faas-mn-w2]=192.168.232.12)
readonly NODE_IMAGE=faas-mn-node:local REGISTRY_IMAGE=registry:2
readonly WORKER_LABEL=faas.role=functions

# Everything here runs on the local dockerd (the nodes bind-mount this machine's cgroups), even
# when the caller has DOCKER_HOST pointing at the manager from build/multinode/env.
export DOCKER_HOST=unix:///var/run/docker.sock
unset DOCKER_CONTEXT
export DOCKER_BUILDKIT=0

say() { printf '[multinode] %4ss %s\n' "$SECONDS" "$*"; }
warn() { printf '[multinode] %4ss WARNING: %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[multinode] %4ss ERROR: %s\n' "$SECONDS" "$*" >&2; exit 1; }

# wait_for SECONDS WHAT COMMAND...: run COMMAND until it succeeds, or die naming WHAT.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timeout after ${seconds}s: $what did not become ready"
    sleep 0.5
  done
}

container_state() {
  docker container inspect "$1" >/dev/null 2>&1 || { echo missing; return; }
  docker container inspect -f '{{.State.Status}}' "$1"
}
on_node() { local node=$1; shift; docker exec "$node" docker "$@"; }
on_manager() { on_node "$MANAGER" "$@"; }
node_dockerd_answers() { on_node "$1" info >/dev/null; }
swarm_state() { on_node "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }
registry_answers() { curl -fsS -m 2 -o /dev/null "http://$CLUSTER_REGISTRY/v2/"; }
# node_reaches_registry NODE: the node's forwarder answers for the registry.
node_reaches_registry() { docker exec "$1" curl -fsS -m 2 -o /dev/null "http://$CLUSTER_REGISTRY/v2/"; }
manager_pid() { docker inspect -f '{{.State.Pid}}' "$MANAGER"; }

# ---------------------------------------------------------------------------------- up

preflight() {
  docker info >/dev/null 2>&1 || die "the local dockerd does not answer"
  [[ $(stat -fc %T /sys/fs/cgroup) != cgroup2fs ]] ||
    die "cgroup v2 host: the nodes are written for cgroup v1 (see the recipe)"
  mkdir -p "$STATE_DIR"
}

# The node image is rebuilt when its Dockerfile or entrypoint changes (their hash is a label of
# the image).
node_context_hash() {
  cat "$REPO"/scripts/multinode/Dockerfile "$REPO"/scripts/multinode/entrypoint.sh |
    sha256sum | cut -c1-16
}
node_image_current() {
  [[ $(docker image inspect -f '{{index .Config.Labels "faas.mn.context"}}' "$NODE_IMAGE" \
    2>/dev/null) == "$(node_context_hash)" ]]
}

# build_in_background IMAGE DIR [ARGS...]: starts `docker build`, logs to build/multinode/.
build_in_background() {
  local image=$1 dir=$2
  shift 2
  say "building $image from ${dir#"$REPO"/} (log: ${STATE_DIR#"$REPO"/}/build-${image%%:*}.log)"
  docker build --pull=false --force-rm -t "$image" "$@" "$dir" \
    >"$STATE_DIR/build-${image%%:*}.log" 2>&1 </dev/null &
  build_pids[$!]=$image
}

build_images() {
  declare -gA build_pids=()
  node_image_current ||
    build_in_background "$NODE_IMAGE" "$REPO/scripts/multinode" --label "faas.mn.context=$(node_context_hash)"
  docker image inspect "$REGISTRY_IMAGE" >/dev/null 2>&1 ||
    build_in_background "$REGISTRY_IMAGE" "$REPO/registry"
  local pid image
  for pid in "${!build_pids[@]}"; do
    image=${build_pids[$pid]}
    if ! wait "$pid"; then
      tail -n 30 "$STATE_DIR/build-${image%%:*}.log" >&2
      die "building $image failed"
    fi
    say "built $image"
  done
}

ensure_bridge() {
  docker network inspect "$NET" >/dev/null 2>&1 && return
  say "creating bridge $NET ($SUBNET)"
  docker network create --driver bridge --subnet "$SUBNET" --gateway "$GATEWAY" \
    --label faas-mn=1 "$NET" >/dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_registry() {
  case $(container_state "$REGISTRY") in
    running) return ;;
    missing)
      port_in_use "$REGISTRY_PORT" &&
        die "127.0.0.1:$REGISTRY_PORT is taken: set FAAS_MN_REGISTRY_PORT to a free port"
      say "starting $REGISTRY ($BRIDGE_REGISTRY, published on $CLUSTER_REGISTRY)"
      # registry/config.yml listens on :5000 in the container.
      docker run -d --name "$REGISTRY" --label faas-mn=1 \
        --network "$NET" --ip "$REGISTRY_IP" -p "127.0.0.1:$REGISTRY_PORT:5000" \
        -v "$REGISTRY-data:/var/lib/registry" "$REGISTRY_IMAGE" >/dev/null
      ;;
    *) say "starting the stopped $REGISTRY"; docker start "$REGISTRY" >/dev/null ;;
  esac
}

# The node flags measured on this machine: --privileged fails here (no CAP_SYS_RESOURCE in the
# bounding set), so every other capability, no seccomp/apparmor/masked paths, every device,
# and the host's cgroup tree read-write. The node's dockerd puts its containers in
# /sys/fs/cgroup/*/NAME/ (--cgroup-parent), which `down` removes.
start_node() {
  local name=$1
  say "starting $name (${NODE_IP[$name]})"
  docker run -d --name "$name" --hostname "$name" --label faas-mn=1 \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined \
    --device-cgroup-rule 'a *:* rwm' \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --network "$NET" --ip "${NODE_IP[$name]}" \
    -v "$name-data:/var/lib/docker" \
    -e DOCKERD_STORAGE_DRIVER=overlay2 \
    -e "FAAS_MN_REGISTRY_FORWARD=$REGISTRY_PORT=$BRIDGE_REGISTRY" \
    "$NODE_IMAGE" --insecure-registry "$BRIDGE_REGISTRY" --cgroup-parent "/$name" >/dev/null
}

ensure_node() {
  case $(container_state "$1") in
    running) ;;
    missing) start_node "$1" ;;
    *) say "starting the stopped $1"; docker start "$1" >/dev/null ;;
  esac
}

ensure_swarm() {
  [[ $(swarm_state "$MANAGER") == active ]] && return
  say "swarm init on $MANAGER"
  on_manager swarm init --advertise-addr "${NODE_IP[$MANAGER]}" \
    --listen-addr "${NODE_IP[$MANAGER]}:2377" >/dev/null
}

manager_lists() { on_manager node ls --format '{{.Hostname}}' | grep -qx "$1"; }

ensure_joined() {
  local worker=$1 token
  if [[ $(swarm_state "$worker") == active ]]; then
    manager_lists "$worker" && return
    warn "$worker is in another swarm (the manager was re-created?): leaving it"
    on_node "$worker" swarm leave --force >/dev/null
  fi
  say "$worker joins the swarm"
  token=$(on_manager swarm join-token -q worker)
  on_node "$worker" swarm join --token "$token" "${NODE_IP[$MANAGER]}:2377" >/dev/null
}

nodes_ready() {
  local listed node
  listed=$(on_manager node ls --format '{{.Hostname}} {{.Status}}')
  for node in "${NODES[@]}"; do
    grep -qx "$node Ready" <<<"$listed" || return 1
  done
}

label_workers() {
  local worker
  for worker in "${WORKERS[@]}"; do
    [[ $(on_manager node inspect -f '{{index .Spec.Labels "faas.role"}}' "$worker") == "${WORKER_LABEL#*=}" ]] &&
      continue
    on_manager node update --label-add "$WORKER_LABEL" "$worker" >/dev/null
    say "labelled $worker $WORKER_LABEL"
  done
}

ensure_overlay() {
  on_manager network inspect "$OVERLAY" >/dev/null 2>&1 && return
  say "creating overlay $OVERLAY ($OVERLAY_SUBNET, attachable)"
  on_manager network create --driver overlay --attachable --subnet "$OVERLAY_SUBNET" \
    "$OVERLAY" >/dev/null
}

write_env() {
  cat >"$ENV_FILE" <<EOF
DOCKER_HOST=unix:///proc/$(manager_pid)/root/run/docker.sock
FAAS_MN_REGISTRY=$CLUSTER_REGISTRY
FAAS_MN_OVERLAY=$OVERLAY
FAAS_MN_MANAGER_IP=${NODE_IP[$MANAGER]}
FAAS_MN_WORKER_LABEL=$WORKER_LABEL
EOF
}

up() {
  preflight
  build_images
  ensure_bridge
  ensure_registry
  local node
  for node in "${NODES[@]}"; do ensure_node "$node"; done
  wait_for "$TIMEOUT" "the registry on $CLUSTER_REGISTRY" registry_answers
  for node in "${NODES[@]}"; do
    wait_for "$TIMEOUT" "dockerd in $node (docker logs $node)" node_dockerd_answers "$node"
    wait_for "$TIMEOUT" "the registry as $CLUSTER_REGISTRY in $node" node_reaches_registry "$node"
  done
  say "registry and the 3 dockerds answer; each node reaches the registry as $CLUSTER_REGISTRY"
  ensure_swarm
  for node in "${WORKERS[@]}"; do ensure_joined "$node"; done
  wait_for "$TIMEOUT" "all 3 nodes Ready in the manager's docker node ls" nodes_ready
  label_workers
  ensure_overlay
  write_env
  say "up: 1 manager + 2 workers Ready; ${ENV_FILE#"$REPO"/}:"
  sed 's/^/[multinode]        /' "$ENV_FILE"
}

# ---------------------------------------------------------------------------------- push

# registry_path NAME[:TAG]: the repository path without a registry host, with a tag.
registry_path() {
  local name=$1 first=${1%%/*}
  if [[ $name == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
    name=${name#*/}
  fi
  [[ ${name##*/} == *:* ]] || name=$name:latest
  printf '%s\n' "$name"
}

push() {
  (($# > 0)) || die "usage: scripts/multinode.sh push IMAGE..."
  registry_answers || die "the registry on $CLUSTER_REGISTRY does not answer: run scripts/multinode.sh up"
  local image path
  for image in "$@"; do
    docker image inspect "$image" >/dev/null 2>&1 || die "no image $image on the host"
    [[ $image != *@* ]] || die "$image: push a tagged name, not a digest"
    path=$(registry_path "$image")
    [[ $image == "$CLUSTER_REGISTRY/$path" ]] || docker tag "$image" "$CLUSTER_REGISTRY/$path"
    docker push -q "$CLUSTER_REGISTRY/$path" >/dev/null ||
      die "pushing $CLUSTER_REGISTRY/$path failed"
    say "pushed $image as $CLUSTER_REGISTRY/$path"
  done
}

# ---------------------------------------------------------------------------------- status

status() {
  local ready=0 host manager_status state availability role
  printf '%-18s %-18s %-8s %s\n' NODE ROLE STATE AVAILABILITY
  if [[ $(container_state "$MANAGER") == running ]] && node_dockerd_answers "$MANAGER" 2>/dev/null &&
    [[ $(swarm_state "$MANAGER") == active ]]; then
    while IFS='|' read -r host manager_status state availability; do
      role=worker
      [[ -n $manager_status ]] && role="manager ($manager_status)"
      # The manager notices a stopped node only after about 13 s: ask the host too.
      [[ " ${NODES[*]} " != *" $host "* || $(container_state "$host") == running ]] ||
        state="Down (container $(container_state "$host"))"
      printf '%-18s %-18s %-8s %s\n' "$host" "$role" "$state" "$availability"
      [[ $state == Ready && " ${NODES[*]} " == *" $host "* ]] && ready=$((ready + 1))
    done < <(on_manager node ls --format '{{.Hostname}}|{{.ManagerStatus}}|{{.Status}}|{{.Availability}}' |
      sort)
  else
    printf '%-18s %s\n' "$MANAGER" "no swarm manager answers (container: $(container_state "$MANAGER"))"
  fi
  local health answers=no
  health=missing
  [[ $(container_state "$REGISTRY") == missing ]] ||
    health=$(docker inspect -f '{{.State.Status}}{{if .State.Health}} ({{.State.Health.Status}}){{end}}' "$REGISTRY")
  registry_answers 2>/dev/null && answers=yes
  printf '%-18s %-18s %-8s %s\n' "$REGISTRY" "registry" "$health" "answers on $CLUSTER_REGISTRY: $answers"
  ((ready == ${#NODES[@]})) && [[ $answers == yes ]]
}

print_env() {
  [[ $(container_state "$MANAGER") == running ]] || die "$MANAGER is not running: run scripts/multinode.sh up"
  write_env
  sed 's/^/export /' "$ENV_FILE"
}

# ---------------------------------------------------------------------------------- down

# The inner dockerds' cgroups (/sys/fs/cgroup/CONTROLLER/NODE/...) outlive the nodes; once
# their processes are gone they are empty and rmdir removes them, deepest first.
remove_node_cgroups() {
  local deadline=$((SECONDS + 20)) node dir dirs
  while :; do
    dirs=()
    for node in "${NODES[@]}"; do
      for dir in /sys/fs/cgroup/*/"$node"; do [[ -d $dir ]] && dirs+=("$dir"); done
    done
    ((${#dirs[@]} == 0)) && return
    find "${dirs[@]}" -depth -type d -exec rmdir {} + 2>/dev/null || true
    if ((SECONDS >= deadline)); then
      warn "could not remove: ${dirs[*]}"
      return
    fi
    sleep 0.5
  done
}

down() {
  local remove_image=0
  [[ ${1:-} == --images ]] && remove_image=1
  docker info >/dev/null 2>&1 || die "the local dockerd does not answer"
  local containers=() volumes=() name
  for name in "${NODES[@]}" "$REGISTRY"; do
    [[ $(container_state "$name") != missing ]] && containers+=("$name")
    docker volume inspect "$name-data" >/dev/null 2>&1 && volumes+=("$name-data")
  done
  if ((${#containers[@]})); then
    say "removing ${containers[*]}"
    docker rm -f -v "${containers[@]}" >/dev/null
  fi
  if ((${#volumes[@]})); then
    say "removing volumes ${volumes[*]}"
    docker volume rm "${volumes[@]}" >/dev/null
  fi
  if docker network inspect "$NET" >/dev/null 2>&1; then
    say "removing bridge $NET"
    docker network rm "$NET" >/dev/null ||
      warn "$NET still has containers: $(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$NET")"
  fi
  remove_node_cgroups
  local tags
  mapfile -t tags < <(docker images --format '{{.Repository}}:{{.Tag}}' |
    awk -v prefix="$CLUSTER_REGISTRY/" 'index($0, prefix) == 1 && !/:<none>$/')
  if ((${#tags[@]})); then
    say "removing the pushed tags ${tags[*]}"
    docker rmi "${tags[@]}" >/dev/null
  fi
  if ((remove_image)) && docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
    say "removing $NODE_IMAGE"
    docker rmi "$NODE_IMAGE" >/dev/null
  fi
  rm -rf "$STATE_DIR" # the env file and the build logs
  say "down"
}

case ${1:-} in
  up) up ;;
  push) shift; push "$@" ;;
  status) status ;;
  env) print_env ;;
  down) shift; down "$@" ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac

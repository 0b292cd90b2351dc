#!/usr/bin/env bash
# Builds every Docker image of the project, in dependency order, with one line per image:
#
#   debian:bookworm-slim   made offline by scripts/make-base-image.sh when absent
#   faas/watchdog          the static fwatchdog alone (watchdog/Dockerfile)
#   faas/function-base     busybox + fwatchdog on scratch (sample-functions/base)
#   faas/<function>        each sample-functions/<function>/Dockerfile
#   faas/gateway           gateway/Dockerfile (its last stage)
#   faas/queue-worker      gateway/Dockerfile --target queue-worker: compiled in the same stage
#                          as the gateway, so this build is a cache hit plus one COPY
#   nats:2.9               images/nats: a local stand-in for the official image (Debian's
#                          nats-server), named as the official one so stack.yml works with either
#
# Usage: scripts/build-images.sh [NAME...]    NAME as in the list above without "faas/" or the
#                                              tag (e.g. gateway, nats); no NAME builds them all.
# Idempotent: Docker's layer cache makes an unchanged image a no-op. Each build's full output
# goes to $LOG_DIR/<name>.log; a failure prints its tail and stops with a non-zero exit.
#
# Environment:
#   TAG       tag of the faas/* images (default latest)
#   LOG_DIR   build logs (default build/docker in the repository)
#   SKIP_DOCKER_INSTALL=1  do not run scripts/install-docker.sh first
set -euo pipefail

readonly REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly TAG=${TAG:-latest}
readonly LOG_DIR=${LOG_DIR:-$REPO/build/docker}
readonly BASE_IMAGE=debian:bookworm-slim
# The classic builder: the engine is Debian's 20.10 and there is no buildx plugin to pull.
export DOCKER_BUILDKIT=0

say() { printf '[build-images] %s\n' "$*"; }
die() { printf '[build-images] ERROR: %s\n' "$*" >&2; exit 1; }

wanted() { # is image $1 selected on the command line (or is nothing selected)?
  ((${#SELECTED[@]} == 0)) && return 0
  local name
  for name in "${SELECTED[@]}"; do [[ $name == "$1" ]] && return 0; done
  return 1
}

human_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }

# build NAME CONTEXT DOCKERFILE [TARGET [IMAGE]]: builds IMAGE (default faas/NAME:TAG) from
# the Dockerfile's stage TARGET (default its last), one progress line, log in LOG_DIR.
build() {
  local name=$1 context=$2 dockerfile=$3 target=${4:-} image=${5:-faas/$1:$TAG}
  local log="$LOG_DIR/$name.log" start=$SECONDS
  wanted "$name" || return 0
  local old_id
  old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  printf '[build-images] %-28s ' "$image"
  if ! docker build --pull=false --force-rm \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "WATCHDOG_IMAGE=faas/watchdog:$TAG" \
    --build-arg "FUNCTION_BASE=faas/function-base:$TAG" \
    ${target:+--target "$target"} \
    -f "$dockerfile" -t "$image" "$context" >"$log" 2>&1 </dev/null; then
    printf 'FAILED after %ss\n' "$((SECONDS - start))"
    tail -n 40 "$log" >&2
    die "building $image failed; full log: $log"
  fi
  local new_id note=built
  new_id=$(docker image inspect -f '{{.Id}}' "$image")
  if [[ $new_id == "$old_id" ]]; then
    note=unchanged
  elif [[ -n $old_id ]]; then
    # The replaced image is now untagged; drop it unless something still uses it.
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
  printf '%-9s %4ss  %9s  %s\n' "$note" "$((SECONDS - start))" "$(human_size "$image")" "${new_id:7:12}"
}

SELECTED=("$@")
mkdir -p "$LOG_DIR"
total_start=$SECONDS

if [[ ${SKIP_DOCKER_INSTALL:-0} != 1 ]]; then
  "$REPO/scripts/install-docker.sh"
fi
docker info >/dev/null 2>&1 || die "docker does not answer"
"$REPO/scripts/make-base-image.sh"

build watchdog "$REPO" "$REPO/watchdog/Dockerfile"
build function-base "$REPO/sample-functions/base" "$REPO/sample-functions/base/Dockerfile"
for dir in "$REPO"/sample-functions/*/; do
  name=$(basename "$dir")
  [[ $name != base && -f $dir/Dockerfile ]] || continue
  build "$name" "$dir" "$dir/Dockerfile"
done
build nats "$REPO/images/nats" "$REPO/images/nats/Dockerfile" "" nats:2.9
# Both from one build stage: the second is a cache hit up to its own COPY.
build gateway "$REPO" "$REPO/gateway/Dockerfile" gateway
build queue-worker "$REPO" "$REPO/gateway/Dockerfile" queue-worker

say "all done in $((SECONDS - total_start))s; logs in $LOG_DIR"

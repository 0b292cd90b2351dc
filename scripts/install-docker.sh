#!/usr/bin/env bash
# Installs Debian's Docker engine (docker.io) and makes sure its dockerd is running.
#
# Idempotent: installs nothing that is already installed and starts nothing that already runs.
# Works without systemd and without a terminal (CI=true, no stdin): dockerd is started in the
# background with its log in $DOCKERD_LOG, and we wait for `docker info` with a deadline.
#
# Environment:
#   DOCKERD_LOG       where a dockerd we start writes its log (default /var/log/dockerd.log)
#   DOCKERD_TIMEOUT   seconds to wait for the daemon to answer (default 60)
set -euo pipefail

readonly DOCKERD=/usr/sbin/dockerd # docker.io's daemon, not any other dockerd on PATH
readonly DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
readonly DOCKERD_TIMEOUT=${DOCKERD_TIMEOUT:-60}

say() { printf '[install-docker] %s\n' "$*"; }
die() { printf '[install-docker] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (installs packages and starts dockerd)"

package_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    package_installed "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    say "already installed: $*"
    return
  fi
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet; refresh them once, then install.
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null; then
    say "apt-get install failed; running apt-get update and retrying"
    apt-get update -q </dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
  fi
}

# The engine, its runtime pieces, and iptables for Swarm's networks.
apt_install docker.io containerd runc iptables
[[ -x $DOCKERD ]] || die "$DOCKERD missing after installing docker.io"

# The docker CLI on PATH may be another one (e.g. /usr/local/bin/docker); it talks to the same
# daemon through API version negotiation, which is all we need. Say which one is used.
say "docker CLI: $(command -v docker) ($(docker --version 2>/dev/null || echo unknown))"

daemon_answers() { docker info >/dev/null 2>&1; }

# The executable of the live process named in dockerd's pid file (fails if there is none), so
# we can tell whose dockerd answers, and whether one is already starting.
running_dockerd_exe() {
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  readlink "/proc/$pid/exe" 2>/dev/null
}

if daemon_answers; then
  say "dockerd already running ($(running_dockerd_exe || echo 'pid file unreadable'))"
else
  if [[ $(running_dockerd_exe || true) == "$DOCKERD" ]]; then
    # Started but not answering yet (e.g. by docker.io's init script during install): wait.
    say "dockerd is starting; waiting for it"
  else
    say "starting $DOCKERD (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # setsid + nohup: the daemon outlives this script and its terminal, if any.
    setsid nohup "$DOCKERD" </dev/null >>"$DOCKERD_LOG" 2>&1 &
  fi
  deadline=$((SECONDS + DOCKERD_TIMEOUT))
  until daemon_answers; do
    if ((SECONDS >= deadline)); then
      say "last lines of $DOCKERD_LOG:"
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "dockerd did not answer within ${DOCKERD_TIMEOUT}s"
    fi
    sleep 1
  done
  say "dockerd is up after $((SECONDS - deadline + DOCKERD_TIMEOUT))s"
fi

exe=$(running_dockerd_exe || true)
if [[ -n $exe && $exe != "$DOCKERD" ]]; then
  say "WARNING: the running daemon is $exe, not docker.io's $DOCKERD"
fi
say "engine: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}, client {{.Client.Version}}')"
say "storage driver: $(docker info --format '{{.Driver}}'), swarm: $(docker info --format '{{.Swarm.LocalNodeState}}')"
say "done"

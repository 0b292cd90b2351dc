#!/usr/bin/env bash
# Installs the Debian packages needed to build, run and test faas (not Docker: see
# scripts/install-docker.sh). Idempotent: installs only what is missing, and runs
# `apt-get update` only when something is.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git clang-format
  # libraries, all from Debian (DESIGN.md)
  libcpp-httplib-dev libcurl4-openssl-dev prometheus-cpp-dev nlohmann-json3-dev
  libboost-dev libboost-filesystem-dev doctest-dev libyaml-cpp-dev libarchive-dev
  # runtimes the local provider builds functions with (templates' local: sections)
  python3 python3-flask python3-waitress python3-pip
  # async calls (issue #13): the NATS C client and the JetStream server
  libnats-dev nats-server
  # tests and benchmarks
  curl procps wrk nginx-light
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js and npm: a machine may already have them from another source (NodeSource's
# nodejs package bundles npm, and conflicts with Debian's npm), so ask for the
# commands, not the packages.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps] all ${#packages[@]} packages present"
  exit 0
fi

echo "[deps] installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[deps] done"

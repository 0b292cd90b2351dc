#!/bin/sh
# The node's pid 1: dockerd, with the arguments the container was started with
# (scripts/multinode.sh passes --insecure-registry and --cgroup-parent).
# Written for cgroup v1 hosts whose /sys/fs/cgroup is bind-mounted read-write.
#
# FAAS_MN_REGISTRY_FORWARD=PORT=HOST:HOSTPORT forwards 127.0.0.1:PORT in the node to the
# test registry, so an image is named 127.0.0.1:PORT/... on the host (the registry's published
# port) and on every node alike: what `docker push` or `faas push` pushed is what a service
# names. Docker trusts 127.0.0.0/8 as an insecure registry without configuration.
set -e
mkdir -p /etc/docker
# A restarted container keeps its writable layer: a stale pidfile (pid 1 = ourselves) makes
# dockerd refuse to start ("pid file found, ensure docker is not running").
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
if [ -n "${FAAS_MN_REGISTRY_FORWARD:-}" ]; then
  socat "TCP-LISTEN:${FAAS_MN_REGISTRY_FORWARD%%=*},bind=127.0.0.1,fork,reuseaddr" \
    "TCP:${FAAS_MN_REGISTRY_FORWARD#*=}" &
fi
exec dockerd --host=unix:///var/run/docker.sock \
  ${DOCKERD_STORAGE_DRIVER:+--storage-driver=$DOCKERD_STORAGE_DRIVER} "$@"

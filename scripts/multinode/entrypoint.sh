#!/bin/sh
# The node's pid 1: dockerd, with the arguments the container was started with
# (scripts/multinode.sh passes --insecure-registry and --cgroup-parent).
# Written for cgroup v1 hosts whose /sys/fs/cgroup is bind-mounted read-write.
set -e
mkdir -p /etc/docker
# A restarted container keeps its writable layer: a stale pidfile (pid 1 = ourselves) makes
# dockerd refuse to start ("pid file found, ensure docker is not running").
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
exec dockerd --host=unix:///var/run/docker.sock \
  ${DOCKERD_STORAGE_DRIVER:+--storage-driver=$DOCKERD_STORAGE_DRIVER} "$@"

#!/usr/bin/env bash
# bench-docker.sh runs `hutch bench` with Docker measured beside Hutch and
# the raw runtimes. It installs Debian's docker.io if missing (without
# letting its package start the system's daemon), starts a private dockerd
# for the run (its own data root, socket and bridge; no iptables, no
# ip_forward change, so the host's firewall and any other hutch serve are
# untouched), runs the bench, and stops and removes that daemon after.
# Usage: scripts/bench-docker.sh [hutch bench flags...]   (as root)
set -euo pipefail

log() { printf '[bench-docker] %s\n' "$*" >&2; }
here=$(cd "$(dirname "$0")/.." && pwd)
hutch=${HUTCH:-$here/bin/hutch}
if [ ! -x "$hutch" ]; then
  export PATH=$PATH:/usr/local/go/bin
  (cd "$here" && go build -o bin/hutch ./cmd/hutch)
fi

if ! command -v dockerd >/dev/null; then
  log "installing docker.io (its service is not started)"
  # policy-rc.d 101 forbids the package's scripts from starting services.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

run=$(mktemp -d /var/tmp/hutch-bench-docker.XXXXXX)
sock=$run/docker.sock
bridge=hbd$$
cleanup() {
  local pid
  pid=$(cat "$run/dockerd.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.2; done
  fi
  ip link del "$bridge" 2>/dev/null || true
  grep " $run/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT
ip link add "$bridge" type bridge
ip addr add 10.254.254.1/24 dev "$bridge"
ip link set "$bridge" up
log "starting a private dockerd (data root $run)"
dockerd --data-root "$run/data" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
  --host "unix://$sock" --bridge "$bridge" --iptables=false --ip6tables=false --ip-forward=false \
  --ip-masq=false --userland-proxy=false --containerd-namespace "hutch-bench-$$" \
  >"$run/dockerd.log" 2>&1 &
for _ in $(seq 100); do
  DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1 && break
  sleep 0.2
done
if ! DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1; then
  tail -20 "$run/dockerd.log" >&2
  log "dockerd did not answer"
  exit 1
fi
DOCKER_HOST=unix://$sock "$hutch" bench "$@"

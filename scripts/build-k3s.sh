#!/usr/bin/env bash
# build-k3s.sh builds k3s (a single-binary Kubernetes 1.33) from the Go
# module proxy into the cache, once per pin, and installs the Debian
# packages a throwaway cluster needs (containerd, runc, the CNI plugins).
# The kube runtime's tests (internal/runtime/kube) start a cluster with it.
# Usage: build-k3s.sh [cache-dir]; prints the binary's path; does nothing
# but the package check when the binary is already built.
#
# The module proxy serves only the master pseudo-version of k3s; it is
# built inside its own unzipped module tree (so that k3s's replace
# directives apply) with the tags k3s's own build uses, without its
# bundled containerd (Debian's runs instead). Cold: about 14 minutes on a
# quiet 2-core machine, 3.3 GB of memory at its peak; run under nice.
set -euo pipefail

pin=v1.33.0-rc1.0.20250430074337-dc03cb4b3faa
cache=${1:-/var/cache/hutch}
dir=$cache/k3s/$pin
out=$dir/k3s
packages=(containerd runc containernetworking-plugins iptables iproute2 conntrack unzip curl)

log() { printf '[k3s] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "run as root (apt-get)"
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
# Debian's containerd package enables its system service; the tests start
# their own containerd per cluster, so the system one is not needed. It is
# left as it is: stopping a service someone may use is not this script's job.

export PATH=$PATH:/usr/local/go/bin
mkdir -p "$dir"
# One build at a time (a second caller waits, then finds the binary).
exec 9>"$dir/.lock"
flock 9
if [ ! -x "$out" ]; then
  command -v go >/dev/null || { log "Go is needed (expected at /usr/local/go/bin/go)"; exit 1; }
  proxy=$(go env GOPROXY | tr ',|' '\n\n' | grep -E '^https?://' | head -n1)
  [ -n "$proxy" ] || { log "no HTTP module proxy in GOPROXY"; exit 1; }
  log "building k3s $pin (cold: 15 to 40 minutes, 3.3 GB of memory)"
  rm -rf "$dir"/.build.* # a build that was killed (the lock says none runs)
  work=$(mktemp -d "$dir/.build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  if ! (
    set -e
    cd "$work"
    curl -fsSL -o k3s.zip "$proxy/github.com/k3s-io/k3s/@v/$pin.zip"
    unzip -q k3s.zip
    cd "github.com/k3s-io/k3s@$pin"
    version="v1.33.0+k3s-hutch-${pin##*-}"
    pkg=github.com/k3s-io/k3s/pkg/version
    CGO_ENABLED=1 nice -n 19 go build -trimpath \
      -tags "ctrd netcgo osusergo providerless urfave_cli_no_docs sqlite_omit_load_extension no_cri_dockerd" \
      -ldflags "-s -w -X $pkg.Program=k3s -X $pkg.Version=$version -X $pkg.GitCommit=${pin##*-} -X $pkg.UpstreamGolang=$(go env GOVERSION)" \
      -o "$out.tmp" ./cmd/server
  ) >"$dir/build.log" 2>&1; then
    tail -30 "$dir/build.log" >&2
    log "building k3s failed (log: $dir/build.log)"
    rm -f "$out.tmp"
    exit 1
  fi
  mv "$out.tmp" "$out"
  log "built $out"
fi
echo "$out"

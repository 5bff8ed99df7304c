#!/usr/bin/env bash
# build-runsc.sh builds gVisor's runsc (the gvisor runtime's OCI runtime with
# a user-space kernel) from the Go module proxy into the cache, once per pin.
# Usage: build-runsc.sh [cache-bin-dir]; does nothing when already built.
# The pin is the `go` branch commit measured to boot sandboxes here; the
# newest pseudo-version builds but its sandboxes die at boot, and @latest is
# a 404 (see MACHINE-FACTS).
set -euo pipefail

pin=v0.0.0-20260527191743-a81fd9dd382e
bin_dir=${1:-/var/cache/hutch/bin}
out=$bin_dir/runsc-${pin##*-}

log() { printf '[runsc] %s\n' "$*" >&2; }

export PATH=$PATH:/usr/local/go/bin
if [ ! -x "$out" ]; then
  log "building runsc $pin from the Go module proxy (about three minutes)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$bin_dir"
  if ! (
    cd "$work"
    go mod init hutch.local/runsc-build
    go get "gvisor.dev/gvisor/runsc@$pin"
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out.tmp" gvisor.dev/gvisor/runsc
  ) >"$work/build.log" 2>&1; then
    tail -20 "$work/build.log" >&2
    log "building runsc failed"
    exit 1
  fi
  mv "$out.tmp" "$out"
fi
# A stable name for the server's default (--gvisor-runsc) and the tests.
ln -sfn "$(basename "$out")" "$bin_dir/runsc"

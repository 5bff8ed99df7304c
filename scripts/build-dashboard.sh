#!/usr/bin/env bash
# build-dashboard.sh builds the web dashboard's assets, internal/dashboard/dist
# (compiled into the binary with go:embed), from their source,
# internal/dashboard/web.
#
#   scripts/build-dashboard.sh deps   install the npm packages the build reads
#                                     (xterm.js, and TypeScript for the type
#                                     check) once per lockfile, into a cache
#                                     that web/node_modules links to
#   scripts/build-dashboard.sh        deps, then type-check (tsc) and bundle
#                                     (go generate ./internal/dashboard, which
#                                     runs esbuild's Go API: no Node.js needed)
#
# Only deps uses the network (the npm registry). The bundle is committed, so
# building hutch needs neither Node.js nor npm; the test
# TestCommittedBundleIsFresh fails when dist/ is not what web/ builds.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
web=$here/internal/dashboard/web
log() { printf '[dashboard] %s\n' "$*" >&2; }

deps() {
  local hash cache
  hash=$(sha256sum "$web/package-lock.json" | cut -c1-16)
  cache=${HUTCH_CACHE:-/var/cache/hutch}/dashboard-npm/$hash
  if ! mkdir -p "$cache" 2>/dev/null; then
    # No shared cache here (not root): install in the work tree.
    log "installing the dashboard's npm packages into $web/node_modules"
    [ -L "$web/node_modules" ] && rm "$web/node_modules"
    (cd "$web" && npm ci --no-audit --no-fund >/dev/null)
    return
  fi
  if [ ! -f "$cache/.complete" ]; then
    log "installing the dashboard's npm packages (xterm.js, TypeScript)"
    rm -rf "$cache" && mkdir -p "$cache"
    cp "$web/package.json" "$web/package-lock.json" "$cache/"
    (cd "$cache" && npm ci --no-audit --no-fund >/dev/null)
    touch "$cache/.complete"
  fi
  if [ "$(readlink "$web/node_modules" 2>/dev/null)" != "$cache/node_modules" ]; then
    rm -rf "$web/node_modules"
    ln -s "$cache/node_modules" "$web/node_modules"
  fi
}

deps
[ "${1:-}" = deps ] && exit 0
export PATH=$PATH:/usr/local/go/bin
log "type-checking (tsc)"
(cd "$web" && node node_modules/typescript/bin/tsc -p .)
log "bundling (go generate ./internal/dashboard)"
(cd "$here" && go generate ./internal/dashboard)
log "built internal/dashboard/dist; commit it with the source"

#!/usr/bin/env bash
# test.sh runs everything CI runs: setup, go vet, staticcheck, a gofmt check
# and the whole test suite (real sandboxes, so as root).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
# --kube: the Kubernetes runtime's tests run on a throwaway k3s cluster,
# built once into the cache (cold: about 15 minutes); HUTCH_KUBE=1 makes
# them fail rather than skip when it is missing.
"$here/scripts/setup.sh" --kube
export PATH=$PATH:/usr/local/go/bin
export HUTCH_KUBE=1

echo "== go vet"
go vet ./...
echo "== staticcheck"
# Pinned, built once from the Go module proxy into a cache that later runs
# on the same machine reuse; a new machine builds it again.
staticcheck_version=v0.8.2
tools=/var/cache/hutch/bin
if ! "$tools/staticcheck" -version 2>/dev/null | grep -q "(${staticcheck_version#v})"; then
  mkdir -p "$tools"
  GOBIN=$tools go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
"$tools/staticcheck" ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go test"
# -p 1 keeps packages that start real sandboxes from competing for the two
# cores of the CI machine; -count=1 never trusts a cached result.
# -timeout is per package: e2e takes 10-15 minutes.
go test -count=1 -p 1 -timeout 30m ./... 2>&1 | tee /tmp/hutch-test.log

#!/usr/bin/env bash
# generate.sh installs the code generators and re-runs `go generate ./...`:
# the E2B envd message types (protoc with the Go and connect-go plugins)
# and the dashboard bundle. The generated files are committed, so a normal
# build and CI need none of this; run it after changing a .proto file or
# the dashboard's sources, then commit what changed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$PATH:/usr/local/go/bin
gobin=/var/cache/hutch/bin
if ! command -v protoc >/dev/null || [ ! -f /usr/include/google/protobuf/timestamp.proto ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends protobuf-compiler libprotobuf-dev >/dev/null
fi
mkdir -p "$gobin"
GOBIN=$gobin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$gobin go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
export PATH=$gobin:$PATH
cd "$here"
go generate ./...
git status --short

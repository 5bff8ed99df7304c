#!/usr/bin/env bash
# build-image.sh builds the Hutch control plane's container image with no
# container engine and no registry: the static hutch binary (built as
# scripts/setup.sh builds it), CA certificates, a passwd naming the
# unprivileged user 65532, written as an OCI image layout tarball.
# The same image is the kube runtime's agent image: its init container
# copies /usr/local/bin/hutch into each sandbox pod.
#
#   scripts/build-image.sh [OUT.tar]     (default ./hutch-image.tar)
#   HUTCH_IMAGE=registry.example/hutch:v1 scripts/build-image.sh
#
# With --sandbox NAME it writes instead the sandbox image NAME (base,
# python or node) that scripts/setup.sh built on this machine, as
# hutch.local/hutch-NAME:<version> (or HUTCH_IMAGE), for a cluster that
# cannot pull the defaults; name it with --kube-images NAME=<reference>.
#   scripts/build-image.sh --sandbox python [OUT.tar]   (default ./hutch-python.tar)
#
# Load it where your cluster's nodes find it (docs/kubernetes.md):
#   ctr -n k8s.io images import hutch-image.tar     (containerd, k3s: k3s ctr ...)
#   kind load image-archive hutch-image.tar
#   skopeo copy oci-archive:hutch-image.tar docker://registry.example/hutch:v1
# It prints the image's reference.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$PATH:/usr/local/go/bin
version=$(git -C "$here" describe --always --dirty 2>/dev/null || echo dev)
arch=$(cd "$here" && go env GOARCH)

if [ "${1:-}" = --sandbox ]; then
	name=${2:?--sandbox needs an image name: base, python or node}
	rootfs=${HUTCH_IMAGE_CACHE:-/var/cache/hutch/images}/$name.tar
	[ -f "$rootfs" ] || { echo "build-image: $rootfs is missing (scripts/setup.sh builds it)" >&2; exit 1; }
	out=$(realpath -m "${3:-hutch-$name.tar}")
	ref=${HUTCH_IMAGE:-hutch.local/hutch-$name:$version}
	(cd "$here" && go run ./deploy/kubernetes/buildimage -rootfs "$rootfs" -ref "$ref" -arch "$arch" -out "$out")
	printf '%s\n' "$ref"
	exit 0
fi
out=$(realpath -m "${1:-hutch-image.tar}")
ref=${HUTCH_IMAGE:-hutch.local/hutch:$version}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X main.version=$version" \
	-o "$tmp/hutch" ./cmd/hutch)
(cd "$here" && go run ./deploy/kubernetes/buildimage \
	-binary "$tmp/hutch" -ref "$ref" -arch "$arch" -out "$out")
printf '%s\n' "$ref"

#!/usr/bin/env bash
# build-criu.sh builds CRIU 4.2.1 into the host cache once, for pause with
# memory released (checkpoint to disk). Debian 12's criu 3.17 fails on
# newer kernels ("Unexpected rt vDSO area bounds"); trixie's 4.1.1 dumps
# no TCP or UDP socket on kernels from 6.16 on (it asks every socket for
# SO_PASSCRED, which only unix and netlink sockets answer now); 4.2.1
# works. Its source comes from Debian unstable's source package, fetched
# through an apt configuration of its own (the machine's sources stay
# bookworm), and is built with bookworm's build dependencies: two to four
# minutes.
# Usage: build-criu.sh [cache dir]; prints the path of the binary.
set -euo pipefail

version=4.2.1
cache=${1:-/var/cache/hutch/criu}
bin=$cache/$version/criu
log() { printf '[build-criu] %s\n' "$*" >&2; }

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "Version: $version"; then
  echo "$bin"
  exit 0
fi

deps=(gcc make pkg-config libbsd-dev libcap-dev libgnutls28-dev libnet1-dev libnl-3-dev
  libprotobuf-c-dev libprotobuf-dev protobuf-c-compiler protobuf-compiler uuid-dev python3 xz-utils)
missing=()
for p in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing CRIU's build dependencies: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$cache/build
rm -rf "$work" && mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" >"$work/apt/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache")
log "fetching criu $version source (Debian unstable)"
apt-get "${apt_opts[@]}" update -qq
# Only the upstream tarball is needed; apt checks its hash against the
# signed index. The Debian packaging files may have moved on in the
# archive, so their absence is not an error.
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only "criu=$version-1" >/dev/null 2>&1) || true
tarball=$work/src/criu_$version.orig.tar.xz
if [ ! -f "$tarball" ]; then
  log "could not fetch criu_$version.orig.tar.xz from Debian unstable"
  exit 1
fi
tar -C "$work" -xJf "$tarball"
log "building criu $version (about two minutes)"
make -C "$work/criu-$version" -j"$(nproc)" criu >"$work/build.log" 2>&1 || {
  tail -30 "$work/build.log" >&2
  exit 1
}
mkdir -p "$cache/$version"
install -m 0755 "$work/criu-$version/criu/criu" "$bin.tmp"
mv "$bin.tmp" "$bin"
rm -rf "$work"
"$bin" --version >&2
echo "$bin"

#!/usr/bin/env bash
# build-base-images.sh OUTDIR
#
# Builds the offline base images a fresh Hutch machine needs without any
# container registry: two plain rootfs tarballs made with debootstrap from
# the Debian mirror apt already uses.
#
#   OUTDIR/base.tar    Debian bookworm, --variant=minbase
#   OUTDIR/python.tar  base + python3, python3-dev, gcc, make, libc6-dev, git
#                      (+ python3-pip unless HUTCH_PYTHON_PIP=0)
#   OUTDIR/node.tar    base + nodejs, npm
#
# Import them with `hutch image import --rootfs OUTDIR/base.tar --name base`.
# Idempotent: a tarball built by this same script (its hash is kept beside it) is kept.
#
# Environment:
#   HUTCH_DEBIAN_MIRROR  mirror URL (default: the first Debian URI in apt's sources)
#   HUTCH_DEBIAN_SUITE   suite (default: bookworm)
#   HUTCH_PYTHON_PIP     1 (default) to add python3-pip to python.tar, 0 to leave it out
set -euo pipefail

OUTDIR=${1:-/var/cache/hutch/images}
SUITE=${HUTCH_DEBIAN_SUITE:-bookworm}
WITH_PIP=${HUTCH_PYTHON_PIP:-1}
SCRIPT=$(readlink -f "$0")

log() { printf '%s build-base-images: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

# fresh NAME reports whether OUTDIR/NAME.tar exists and is newer than this script.
# An image is fresh when its tarball was built by this very script: the
# script's hash is stored beside it (mtimes would call every fresh clone
# newer than the images it built before).
# The package lists live in this script, so editing them rebuilds; the
# settings that change what goes in are part of the recipe too.
RECIPE=$( { cat "$SCRIPT"; echo "pip=$WITH_PIP suite=$SUITE"; } | sha256sum | cut -d' ' -f1)
fresh() { [ -s "$OUTDIR/$1.tar" ] && [ "$(cat "$OUTDIR/.$1.recipe" 2>/dev/null)" = "$RECIPE" ]; }

if fresh base && fresh python && fresh node; then
	log "base.tar, python.tar and node.tar in $OUTDIR are up to date; nothing to do"
	exit 0
fi

# apt_uris prints the URIs of apt's sources, deb822 and one-line formats.
apt_uris() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '/^[[:space:]]*URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '/^[[:space:]]*deb[[:space:]]/ {
			for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break }
		}' "$f"
	done
}

MIRROR=${HUTCH_DEBIAN_MIRROR:-}
if [ -z "$MIRROR" ]; then
	# The archive proper, not -security, -updates or third-party repositories.
	MIRROR=$(apt_uris | grep -E '/debian/?$' | head -n1 || true)
fi
[ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt/sources*; set HUTCH_DEBIAN_MIRROR"
MIRROR=${MIRROR%/}
SECURITY=$(apt_uris | grep -E '/debian-security/?$' | head -n1 || true)
SECURITY=${SECURITY%/}
log "mirror $MIRROR${SECURITY:+, security $SECURITY}, suite $SUITE"

mkdir -p "$OUTDIR"
WORK=$(mktemp -d "$OUTDIR/.build.XXXXXX")
MOUNTS=()
cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
	rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

# mount_chroot ROOT mounts what apt and maintainer scripts expect in a chroot.
mount_chroot() {
	mount -t proc proc "$1/proc" && MOUNTS+=("$1/proc")
	mount --bind /dev "$1/dev" && MOUNTS+=("$1/dev")
}

# umount_chroot ROOT undoes mount_chroot before the tree is packed.
umount_chroot() {
	umount "$1/dev" "$1/proc"
	MOUNTS=()
}

# finish_rootfs ROOT makes a tree ready to be a sandbox root and small.
finish_rootfs() {
	local root=$1
	{
		echo "deb $MIRROR $SUITE main"
		echo "deb $MIRROR $SUITE-updates main"
		[ -z "$SECURITY" ] || echo "deb $SECURITY $SUITE-security main"
	} >"$root/etc/apt/sources.list"
	# The runtime bind-mounts its own resolv.conf, hosts and hostname; these are
	# placeholders so the mount points exist and a plain chroot works too.
	rm -f "$root/etc/resolv.conf" "$root/etc/hostname" "$root/etc/hosts"
	printf 'nameserver 1.1.1.1\n' >"$root/etc/resolv.conf"
	printf 'sandbox\n' >"$root/etc/hostname"
	printf '127.0.0.1\tlocalhost sandbox\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
	chmod 0644 "$root/etc/resolv.conf" "$root/etc/hostname" "$root/etc/hosts"
	# The runtime provides /dev; device nodes do not belong in an image.
	! mountpoint -q "$root/dev" || die "$root/dev is still mounted"
	find "$root/dev" -xdev -mindepth 1 -delete
	install -d -m 1777 "$root/tmp" "$root/var/tmp"
	install -d -m 0755 "$root/run" "$root/proc" "$root/sys" "$root/dev" "$root/root" "$root/home"
	# Keep the image small: package caches, lists, docs and logs go.
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
		"$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
		"$root"/var/log/*.log "$root"/var/log/apt/* "$root"/usr/share/man/* \
		"$root"/usr/share/info/* "$root"/usr/share/lintian "$root"/tmp/* "$root"/var/tmp/* \
		"$root"/root/.cache
	find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
	find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
	# The stdlib's compiled bytecode stays: without it every new sandbox would
	# compile the modules python imports at start-up again. pip's and
	# setuptools' (11 MB) go; they are compiled on first use.
	find "$root/usr/lib/python3/dist-packages" -xdev -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
	: >"$root/etc/machine-id"
}

# pack ROOT NAME writes OUTDIR/NAME.tar atomically: numeric owners, file
# capabilities kept, sorted names and a fixed mtime-free ordering.
pack() {
	local root=$1 name=$2 tmp="$OUTDIR/.$2.tar.tmp"
	tar --numeric-owner --xattrs --xattrs-include='security.capability' \
		--sort=name -C "$root" -cf "$tmp" .
	mv -f "$tmp" "$OUTDIR/$name.tar"
	echo "$RECIPE" >"$OUTDIR/.$name.recipe"
	log "wrote $OUTDIR/$name.tar ($(du -h "$OUTDIR/$name.tar" | cut -f1))"
}

START=$SECONDS
ROOT=$WORK/base
log "debootstrap $SUITE (minbase) into $ROOT"
debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
log "debootstrap done in $((SECONDS - START))s"

# The python tree starts as a copy of the unfinished base tree, so apt there
# still has its configuration; it is finished on its own afterwards.
# Each derived image starts from a copy of the bootstrap, taken before
# finish_rootfs trims base.
derived=()
for name in python node; do
	if ! fresh "$name"; then
		cp -a "$ROOT" "$WORK/$name"
		derived+=("$name")
	fi
done

if ! fresh base; then
	finish_rootfs "$ROOT"
	pack "$ROOT" base
fi

# install_into ROOT PKG... installs Debian packages into a rootfs copy.
install_into() {
	local root=$1
	shift
	log "installing $* into $root"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	echo "deb $MIRROR $SUITE main" >"$root/etc/apt/sources.list"
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	mount_chroot "$root"
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		sh -c 'apt-get -q update && apt-get -qy install --no-install-recommends "$@" && apt-get clean' \
		sh "$@" >"$WORK/apt.log" 2>&1 ||
		{ tail -n 30 "$WORK/apt.log" >&2; die "installing $* failed"; }
	umount_chroot "$root"
	rm -f "$root/usr/sbin/policy-rc.d"
}

for name in "${derived[@]}"; do
	T=$SECONDS
	root=$WORK/$name
	case $name in
	python)
		# Users build C extensions and keep their work in git: a C
		# toolchain, Python's headers and git come with python.
		pkgs=(python3 python3-dev gcc make libc6-dev git)
		[ "$WITH_PIP" = 0 ] || pkgs+=(python3-pip)
		install_into "$root" "${pkgs[@]}"
		if [ "$WITH_PIP" != 0 ]; then
			# Debian marks its python as externally managed; in a throwaway
			# sandbox `pip install` should simply work.
			rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
		fi
		;;
	node)
		install_into "$root" nodejs npm
		;;
	esac
	finish_rootfs "$root"
	pack "$root" "$name"
	log "$name done in $((SECONDS - T))s"
done

log "all done in $((SECONDS - START))s"

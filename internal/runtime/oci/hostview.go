package oci

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// What another host user can reach of a sandbox: nothing. The state dir,
// sandboxes/ and the data dir above are 0711 (root's, traversable, not
// listable), because the sandbox's root, an unprivileged host uid, must
// walk down to its bundle. A sandbox's own dir is root's with the group of
// that sandbox's root (0710): its root passes through, every other host
// user (nobody, another sandbox's ids) stops there, and the sandbox's root
// cannot rename or replace anything in it. Below it, the host's view of
// the root file system is nosuid and nodev (hideRootfs), the disk is
// mounted nosuid and nodev, and the image layers' idmapped views are too.

// guardDir gives the sandbox dir its owner and mode (see above); also for
// a sandbox made before the rule, at its next boot.
func guardDir(p paths, ids idRange) error {
	if err := os.Chown(p.dir, 0, ids.hostID(0)); err != nil {
		return err
	}
	return os.Chmod(p.dir, 0o710)
}

// hideRootfs makes the host's view of the sandbox's root nosuid and nodev
// once the runtime has started the container. Mount flags belong to each
// mount, not the file system: the container's root is its own copy, made
// in its mount namespace before the runtime returned, and keeps honouring
// the image's setuid files; the host's copy, where a host user who got
// that far would find a setuid shell made in the sandbox, does not.
func hideRootfs(p paths) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(unix.AT_FDCWD, p.rootfs, 0, attr); err != nil {
		return fmt.Errorf("nosuid host view of %s: %w", p.rootfs, err)
	}
	return nil
}

// guardRunning applies the host-side rules to a running sandbox found by
// Recover: one an older server started, or whose host view a crash left
// between the runtime's start and hideRootfs. A failure is logged; the
// sandbox runs on either way.
func (d *Driver) guardRunning(id string, p paths, rec *record) {
	if err := guardDir(p, d.idsOf(rec)); err != nil {
		d.log.Warn("recover: sandbox dir stays reachable", "id", id, "err", err)
	}
	if err := hideRootfs(p); err != nil {
		d.log.Warn("recover: host view of the root stays suid", "id", id, "err", err)
	}
}

package oci

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIsMountPoint: teardown searches the host's loop devices for a
// sandbox's image only when its disk is not mounted, so a mounted disk
// must be told from the directory it is mounted on, and a directory
// below it, or a missing one, from a mount.
func TestIsMountPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "disk")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if isMountPoint(mnt) {
		t.Fatal("a plain directory is a mount point")
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	if !isMountPoint(mnt) {
		t.Fatal("a mounted tmpfs is not a mount point")
	}
	sub := filepath.Join(mnt, "upper")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if isMountPoint(sub) || isMountPoint(filepath.Join(dir, "missing")) {
		t.Fatal("a directory inside a mount, or a missing one, is a mount point")
	}
}

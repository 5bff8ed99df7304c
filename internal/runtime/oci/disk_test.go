package oci

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
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

// TestWaitDiskReleased checks that a disk whose mount was detached lazily
// while a process still used it counts as held until that use ends, so
// that a start does not mount its image a second time meanwhile.
func TestWaitDiskReleased(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "disk")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	d := &Driver{}
	if err := d.mountDisk(img, mnt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH); detachLoops(img) })
	f, err := os.Create(filepath.Join(mnt, "open"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := waitDiskReleased(context.Background(), img, 100*time.Millisecond); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("a disk still in use through a detached mount: %v, want unavailable", err)
	}
	f.Close()
	if err := waitDiskReleased(context.Background(), img, 10*time.Second); err != nil {
		t.Fatalf("after its last user closed: %v", err)
	}
}

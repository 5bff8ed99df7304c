package oci

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/mountinfo"
	"golang.org/x/sys/unix"
)

// newUserNS returns a handle on a user namespace whose ids from..from+size
// are host ids to..to+size. Idmapped mounts take their mapping from such a
// handle: files the image cache stores as image.StorageIDBase+n appear as
// to+n. The process that created the namespace is only needed for a
// moment: it is traced, so it stops at its exec before running any of the
// binary (the init binary).
func newUserNS(initBinary string, from, to, size uint32) (*os.File, error) {
	cmd := exec.Command(initBinary, "init")
	m := []syscall.SysProcIDMap{{ContainerID: int(from), HostID: int(to), Size: int(size)}}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: m,
		GidMappings: m,
		Pdeathsig:   syscall.SIGKILL,
		Ptrace:      true,
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	return os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
}

// mountIdmapped attaches an idmapped, read-only view of src at dst: files
// the image cache stores in its storage range appear owned by the
// sandbox's range. The host's view is nosuid and nodev: the overlay over
// it, not this mount, decides what a file run in the sandbox gets.
func mountIdmapped(src, dst string, userns *os.File) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", src, err)
	}
	defer unix.Close(fd)
	attr := &unix.MountAttr{
		Attr_set:  unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID,
		Userns_fd: uint64(userns.Fd()),
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		return fmt.Errorf("idmap %s: %w", src, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount %s: %w", dst, err)
	}
	return nil
}

// mountRootfs is mountRootfsAs in the range the sandbox's record names.
func (d *Driver) mountRootfs(p paths, layers []string) error {
	rec, err := loadRecord(p.record)
	if err != nil {
		return err
	}
	return d.mountRootfsAs(p, layers, d.idsOf(rec))
}

// mountRootfsAs builds the sandbox's root: idmapped image layers under an
// overlay whose upper and work dirs live on the sandbox's disk, all owned
// by the sandbox's range ids.
func (d *Driver) mountRootfsAs(p paths, layers []string, ids idRange) error {
	if len(layers) == 0 {
		return fmt.Errorf("image has no layers")
	}
	if err := guardDir(p, ids); err != nil {
		return err
	}
	userns, err := d.ranges.userNS(ids)
	if err != nil {
		return err
	}
	lowers := make([]string, len(layers))
	for i, l := range layers {
		dst := filepath.Join(p.lower, strconv.Itoa(i))
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return err
		}
		if err := mountIdmapped(l, dst, userns); err != nil {
			return err
		}
		// overlay lists the top layer first
		lowers[len(layers)-1-i] = dst
	}
	for _, dir := range []string{p.upper, p.work, p.rootfs} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chown(p.upper, ids.hostID(0), ids.hostID(0)); err != nil {
		return err
	}
	opts := "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + p.upper + ",workdir=" + p.work
	if err := unix.Mount("overlay", p.rootfs, "overlay", unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	// A writable /tmp even when the image has none.
	tmp := filepath.Join(p.rootfs, "tmp")
	if err := os.Mkdir(tmp, 0o1777); err == nil {
		_ = os.Chmod(tmp, 0o1777)
		_ = os.Chown(tmp, ids.hostID(0), ids.hostID(0))
	}
	return nil
}

// unmountUnder removes every mount at or below dir, deepest first. It works
// from /proc/self/mountinfo, so it also cleans up after a create that was
// cut off half-way.
func unmountUnder(dir string) error {
	_, err := unmountAll(dir)
	return err
}

// unmountAll is unmountUnder that also reports whether a mount still busy
// after half a second was detached lazily: the kernel releases it (and
// its loop device) only when its last user is gone.
func unmountAll(dir string) (lazy bool, err error) {
	mounts, err := mountinfo.Under(dir)
	if err != nil {
		return false, err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		var err error
		for i := 0; i < 50; i++ {
			if err = unix.Unmount(m, 0); err == nil || err == unix.EINVAL || err == unix.ENOENT {
				err = nil
				break
			}
			if err != unix.EBUSY {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			// Last resort: detach, the kernel frees it when unused.
			if err2 := unix.Unmount(m, unix.MNT_DETACH); err2 != nil {
				return lazy, fmt.Errorf("unmount %s: %w", m, err)
			}
			lazy = true
		}
	}
	return lazy, nil
}

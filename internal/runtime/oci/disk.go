package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"golang.org/x/sys/unix"
)

// The writable layer of a sandbox lives on its own ext4 file system in a
// sparse image file, loop-mounted: a write past the size fails with ENOSPC
// inside the sandbox and the host file system only holds what was written.

// makeDisk creates the sparse image file of sizeMB, with an empty ext4.
// Lazy inode table and journal init keep mkfs at ~10-20 ms for any size.
func makeDisk(ctx context.Context, path string, sizeMB int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(sizeMB << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-m", "0",
		"-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newDisk gives a sandbox its disk image by a sparse copy of a template
// made once per size (under StateDir/templates): copying the ~1 MB that
// mkfs wrote takes well under a millisecond, mkfs itself ten or more.
func (d *Driver) newDisk(ctx context.Context, path string, sizeMB int64) error {
	tmpl := filepath.Join(d.cfg.StateDir, "templates", fmt.Sprintf("ext4-%dM.img", sizeMB))
	d.diskMu.Lock()
	if _, err := os.Stat(tmpl); err != nil {
		if err := os.MkdirAll(filepath.Dir(tmpl), 0o700); err != nil {
			d.diskMu.Unlock()
			return err
		}
		tmp := tmpl + ".tmp"
		_ = os.Remove(tmp)
		err := makeDisk(ctx, tmp, sizeMB)
		if err == nil {
			err = os.Rename(tmp, tmpl)
		}
		if err != nil {
			d.diskMu.Unlock()
			return err
		}
	}
	d.diskMu.Unlock()
	return copySparse(tmpl, path)
}

// copySparse copies only the data extents of src, leaving holes as holes.
func copySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := out.Truncate(st.Size()); err != nil {
		return err
	}
	for off := int64(0); off < st.Size(); {
		data, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(int(in.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		for pos := data; pos < hole; {
			inOff, outOff := pos, pos
			n, err := unix.CopyFileRange(int(in.Fd()), &inOff, int(out.Fd()), &outOff, int(hole-pos), 0)
			if err != nil {
				return fmt.Errorf("copy %s: %w", src, err)
			}
			if n == 0 {
				return fmt.Errorf("copy %s: short copy", src)
			}
			pos += int64(n)
		}
		off = hole
	}
	return out.Close()
}

// mountDisk attaches the image to a free loop device and mounts it at dir.
// The device is set to auto-clear, so unmounting the file system (or the
// death of this process before the mount) releases it: no loop device can
// outlive its sandbox.
func (d *Driver) mountDisk(image, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	loop, err := d.attachLoop(image)
	if err != nil {
		return err
	}
	defer loop.Close()
	if err := unix.Mount(loop.Name(), dir, "ext4", unix.MS_NODEV|unix.MS_NOSUID, ""); err != nil {
		return fmt.Errorf("mount %s: %w", loop.Name(), err)
	}
	return nil
}

func (d *Driver) attachLoop(image string) (*os.File, error) {
	backing, err := os.OpenFile(image, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer backing.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("loop devices unavailable: %w", err)
	}
	defer ctl.Close()

	d.loopMu.Lock()
	defer d.loopMu.Unlock()
	for attempt := 0; attempt < 20; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		dev, err := os.OpenFile(fmt.Sprintf("/dev/loop%d", n), os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		cfg := &unix.LoopConfig{Fd: uint32(backing.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		copy(cfg.Info.File_name[:], image)
		err = unix.IoctlLoopConfigure(int(dev.Fd()), cfg)
		if err == nil {
			return dev, nil
		}
		dev.Close()
		if !errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("LOOP_CONFIGURE: %w", err)
		}
		// another process took the device between GET_FREE and CONFIGURE
	}
	return nil, errors.New("no free loop device")
}

// loopsOf lists the loop devices backed by image.
func loopsOf(image string) []string {
	matches, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	var out []string
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err == nil && strings.TrimSpace(string(b)) == image {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(m))))
		}
	}
	return out
}

// waitDiskReleased waits until no loop device is backed by image any
// more. A stop whose unmount found the disk busy detaches it lazily, and
// the kernel lets its loop device go only when the last user of that
// mount (a process a kill has not reaped yet) is gone; mounting the image
// again before that would put a second ext4 over one image, which does
// not see what the first has not written back, and corrupts it.
func waitDiskReleased(ctx context.Context, image string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		held := loopsOf(image)
		if len(held) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("disk %s is still held by %s from before (a process of the sandbox not yet gone): %w", image, strings.Join(held, ", "), errdefs.ErrUnavailable)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// detachLoops releases any loop device still backed by image, for a
// sandbox whose disk was attached but never mounted.
func detachLoops(image string) {
	for _, dev := range loopsOf(image) {
		f, err := os.OpenFile(dev, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		_ = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
		f.Close()
	}
}

// isMountPoint reports whether dir is the root of a mount; when that
// cannot be told, it reports false.
func isMountPoint(dir string) bool {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC, 0, &st); err != nil {
		return false
	}
	return st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

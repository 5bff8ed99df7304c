package podinit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// seed copies the container's root filesystem (the user's image) to
// claim/root, once: a claim that holds the marker already has the
// sandbox's files, which a later boot must keep. A copy cut short is
// started over. Other filesystems mounted in the container (/proc, /dev,
// /sys, the claim, the binary's directory, the files the kubelet binds
// such as /etc/hosts) are not copied: their mount points are made empty,
// and boot binds the container's own over them.
//
// Ownership is shifted by base, the host uid and gid of the sandbox's
// root in its user namespace (boot --uid-base).
func seed(claim string, base int) error {
	if _, err := os.Stat(filepath.Join(claim, SeededMarker)); err == nil {
		return nil
	}
	root := filepath.Join(claim, "root")
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat("/", &st); err != nil {
		return err
	}
	c := copier{dev: st.Dev, links: map[uint64]string{}, base: base}
	if err := c.copyTree("/", root); err != nil {
		return err
	}
	if err := unix.Lchown(root, int(st.Uid)+base, int(st.Gid)+base); err != nil {
		return err
	}
	if err := unix.Chmod(root, uint32(st.Mode&0o7777)); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(claim, SeededMarker), nil, 0o600)
}

// copier copies one filesystem's tree, keeping hard links as links.
type copier struct {
	dev   uint64
	links map[uint64]string // inode -> first copy, for files with several links
	base  int               // added to every uid and gid
}

// copyTree copies the directory src to dst (dst made here).
func (c *copier) copyTree(src, dst string) error {
	if err := os.Mkdir(dst, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if err := c.copyOne(s, d); err != nil {
			return fmt.Errorf("copy %s: %w", s, err)
		}
	}
	return nil
}

func (c *copier) copyOne(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	mode := st.Mode & unix.S_IFMT
	// A mount point: keep the name, not the content.
	foreign := st.Dev != c.dev || src == ClaimDir || src == BinDir
	switch {
	case mode == unix.S_IFDIR && foreign:
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
	case mode == unix.S_IFDIR:
		if err := c.copyTree(src, dst); err != nil {
			return err
		}
	case foreign:
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	case mode == unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return errors.Join(os.Symlink(target, dst), unix.Lchown(dst, int(st.Uid)+c.base, int(st.Gid)+c.base))
	case st.Nlink > 1 && c.links[st.Ino] != "":
		return os.Link(c.links[st.Ino], dst)
	case mode == unix.S_IFREG:
		if err := copyFile(src, dst); err != nil {
			return err
		}
		if st.Nlink > 1 {
			c.links[st.Ino] = dst
		}
	default: // devices, fifos, sockets
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	if err := unix.Lchown(dst, int(st.Uid)+c.base, int(st.Gid)+c.base); err != nil {
		return err
	}
	// After the chown, which clears set-id bits.
	if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
		return err
	}
	if mode == unix.S_IFREG {
		copyCapability(src, dst)
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyCapability copies a file capability (ping's CAP_NET_RAW), the one
// extended attribute an image's binaries rely on; other attributes are
// not copied.
func copyCapability(src, dst string) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(src, "security.capability", buf)
	if err != nil || n <= 0 {
		return
	}
	if err := unix.Lsetxattr(dst, "security.capability", buf[:n], 0); err != nil {
		fmt.Fprintf(os.Stderr, "hutch kube seed: %s keeps no file capability: %v\n", dst, err)
	}
}

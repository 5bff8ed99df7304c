package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkTree makes dst (an existing empty dir) a copy of the layer dir src
// in which every non-directory is a hard link to src's: directories are
// made anew with src's owner, mode, xattrs (overlay's opaque marker among
// them) and times, everything else (files, symlinks, whiteout devices)
// shares src's inode. It returns the bytes of regular files, as an
// unpack counts them. Both must be on one file system.
func linkTree(src, dst string) (int64, error) {
	var size int64
	seen := map[uint64]bool{}
	type dirTimes struct {
		path string
		ts   []unix.Timespec
	}
	var dirs []dirTimes
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if !d.IsDir() {
			if err := os.Link(p, to); err != nil {
				return err
			}
			if d.Type().IsRegular() {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				// An inode of several names counts once, as a tar holds
				// its bytes once.
				if st, ok := fi.Sys().(*syscall.Stat_t); !ok || !seen[st.Ino] {
					size += fi.Size()
					if ok {
						seen[st.Ino] = true
					}
				}
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat of its own", p)
		}
		if rel != "." {
			if err := os.Mkdir(to, 0o700); err != nil {
				return err
			}
		}
		if err := os.Lchown(to, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		// After chown, which clears setuid and setgid bits.
		if err := os.Chmod(to, fi.Mode()&modeBits); err != nil {
			return err
		}
		if err := copyXattrs(p, to); err != nil {
			return err
		}
		dirs = append(dirs, dirTimes{to, []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("link layer %s: %w", filepath.Base(src), err)
	}
	// Last, and deepest first: linking into a dir changes its mtime.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, dirs[i].path, dirs[i].ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, fmt.Errorf("link layer %s: %s: %w", filepath.Base(src), dirs[i].path, err)
		}
	}
	return size, nil
}

// copyXattrs gives dir to the extended attributes of dir from.
func copyXattrs(from, to string) error {
	buf := make([]byte, 1024)
	n, err := unix.Llistxattr(from, buf)
	if errors.Is(err, unix.ERANGE) {
		if n, err = unix.Llistxattr(from, nil); err == nil {
			buf = make([]byte, n)
			n, err = unix.Llistxattr(from, buf)
		}
	}
	if errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	if err != nil {
		return &fs.PathError{Op: "listxattr", Path: from, Err: err}
	}
	for _, name := range splitNul(buf[:n]) {
		sz, err := unix.Lgetxattr(from, name, nil)
		if err != nil {
			return &fs.PathError{Op: "getxattr " + name, Path: from, Err: err}
		}
		val := make([]byte, sz)
		if sz, err = unix.Lgetxattr(from, name, val); err != nil {
			return &fs.PathError{Op: "getxattr " + name, Path: from, Err: err}
		}
		if err := unix.Lsetxattr(to, name, val[:sz], 0); err != nil {
			return &fs.PathError{Op: "setxattr " + name, Path: to, Err: err}
		}
	}
	return nil
}

func splitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			out = append(out, string(b[:i]))
		}
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}

package image

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// migrateLayer brings a layer unpacked by layout version 1 (owners as the
// image gave them, so setuid-root files owned by host root; capabilities
// as written; device nodes kept) to the storage form an unpack makes now:
// owners shifted into the storage range, capabilities in v3 form bound to
// it, device nodes other than whiteouts removed. It works in place, so
// records naming the layer's path (sandboxes, pins) stay valid, and it is
// idempotent: a walk cut short by a crash is finished by the next one.
// Files hard-linked from the shared cache or another store are the same
// inodes, migrated once whichever name comes first.
func migrateLayer(dir string, skipped func(name string)) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat of its own", p)
		}
		mode := fi.Mode()
		if mode&fs.ModeDevice != 0 && (mode&fs.ModeCharDevice == 0 || st.Rdev != 0) {
			if skipped != nil {
				skipped(p)
			}
			return os.Remove(p)
		}
		var caps []byte
		if mode.IsRegular() || mode.IsDir() {
			if caps, err = getXattr(p, capXattr); err != nil {
				return err
			}
		}
		chowned := false
		if !inStorage(st.Uid) || !inStorage(st.Gid) {
			uid, gid := int(st.Uid), int(st.Gid)
			if !inStorage(st.Uid) {
				uid = storageID(uid)
			}
			if !inStorage(st.Gid) {
				gid = storageID(gid)
			}
			if err := os.Lchown(p, uid, gid); err != nil {
				return err
			}
			chowned = true
		}
		if caps != nil {
			stored, ok := storedCaps(caps)
			switch {
			case !ok:
				if err := unix.Lremovexattr(p, capXattr); err != nil && !errors.Is(err, unix.ENODATA) {
					return &fs.PathError{Op: "removexattr", Path: p, Err: err}
				}
			case chowned || !bytes.Equal(stored, caps):
				if err := unix.Lsetxattr(p, capXattr, stored, 0); err != nil {
					return &fs.PathError{Op: "setxattr", Path: p, Err: err}
				}
			}
		}
		// chown and setting capabilities clear set-id bits.
		if (chowned || caps != nil) && mode&fs.ModeSymlink == 0 {
			return os.Chmod(p, mode&modeBits)
		}
		return nil
	})
}

// getXattr returns the value of attr on p, nil when it has none.
func getXattr(p, attr string) ([]byte, error) {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, attr, buf)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return nil, nil
	case errors.Is(err, unix.ERANGE):
		if n, err = unix.Lgetxattr(p, attr, nil); err == nil {
			buf = make([]byte, n)
			n, err = unix.Lgetxattr(p, attr, buf)
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "getxattr " + attr, Path: p, Err: err}
	}
	return buf[:n], nil
}

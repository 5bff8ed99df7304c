package image

import (
	"archive/tar"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// whiteout writes overlayfs's whiteout, a 0/0 character device, in place of
// the OCI ".wh.<name>" file.
func (u *unpacker) whiteout(dir, name string) error {
	if name == "" || name == "." || name == ".." {
		return corruptf("bad whiteout")
	}
	full := path.Join(dir, name)
	if err := u.clear(full, false); err != nil {
		return err
	}
	return u.mknod(dir, name, unix.S_IFCHR, 0, 0, 0)
}

// device creates a device node or fifo. Device nodes need CAP_MKNOD; without
// it they are skipped: the runtime gives a sandbox its own /dev anyway.
func (u *unpacker) device(hdr *tar.Header, dir, base, name string) error {
	mode := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
	case tar.TypeBlock:
		mode = unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	err := u.mknod(dir, base, mode|uint32(hdr.Mode&0o7777), int(dev), hdr.Uid, hdr.Gid)
	if errors.Is(err, unix.EPERM) && hdr.Typeflag != tar.TypeFifo {
		return nil
	}
	if err != nil {
		return err
	}
	return u.root.Chmod(name, hdr.FileInfo().Mode()&modeBits)
}

func (u *unpacker) mknod(dir, name string, mode uint32, dev, uid, gid int) error {
	d, err := u.root.Open(orDot(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	fd := int(d.Fd())
	if err := unix.Mknodat(fd, name, mode, dev); err != nil {
		return &fs.PathError{Op: "mknod", Path: path.Join(dir, name), Err: err}
	}
	if err := unix.Fchownat(fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "chown", Path: path.Join(dir, name), Err: err}
	}
	return nil
}

func (u *unpacker) setXattr(name, attr string, value []byte) error {
	f, err := u.root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fsetxattr(int(f.Fd()), attr, value, 0); err != nil {
		return &fs.PathError{Op: "setxattr " + attr, Path: name, Err: err}
	}
	return nil
}

// allowedXattr says which extended attributes of a layer are kept: file
// capabilities and user attributes. trusted.* (overlay's own) and others
// are dropped so an image cannot forge overlay metadata.
func allowedXattr(attr string) bool {
	return attr == "security.capability" || strings.HasPrefix(attr, "user.")
}

func (u *unpacker) xattrs(hdr *tar.Header, name string) error {
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, paxXattr); ok && allowedXattr(attr) {
			if err := u.setXattr(name, attr, []byte(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (u *unpacker) fileXattrs(hdr *tar.Header, f *os.File) error {
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, paxXattr); ok && allowedXattr(attr) {
			if err := unix.Fsetxattr(int(f.Fd()), attr, []byte(v), 0); err != nil {
				return &fs.PathError{Op: "setxattr " + attr, Path: f.Name(), Err: err}
			}
		}
	}
	return nil
}

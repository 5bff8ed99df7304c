package image

import (
	"archive/tar"
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
	return u.mknod(dir, name, unix.S_IFCHR, 0, storageID(0), storageID(0))
}

// device creates a fifo, or a 0/0 character device (a whiteout already in
// overlay form, as `docker export` of an overlay may write). Any other
// device node is left out: a node in the cache would open the host's
// device for whoever reaches it, and the runtime gives every sandbox its
// own /dev anyway.
func (u *unpacker) device(hdr *tar.Header, dir, base, name string) error {
	mode := uint32(unix.S_IFIFO)
	switch {
	case hdr.Typeflag == tar.TypeChar && hdr.Devmajor == 0 && hdr.Devminor == 0:
		return u.whiteout(dir, base)
	case hdr.Typeflag != tar.TypeFifo:
		u.devices = append(u.devices, name)
		return nil
	}
	err := u.mknod(dir, base, mode|uint32(hdr.Mode&0o7777), 0, storageID(hdr.Uid), storageID(hdr.Gid))
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

// keptXattrs yields the extended attributes of hdr that are kept, file
// capabilities in their stored form (see storedCaps).
func keptXattrs(hdr *tar.Header, yield func(attr string, value []byte) error) error {
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, paxXattr)
		if !ok || !allowedXattr(attr) {
			continue
		}
		value := []byte(v)
		if attr == capXattr {
			if value, ok = storedCaps(value); !ok {
				continue
			}
		}
		if err := yield(attr, value); err != nil {
			return err
		}
	}
	return nil
}

func (u *unpacker) xattrs(hdr *tar.Header, name string) error {
	return keptXattrs(hdr, func(attr string, value []byte) error {
		return u.setXattr(name, attr, value)
	})
}

func (u *unpacker) fileXattrs(hdr *tar.Header, f *os.File) error {
	return keptXattrs(hdr, func(attr string, value []byte) error {
		if err := unix.Fsetxattr(int(f.Fd()), attr, value, 0); err != nil {
			return &fs.PathError{Op: "setxattr " + attr, Path: f.Name(), Err: err}
		}
		return nil
	})
}

package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/tarcopy"
)

// archiveIDs is the PAX record of the global header Export writes first:
// the stream's owners are the sandbox's own ids (0 is its root), not host
// ids. A stream without it was written before sandboxes had ranges of
// their own, with host ids of the mapping all sandboxes shared.
const archiveIDs = "HUTCH.ids"

// restore unpacks a stream writeTree made into one dir, through an
// os.Root: the stream comes from the archive store, a sandbox controls
// what its files are called and where its symlinks point, and no name or
// link may make the restore write outside the dir. An entry beneath a
// symlink of the same stream (which writeTree never writes) is refused as
// a bad archive. Owners land in ids; legacy is the range a stream without
// the archiveIDs record was written in.
type restore struct {
	root     *os.Root
	ids      idRange
	legacy   idRange
	relative bool
	symlinks map[string]bool
}

// readTree unpacks a stream writeTree made into dir, up to the end of the
// stream or a section marker (archiveSection). Directory times are set
// last, since creating their entries changes them.
func readTree(ctx context.Context, tr *tar.Reader, dir string, ids, legacy idRange) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	r := &restore{root: root, ids: ids, legacy: legacy, symlinks: map[string]bool{}}
	var dirs []*tar.Header
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: read archive: %v", errdefs.ErrInvalidArgument, err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			if sec := hdr.PAXRecords[archiveSection]; sec == sectionMemory {
				break // the layer's files end here (readImages reads on)
			} else if sec != "" {
				return fmt.Errorf("archive section %q is unknown: %w", sec, errdefs.ErrInvalidArgument)
			}
			r.relative = r.relative || first && hdr.PAXRecords[archiveIDs] == "sandbox"
			continue
		}
		name, err := r.local(hdr.Name)
		if err != nil {
			return err
		}
		if err := r.entry(tr, hdr, name); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name = name
			dirs = append(dirs, hdr)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := r.at(dirs[i].Name, func(fd int, base string) error { return setTimes(fd, base, dirs[i]) }); err != nil {
			return err
		}
	}
	return nil
}

// local turns an entry name into a path inside the dir ("." for the dir
// itself) by tarcopy's check, unbounded (a tree the sandbox made must
// restore), refusing one that lies beneath a symlink.
func (r *restore) local(name string) (string, error) {
	clean, err := tarcopy.EntryName(name)
	if err != nil {
		return "", fmt.Errorf("archive entry %q: %w: %w", name, errdefs.ErrInvalidArgument, err)
	}
	if clean == "" {
		return ".", nil
	}
	for p := path.Dir(clean); p != "." && p != "/"; p = path.Dir(p) {
		if r.symlinks[p] {
			return "", fmt.Errorf("archive entry %q lies beneath the symlink %q: %w", name, p, errdefs.ErrInvalidArgument)
		}
	}
	return clean, nil
}

// at calls fn with a descriptor of name's parent, opened through the
// root, and name's last element.
func (r *restore) at(name string, fn func(dirfd int, base string) error) error {
	if name == "." {
		d, err := r.root.Open(".")
		if err != nil {
			return err
		}
		defer d.Close()
		return fn(int(d.Fd()), ".")
	}
	d, err := r.root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(int(d.Fd()), path.Base(name))
}

// hostID is where an id of the stream lands.
func (r *restore) hostID(id int) int {
	if !r.relative {
		rel, ok := r.legacy.sandboxID(uint32(id))
		if !ok {
			return r.ids.hostID(nobodyID)
		}
		id = int(rel)
	}
	return r.ids.hostID(id)
}

// entry makes one entry: the file, its owner, its xattrs, then its mode
// (after chown and capabilities, which clear set-id bits) and times.
func (r *restore) entry(tr *tar.Reader, hdr *tar.Header, name string) error {
	mode := uint32(hdr.Mode) & 0o7777
	if hdr.Typeflag == tar.TypeLink {
		target, err := r.local(hdr.Linkname)
		if err != nil || target == "." {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, errdefs.ErrInvalidArgument)
		}
		return r.root.Link(target, name) // shares owner, mode and xattrs
	}
	return r.at(name, func(fd int, base string) error {
		switch hdr.Typeflag {
		case tar.TypeDir:
			if base != "." {
				if err := unix.Mkdirat(fd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
					return err
				}
			}
		case tar.TypeReg:
			nfd, err := unix.Openat(fd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			if err != nil {
				return err
			}
			f := os.NewFile(uintptr(nfd), name)
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := unix.Symlinkat(hdr.Linkname, fd, base); err != nil {
				return err
			}
			r.symlinks[name] = true
		case tar.TypeChar, tar.TypeFifo:
			// A sandbox makes no device node but an overlay whiteout
			// (0/0): the kernel refuses it any other.
			if hdr.Typeflag == tar.TypeChar && (hdr.Devmajor != 0 || hdr.Devminor != 0) {
				return fmt.Errorf("device node %d:%d: %w", hdr.Devmajor, hdr.Devminor, errdefs.ErrInvalidArgument)
			}
			kind := uint32(unix.S_IFIFO)
			if hdr.Typeflag == tar.TypeChar {
				kind = unix.S_IFCHR
			}
			if err := unix.Mknodat(fd, base, kind|mode, 0); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unsupported entry type %q: %w", hdr.Typeflag, errdefs.ErrInvalidArgument)
		}
		if err := unix.Fchownat(fd, base, r.hostID(hdr.Uid), r.hostID(hdr.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := r.xattrs(fd, base, hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeSymlink {
			return setTimes(fd, base, hdr)
		}
		if err := unix.Fchmodat(fd, base, mode, 0); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			return nil
		}
		return setTimes(fd, base, hdr)
	})
}

// xattrs sets hdr's extended attributes on base in dirfd, through the
// dir's /proc/self/fd link (no *xattrat call in x/sys yet): the parent is
// the one the root resolved, and the last element is not followed. File
// capabilities move from the stream's ids to the sandbox's.
func (r *restore) xattrs(dirfd int, base string, hdr *tar.Header) error {
	p := fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, base)
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok {
			continue
		}
		value := []byte(v)
		if name == "security.capability" {
			if value, ok = image.RebaseCaps(value, func(root uint32) (uint32, bool) {
				if r.relative {
					return uint32(r.ids.hostID(int(root))), root < r.ids.Size
				}
				rel, ok := r.legacy.sandboxID(root)
				return uint32(r.ids.hostID(int(rel))), ok
			}); !ok {
				continue
			}
		}
		if err := unix.Lsetxattr(p, name, value, 0); err != nil {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

// setTimes sets base's access and modification times without following
// a symlink.
func setTimes(dirfd int, base string, hdr *tar.Header) error {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	return unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

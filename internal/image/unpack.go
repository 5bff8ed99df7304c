package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/tarcopy"
)

// Whiteout names of the OCI layer format, and the overlayfs attribute that
// replaces an opaque marker.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
	paxXattr       = "SCHILY.xattr."
)

var errNotEmpty = unix.ENOTEMPTY

// unpacker writes one layer's tar stream into a dir in the form overlayfs
// expects of a lower dir: OCI whiteout files become 0/0 character devices
// and opaque markers become the trusted.overlay.opaque xattr. Every path
// goes through an os.Root, so neither "../" nor a symlink planted by an
// earlier entry can make it write outside the dir.
type unpacker struct {
	root  *os.Root
	dirs  map[string]bool // dirs known to exist in this layer
	times []dirTime       // applied last: adding entries changes a dir's mtime
	buf   []byte
	// devices are the device nodes the layer held and the unpack left
	// out (see device).
	devices []string
}

type dirTime struct {
	name         string
	atime, mtime time.Time
}

// unpackTar unpacks the tar stream r into dst (an existing empty dir) and
// returns the bytes of regular files written. Owners are shifted into the
// storage range (see StorageIDBase).
func unpackTar(ctx context.Context, dst string, r io.Reader) (int64, error) {
	return unpackTarSkipping(ctx, dst, r, nil)
}

// unpackTarSkipping is unpackTar that tells skipped, when set, of each
// device node the layer held and the unpack left out.
func unpackTarSkipping(ctx context.Context, dst string, r io.Reader, skipped func(name string)) (int64, error) {
	root, err := os.OpenRoot(dst)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	u := &unpacker{root: root, dirs: map[string]bool{"": true}, buf: make([]byte, 128<<10)}
	defer func() {
		if skipped != nil {
			for _, name := range u.devices {
				skipped(name)
			}
		}
	}()
	tr := tar.NewReader(r)
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, corruptf("read tar: %v", err)
		}
		// Charged before the entry writes anything (see limits.go).
		if err := chargeEntry(ctx, hdr); err != nil {
			return 0, err
		}
		if err := u.entry(hdr, tr); err != nil {
			return 0, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			size += hdr.Size
		}
	}
	for i := len(u.times) - 1; i >= 0; i-- {
		t := u.times[i]
		if err := root.Chtimes(orDot(t.name), t.atime, t.mtime); err != nil {
			return 0, err
		}
	}
	return size, nil
}

// corruptf reports layer content that cannot be unpacked as it claims.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errdefs.ErrInvalidArgument}, args...)...)
}

// cleanName is tarcopy's bounded check of an entry's name (the layer
// root is ""), its refusal in the class of layer content that cannot be
// unpacked.
func cleanName(name string) (string, error) {
	p, err := tarcopy.BoundedEntryName(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	return p, nil
}

func orDot(name string) string {
	if name == "" {
		return "."
	}
	return name
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, whiteoutPrefix) {
		if err := u.mkdirParents(dir); err != nil {
			return err
		}
		if base == opaqueMarker {
			return u.setXattr(orDot(dir), opaqueXattr, []byte("y"))
		}
		return u.whiteout(dir, strings.TrimPrefix(base, whiteoutPrefix))
	}
	if name == "" {
		if hdr.Typeflag != tar.TypeDir {
			return corruptf("layer root is not a dir")
		}
		return u.finishDir(hdr, "")
	}
	if err := u.mkdirParents(dir); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeDir || !u.dirs[name] {
		if err := u.clear(name, hdr.Typeflag == tar.TypeDir); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !u.dirs[name] {
			if err := u.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			u.dirs[name] = true
		}
		return u.finishDir(hdr, name)
	case tar.TypeReg:
		return u.file(hdr, name, r)
	case tar.TypeSymlink:
		if err := u.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return u.root.Lchown(name, storageID(hdr.Uid), storageID(hdr.Gid))
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
		}
		if target == "" {
			return corruptf("hardlink to the layer root")
		}
		if err := u.root.Link(target, name); err != nil {
			// A target the root cannot reach (through a symlinked dir
			// leading out of the layer, say) is the layer's fault, not
			// the server's.
			if _, serr := u.root.Lstat(target); errors.Is(err, fs.ErrNotExist) || serr != nil {
				return corruptf("hardlink target %q is not in this layer", hdr.Linkname)
			}
			return err
		}
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return u.device(hdr, dir, base, name)
	default:
		// Sparse-file and vendor extensions carry nothing a sandbox root
		// needs; the tar reader has already consumed PAX and GNU headers.
		return nil
	}
}

// mkdirParents creates the missing parents of an entry, owned by the
// storage range's root (the image's root) and
// 0755 as Docker does for dirs a tar leaves implicit. It starts below the
// deepest parent already known and walks down one directory handle at a
// time, so a path n deep costs O(n) system calls, not one resolution of
// every prefix (O(n^2)).
func (u *unpacker) mkdirParents(dir string) error {
	if u.dirs[dir] {
		return nil
	}
	parts := strings.Split(dir, "/")
	known := 0 // parts[:known] is a dir known to exist ("" is the root)
	for i := len(parts) - 1; i > 0; i-- {
		if u.dirs[strings.Join(parts[:i], "/")] {
			known = i
			break
		}
	}
	cur, err := u.root.OpenRoot(orDot(strings.Join(parts[:known], "/")))
	if err != nil {
		return err
	}
	defer func() { cur.Close() }()
	for i := known; i < len(parts); i++ {
		p, part := strings.Join(parts[:i+1], "/"), parts[i]
		fi, err := cur.Lstat(part)
		switch {
		case err == nil && fi.IsDir():
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			// A symlinked parent is followed inside the root (os.Root
			// refuses the rest of a chain that leads outside); its
			// target may lie above cur, so it is resolved from the root.
			target, err := cur.Readlink(part)
			if err != nil {
				return err
			}
			if path.IsAbs(target) || !fs.ValidPath(path.Join(path.Dir(p), target)) {
				return corruptf("parent %q is a symlink leading out of the layer", p)
			}
			if fi, err = u.root.Stat(p); err != nil {
				return err
			}
			if !fi.IsDir() {
				return corruptf("parent %q is not a dir", p)
			}
			next, err := u.root.OpenRoot(p)
			if err != nil {
				return err
			}
			cur.Close()
			cur = next
			u.dirs[p] = true
			continue
		case err == nil:
			return corruptf("parent %q is not a dir", p)
		case errors.Is(err, fs.ErrNotExist):
			if err := cur.Mkdir(part, 0o755); err != nil {
				return err
			}
			if err := cur.Lchown(part, storageID(0), storageID(0)); err != nil {
				return err
			}
		default:
			return err
		}
		next, err := cur.OpenRoot(part)
		if err != nil {
			return err
		}
		cur.Close()
		cur = next
		u.dirs[p] = true
	}
	return nil
}

// clear removes what an earlier entry of the same name left, as a later
// entry in a tar replaces an earlier one. A dir is kept for a dir.
func (u *unpacker) clear(name string, isDir bool) error {
	fi, err := u.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if isDir && fi.IsDir() {
		u.dirs[name] = true
		return nil
	}
	delete(u.dirs, name)
	return u.root.RemoveAll(name)
}

func (u *unpacker) finishDir(hdr *tar.Header, name string) error {
	n := orDot(name)
	if err := u.root.Lchown(n, storageID(hdr.Uid), storageID(hdr.Gid)); err != nil {
		return err
	}
	if err := u.root.Chmod(n, hdr.FileInfo().Mode()&modeBits); err != nil {
		return err
	}
	if err := u.xattrs(hdr, n); err != nil {
		return err
	}
	u.times = append(u.times, dirTime{name: name, atime: atimeOf(hdr), mtime: hdr.ModTime})
	return nil
}

const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func atimeOf(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func (u *unpacker) file(hdr *tar.Header, name string, r io.Reader) error {
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, r, u.buf); err != nil {
		if errors.As(err, new(*fs.PathError)) {
			return err
		}
		return corruptf("read %d bytes of content: %v", hdr.Size, err)
	}
	if err := f.Chown(storageID(hdr.Uid), storageID(hdr.Gid)); err != nil {
		return err
	}
	if err := u.fileXattrs(hdr, f); err != nil {
		return err
	}
	// After chown, which clears setuid and setgid bits, and after the
	// capabilities, whose setting clears them too.
	if err := f.Chmod(hdr.FileInfo().Mode() & modeBits); err != nil {
		return err
	}
	at, mt := atimeOf(hdr), hdr.ModTime
	tv := []unix.Timeval{unix.NsecToTimeval(at.UnixNano()), unix.NsecToTimeval(mt.UnixNano())}
	if err := unix.Futimes(int(f.Fd()), tv); err != nil {
		return &fs.PathError{Op: "futimes", Path: name, Err: err}
	}
	return f.Close()
}

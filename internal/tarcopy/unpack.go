package tarcopy

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
	"syscall"
	"time"
)

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	// Rename replaces the first component of every entry's name, so that
	// a tree packed as "src" lands as "dst" (cp's copy to a new name).
	Rename string
	// Owners keeps the entries' uid and gid (the agent, as root in the
	// sandbox); otherwise everything belongs to the caller.
	Owners bool
	// SpecialBits keeps setuid, setgid and sticky bits; otherwise they
	// are dropped, so that a tree from a sandbox cannot leave a setuid
	// program on the host.
	SpecialBits bool
	// Progress, when set, is called after each entry with the running
	// totals.
	Progress func(Stats)
}

// Unpack writes the tar stream r into the existing directory dst. Every
// operation goes through an os.Root on dst: an entry named absolutely or
// climbing with "..", a hard link to outside, or a write through a
// symlink (one the stream made or one dst already held) that leads out of
// dst fails with ErrBadArchive, and nothing is written outside dst (the
// entries before the bad one stay written inside it). Symlinks are
// created as they are, whatever they point at; they are never followed
// out of dst. An existing file is replaced, an existing directory merged.
// Sockets, devices and fifos are left out and counted in Skipped.
func Unpack(ctx context.Context, dst string, r io.Reader, opts UnpackOptions) (Stats, error) {
	var st Stats
	root, err := os.OpenRoot(dst)
	if err != nil {
		return st, err
	}
	defer root.Close()
	u := &unpacker{root: root, opts: opts, buf: make([]byte, 128<<10)}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("%w: read tar: %v", ErrBadArchive, err)
		}
		if err := u.entry(hdr, tr, &st); err != nil {
			return st, fmt.Errorf("entry %q: %w", hdr.Name, escapes(err))
		}
		if opts.Progress != nil {
			opts.Progress(st)
		}
	}
	// Directories last, deepest first: adding entries changes a
	// directory's mtime, and a read-only mode would refuse them.
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		if err := root.Chmod(d.name, d.mode); err != nil {
			return st, err
		}
		if err := root.Chtimes(d.name, d.atime, d.mtime); err != nil {
			return st, err
		}
	}
	return st, nil
}

// escapes gives os.Root's refusal of a path that leaves the root (a
// *PathError whose cause is not a system error number: the kernel said
// nothing, the Root did) the ErrBadArchive class, so that callers answer
// it as bad input.
func escapes(err error) error {
	var pe *fs.PathError
	var errno syscall.Errno
	if errors.As(err, &pe) && !errors.As(pe.Err, &errno) && !errors.Is(err, ErrBadArchive) &&
		!errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) && !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	return err
}

type unpacker struct {
	root *os.Root
	opts UnpackOptions
	dirs []dirMeta
	buf  []byte
}

type dirMeta struct {
	name         string
	mode         fs.FileMode
	atime, mtime time.Time
}

// entryName is BoundedEntryName with Rename applied.
func (u *unpacker) entryName(name string) (string, error) {
	p, err := BoundedEntryName(name)
	if err != nil || p == "" || u.opts.Rename == "" {
		return p, err
	}
	_, rest, _ := strings.Cut(p, "/")
	return path.Join(u.opts.Rename, rest), nil
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader, st *Stats) error {
	name, err := u.entryName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		if hdr.Typeflag == tar.TypeDir {
			return nil // the target itself: its own mode and times stay
		}
		return badf("only a directory may be named after the target")
	}
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		st.Skipped++
		return nil
	}
	if dir := path.Dir(name); dir != "." {
		if err := u.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := u.clear(name, hdr.Typeflag == tar.TypeDir); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := u.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := u.chown(name, hdr); err != nil {
			return err
		}
		u.dirs = append(u.dirs, dirMeta{name: name, mode: u.mode(hdr), atime: atimeOf(hdr), mtime: hdr.ModTime})
	case tar.TypeReg:
		if err := u.file(name, hdr, r, st); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return badf("a symlink needs a target")
		}
		if err := u.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		if u.opts.Owners {
			if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
				return err
			}
		}
	case tar.TypeLink:
		target, err := u.entryName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
		}
		if target == "" {
			return badf("a hard link to the target directory")
		}
		if err := u.root.Link(target, name); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return badf("hard link target %q is not in the archive", hdr.Linkname)
			}
			return err
		}
	}
	st.Entries++
	return nil
}

// clear removes what stands where a new entry goes: the stream's own
// earlier entry of the same name, or what dst held. A directory stays for
// a directory (the trees merge); a directory is never replaced by a file.
func (u *unpacker) clear(name string, isDir bool) error {
	fi, err := u.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir() && isDir:
		return nil
	case fi.IsDir():
		return fmt.Errorf("%s is a directory and the archive has a file there: %w", name, fs.ErrExist)
	}
	return u.root.Remove(name)
}

func (u *unpacker) file(name string, hdr *tar.Header, r io.Reader, st *Stats) error {
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, r, u.buf)
	st.Bytes += n
	if err != nil {
		f.Close()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return err // the write failed (disk full, quota)
		}
		return badf("content of %d bytes cut short: %v", hdr.Size, err)
	}
	if err := f.Chmod(u.mode(hdr)); err != nil {
		f.Close()
		return err
	}
	if u.opts.Owners {
		if err := f.Chown(hdr.Uid, hdr.Gid); err != nil {
			f.Close()
			return err
		}
		// chown clears setuid and setgid: set the mode again.
		if err := f.Chmod(u.mode(hdr)); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return u.root.Chtimes(name, atimeOf(hdr), hdr.ModTime)
}

func (u *unpacker) chown(name string, hdr *tar.Header) error {
	if !u.opts.Owners {
		return nil
	}
	return u.root.Lchown(name, hdr.Uid, hdr.Gid)
}

// mode is the entry's permission bits, with the special bits only when
// asked for.
func (u *unpacker) mode(hdr *tar.Header) fs.FileMode {
	m := hdr.FileInfo().Mode()
	keep := fs.ModePerm
	if u.opts.SpecialBits {
		keep |= fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
	}
	return m & keep
}

func atimeOf(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// archiveSection is the PAX record of a global header that ends the
// writable layer's entries in an Export stream; its value names what the
// entries after it are. A sandbox checkpointed to disk has its memory
// image follow its files as the "memory" section. The marker is a header,
// not a name, so no file of the sandbox can be taken for part of it.
//
// The memory section holds CRIU's images (flat names, meta.json last) and,
// named under consoleEntry, the console log files its init holds open:
// they lie on the sandbox's disk outside the writable layer, and CRIU
// reopens them at the size they had.
const (
	archiveSection = "HUTCH.section"
	sectionMemory  = "memory"
	consoleEntry   = "console/"
)

// writeImages appends the sandbox's checkpoint, if it has one, as the
// memory section. The disk is mounted.
func writeImages(ctx context.Context, tw *tar.Writer, p paths) error {
	meta, err := loadCheckpoint(p)
	if err != nil || meta == nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Format: tar.FormatPAX,
		PAXRecords: map[string]string{archiveSection: sectionMemory}}); err != nil {
		return err
	}
	if err := writeFlat(ctx, tw, p.console(), consoleEntry, ""); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if err := writeFlat(ctx, tw, p.checkpointDir(), "", "meta.json"); err != nil {
		return err
	}
	return writeFlat(ctx, tw, p.checkpointDir(), "", "")
}

// writeFlat writes the regular files of dir, named prefix plus their
// name, through an os.Root (the console directory is the sandbox's to
// write: its links are not followed, its other kinds of file are left
// out). only, when set, is the one file written; otherwise meta.json is
// left out (it goes last).
func writeFlat(ctx context.Context, tw *tar.Writer, dir, prefix, only string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && prefix != "" {
			return nil
		}
		return err
	}
	defer root.Close()
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if (only != "" && name != only) || (only == "" && prefix == "" && name == "meta.json") {
			continue
		}
		if err := writeFlatFile(tw, root, name, prefix); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func writeFlatFile(tw *tar.Writer, root *os.Root, name, prefix string) error {
	fi, err := root.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() {
		return err
	}
	f, err := root.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: prefix + name, Mode: int64(fi.Mode().Perm()),
		Size: fi.Size(), ModTime: fi.ModTime(), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, fi.Size())
	return err
}

// readImages reads the memory section, if the stream has one (readTree
// stops at its marker): the console files onto the mounted disk, owned by
// the sandbox's root (ids), and the images into the sandbox's checkpoint
// directory, which appears whole, meta.json included, or not at all.
func readImages(ctx context.Context, tr *tar.Reader, p paths, ids idRange) error {
	work := p.checkpointDir() + ".new"
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	made := false
	defer func() {
		if made {
			os.RemoveAll(work)
		}
	}()
	for {
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
		dir, name, uid := work, hdr.Name, -1
		if rest, ok := strings.CutPrefix(name, consoleEntry); ok {
			dir, name, uid = p.console(), rest, ids.hostID(0)
		}
		if hdr.Typeflag != tar.TypeReg || name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
			return fmt.Errorf("memory image entry %q is not a plain file name: %w", hdr.Name, errdefs.ErrInvalidArgument)
		}
		if dir == work && !made {
			// 0711 as Checkpoint makes it: CRIU looks for optional
			// images from inside the user namespace.
			if err := os.Mkdir(work, 0o711); err != nil {
				return err
			}
			made = true
		}
		if dir == p.console() {
			if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			if err := os.Lchown(dir, uid, uid); err != nil {
				return err
			}
		}
		if err := writeFile(tr, dir, name, os.FileMode(hdr.Mode)&0o777, uid); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
	if !made {
		return nil
	}
	if _, err := os.Stat(filepath.Join(work, "meta.json")); err != nil {
		return fmt.Errorf("memory image without meta.json: %w", errdefs.ErrInvalidArgument)
	}
	if err := os.Rename(work, p.checkpointDir()); err != nil {
		return err
	}
	made = false
	return nil
}

// writeFile creates dir/name from r, owned by uid (its group too) unless
// it is -1.
func writeFile(r io.Reader, dir, name string, mode os.FileMode, uid int) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if uid >= 0 && err == nil {
		err = f.Chown(uid, uid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

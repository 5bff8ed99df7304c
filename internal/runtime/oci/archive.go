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
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
)

var _ runtime.Archiver = (*Driver)(nil)

// xattrPrefix is how PAX tar headers carry extended attributes (the
// overlay's trusted.overlay.* markers, file capabilities).
const xattrPrefix = "SCHILY.xattr."

// Export implements runtime.Archiver: the sandbox's disk is mounted on
// the host for as long as it takes to walk the overlay's upper dir into a
// tar stream, with owners (as the sandbox sees them: its own ids, not the
// host's), modes, times, hard links, device nodes (the overlay's
// whiteouts) and extended attributes (its opaque markers).
func (d *Driver) Export(ctx context.Context, id string, w io.Writer) error {
	p, err := d.stoppedPaths(id)
	if err != nil {
		return err
	}
	defer d.locks.Lock(id)()
	rec, err := d.load(id)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p.diskImg); err != nil {
		return fmt.Errorf("export %s: no working copy: %w", id, err)
	}
	// A checkpointed sandbox keeps its mounts; the disk is mounted here
	// alone (a restore mounts its root again).
	if err := d.unmountDisk(p); err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	if err := d.mountDisk(p.diskImg, p.disk); err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	defer d.unmountDisk(p)
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Format: tar.FormatPAX,
		PAXRecords: map[string]string{archiveIDs: "sandbox"}}); err != nil {
		return err
	}
	if err := writeTree(ctx, tw, p.upper, d.idsOf(rec)); err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	if err := writeImages(ctx, tw, p); err != nil {
		return fmt.Errorf("export %s: memory image: %w", id, err)
	}
	return tw.Close()
}

// Discard implements runtime.Archiver: the disk image, its mount point
// and the memory image of a checkpointed sandbox go; the record (with the
// sandbox's id range and network), its directory and its cgroups stay, so
// Import knows the disk's size, Start the image's layers, and a restore
// the paths and ids its processes had.
func (d *Driver) Discard(ctx context.Context, id string) error {
	p, err := d.stoppedPaths(id)
	if err != nil {
		return err
	}
	defer d.locks.Lock(id)()
	if err := d.unmountDisk(p); err != nil {
		return err
	}
	// The memory image first: a sandbox cut short here is never left
	// checkpointed over a disk that is gone.
	if err := discardCheckpoint(p); err != nil {
		return fmt.Errorf("discard %s: %w", id, err)
	}
	for _, path := range []string{p.diskImg, p.disk} {
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("discard %s: %w", id, err)
		}
	}
	return nil
}

// Import implements runtime.Archiver: a fresh disk of the recorded size
// (from the template, as at create) receives the stream's files as the
// upper dir, and the memory image the stream carries, if any, becomes the
// sandbox's checkpoint again.
func (d *Driver) Import(ctx context.Context, id string, r io.Reader) error {
	p, err := d.stoppedPaths(id)
	if err != nil {
		return err
	}
	defer d.locks.Lock(id)()
	rec, err := d.load(id)
	if err != nil {
		return err
	}
	if err := d.unmountDisk(p); err != nil {
		return err
	}
	if err := os.RemoveAll(p.diskImg); err != nil {
		return err
	}
	if err := discardCheckpoint(p); err != nil {
		return err
	}
	diskMB := rec.DiskMB
	if diskMB <= 0 {
		diskMB = d.cfg.DefaultDiskMB
	}
	if err := d.newDisk(ctx, p.diskImg, diskMB); err != nil {
		return fmt.Errorf("import %s: %w", id, err)
	}
	if err := d.mountDisk(p.diskImg, p.disk); err != nil {
		return fmt.Errorf("import %s: %w", id, err)
	}
	defer d.unmountDisk(p)
	if err := os.MkdirAll(p.upper, 0o755); err != nil {
		return err
	}
	ids := d.idsOf(rec)
	if err := os.Chown(p.upper, ids.hostID(0), ids.hostID(0)); err != nil {
		return err
	}
	legacy := idRange{Base: d.cfg.UIDBase, Size: d.cfg.UIDSize}
	tr := tar.NewReader(r)
	if err := readTree(ctx, tr, p.upper, ids, legacy); err != nil {
		return fmt.Errorf("import %s: %w", id, err)
	}
	if err := readImages(ctx, tr, p, ids); err != nil {
		return fmt.Errorf("import %s: memory image: %w", id, err)
	}
	return nil
}

// stoppedPaths checks that id names a sandbox with no processes: its
// writable layer is only consistent while nothing writes to it.
func (d *Driver) stoppedPaths(id string) (paths, error) {
	if err := checkID(id); err != nil {
		return paths{}, err
	}
	rec, err := d.load(id)
	if err != nil {
		return paths{}, err
	}
	if rec.initAlive() {
		return paths{}, fmt.Errorf("sandbox %s is running; stop it first: %w", id, errdefs.ErrConflict)
	}
	return d.paths(id), nil
}

// unmountDisk unmounts the disk (and anything a crash left above it) and
// releases its loop device.
func (d *Driver) unmountDisk(p paths) error {
	err := unmountUnder(p.dir)
	detachLoops(p.diskImg)
	return err
}

// writeTree writes every file under root to tw, named relative to root,
// owned by ids relative to the range ids (outside it: nobody).
func writeTree(ctx context.Context, tw *tar.Writer, root string, ids idRange) error {
	links := map[[2]uint64]string{} // (dev, inode) -> first name, for hard links
	return filepath.WalkDir(root, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		var target string
		if fi.Mode()&os.ModeSymlink != 0 {
			if target, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		hdr.Name, hdr.Uname, hdr.Gname, hdr.Format = rel, "", "", tar.FormatPAX
		if fi.IsDir() {
			hdr.Name = rel + "/"
		}
		st := fi.Sys().(*syscall.Stat_t)
		hdr.Uid, hdr.Gid = sandboxID(ids, st.Uid), sandboxID(ids, st.Gid)
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[key] = rel
			}
		}
		if err := addXattrs(hdr, path, ids); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}

// sandboxID is host id as the sandbox of ids sees it.
func sandboxID(ids idRange, id uint32) int {
	if rel, ok := ids.sandboxID(id); ok {
		return int(rel)
	}
	return nobodyID
}

// addXattrs copies path's extended attributes into hdr, file capabilities
// bound to the sandbox's root as bound to root 0 of the stream (others are
// left out).
func addXattrs(hdr *tar.Header, path string, ids idRange) error {
	size, err := unix.Llistxattr(path, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(path, buf); err != nil {
		return err
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
		val := make([]byte, n)
		if n, err = unix.Lgetxattr(path, name, val); err != nil {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
		val = val[:n]
		if name == "security.capability" {
			var ok bool
			if val, ok = image.RebaseCaps(val, ids.sandboxID); !ok {
				continue
			}
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[xattrPrefix+name] = string(val)
	}
	return nil
}

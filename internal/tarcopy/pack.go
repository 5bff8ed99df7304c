// Package tarcopy moves files and directory trees as tar streams, the
// form `hutch cp` and the files API's archive routes use in both
// directions. Pack writes a tree as it is on disk (modes, times, symlinks
// as symlinks, never followed); Unpack writes one into a directory
// through an os.Root, so that no entry, and no symlink an entry or the
// directory already holds, makes it write outside that directory.
//
// The same code runs on both sides of a copy: inside a sandbox (the
// agent, as the sandbox's root, keeping owners) and on the host (the CLI
// and the Go SDK, as the user, who must never receive a setuid file or a
// write through a symlink the sandbox planted).
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
	"path/filepath"
	"strings"
)

// PackOptions tune Pack.
type PackOptions struct {
	// Name is the archive name of src ("" for its base name): entries
	// are Name and, for a directory, Name/... below it.
	Name string
	// Skip reports host paths not to descend into (kernel filesystems
	// when packing /).
	Skip func(path string) bool
	// Progress, when set, is called after each entry with the running
	// totals.
	Progress func(Stats)
}

// Stats counts what a copy moved.
type Stats struct {
	Entries int   // files, directories and symlinks
	Bytes   int64 // content of regular files
	Skipped int   // sockets, devices and fifos, which a copy leaves out
}

// Pack writes src (a file, a directory with everything below it, or a
// symlink, kept as one) to w as a tar stream. Sockets, devices and
// fifos are left out and counted in Skipped. The stream is not closed on
// error, so that a reader sees it end early rather than end cleanly.
func Pack(ctx context.Context, w io.Writer, src string, opts PackOptions) (Stats, error) {
	var st Stats
	name := opts.Name
	if name == "" {
		name = filepath.Base(src)
	}
	if name == "/" || name == "." || name == ".." || strings.Contains(name, "/") {
		name = "root"
	}
	tw := tar.NewWriter(w)
	buf := make([]byte, 128<<10)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == src {
				return err
			}
			return nil // an unreadable entry below src is left out, as tar does
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p != src && d.IsDir() && opts.Skip != nil && opts.Skip(p) {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		arcName := name
		if rel != "." {
			arcName = path.Join(name, filepath.ToSlash(rel))
		}
		fi, err := d.Info()
		if err != nil {
			return nil // gone since the directory was read
		}
		if err := packEntry(tw, p, arcName, fi, buf, &st); err != nil {
			return err
		}
		if opts.Progress != nil {
			opts.Progress(st)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	return st, tw.Close()
}

// packEntry writes one file, directory or symlink.
func packEntry(tw *tar.Writer, p, arcName string, fi fs.FileInfo, buf []byte, st *Stats) error {
	var link string
	switch {
	case fi.Mode().IsRegular(), fi.IsDir():
	case fi.Mode()&fs.ModeSymlink != 0:
		var err error
		if link, err = os.Readlink(p); err != nil {
			return nil
		}
	default:
		st.Skipped++
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = arcName
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", "" // names mean nothing on the other side
	hdr.Format = tar.FormatPAX    // long names, large sizes, sub-second times
	if !fi.Mode().IsRegular() {
		st.Entries++
		return tw.WriteHeader(hdr)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil // unreadable: left out, as tar does
	}
	defer f.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// A file that shrank while it was read cannot be padded honestly:
	// the stream fails. One that grew is cut at the size announced.
	n, err := io.CopyBuffer(tw, io.LimitReader(f, hdr.Size), buf)
	st.Bytes += n
	if err == nil && n < hdr.Size {
		err = fmt.Errorf("%s shrank while it was copied", p)
	}
	if err != nil {
		return err
	}
	st.Entries++
	return nil
}

// ErrBadArchive marks a tar stream that cannot be unpacked as it claims:
// an entry name that is absolute or climbs with "..", a link leading out
// of the target, a malformed header.
var ErrBadArchive = errors.New("bad archive")

package ocilayout

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Entry is one file, directory or symbolic link of a root filesystem.
type Entry struct {
	Name     string // slash-separated, relative to the root ("usr/local/bin/hutch")
	Mode     int64  // permission bits
	UID, GID int
	Dir      bool
	Link     string // a symbolic link's target
	Data     []byte // a regular file's contents
}

// WriteRootfs writes entries as a root filesystem tarball (an
// uncompressed layer) in the order given, each missing parent directory
// first as root's 0755. Every time stamp is the epoch, so that the same
// entries make the same layer digest.
func WriteRootfs(w io.Writer, entries []Entry) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	seen := map[string]bool{}
	var dir func(name string, mode int64, uid, gid int) error
	dir = func(name string, mode int64, uid, gid int) error {
		if name == "." || seen[name] {
			return nil
		}
		if err := dir(path.Dir(name), 0o755, 0, 0); err != nil {
			return err
		}
		seen[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: epoch})
	}
	for _, e := range entries {
		name := path.Clean(strings.TrimPrefix(e.Name, "/"))
		if name == "." || strings.HasPrefix(name, "../") || name == ".." {
			return fmt.Errorf("ocilayout: entry %q is not below the root", e.Name)
		}
		if e.Dir {
			if seen[name] {
				return fmt.Errorf("ocilayout: directory %q listed after its contents or twice", e.Name)
			}
			if err := dir(name, e.Mode, e.UID, e.GID); err != nil {
				return err
			}
			continue
		}
		if err := dir(path.Dir(name), 0o755, 0, 0); err != nil {
			return err
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: e.Mode, Uid: e.UID, Gid: e.GID, Size: int64(len(e.Data)), ModTime: epoch}
		if e.Link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.Link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if e.Link == "" {
			if _, err := tw.Write(e.Data); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

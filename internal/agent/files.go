package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// Files are streamed in both directions: a download is served from the
// open file (with Range), an upload is copied from the request body into
// a temporary file beside its target and renamed over it, so that a
// reader never sees half a file and a failed upload leaves the old one.

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	path, err := resolve("path", r.URL.Query().Get("path"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !fi.Mode().IsRegular() {
		writeError(w, r, errdefs.InvalidField("path", "%s is not a regular file (list a directory with /files/list)", path))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if fi.Size() == 0 {
		// Kernel files (/proc, /sys) say size 0 and often cannot seek:
		// stream them as they read, without Range.
		streamUnsized(w, r, path, f)
		return
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// streamUnsized sends a file whose size is not known in advance. The first
// read happens before the answer starts, so a file that cannot be read at
// all (/proc/self/mem) gets an error envelope rather than an empty 200.
func streamUnsized(w http.ResponseWriter, r *http.Request, path string, f *os.File) {
	buf := make([]byte, 32<<10)
	n, err := f.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		writeError(w, r, errdefs.InvalidField("path", "%s cannot be read: %v", path, err))
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf[:n])
	if err == nil {
		_, _ = io.Copy(w, f) // a failure now can only cut the stream short
	}
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path, err := resolve("path", q.Get("path"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	mode, err := parseMode(q.Get("mode"), 0o644)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := writeFile(path, r.Body, mode); err != nil {
		writeError(w, r, err)
		return
	}
	s.answerInfo(w, r, http.StatusOK, path)
}

// uploadMultipart writes every file part of a multipart/form-data body
// into the directory ?path= (created when missing), each under its file
// name, streaming one part at a time.
func (s *Server) uploadMultipart(w http.ResponseWriter, r *http.Request) {
	dir, err := resolve("path", r.URL.Query().Get("path"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, r, fmt.Errorf("body must be multipart/form-data: %v: %w", err, errdefs.ErrInvalidArgument))
		return
	}
	out := api.FileList{Items: []api.FileInfo{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeError(w, r, fmt.Errorf("multipart body: %v: %w", err, errdefs.ErrInvalidArgument))
			return
		}
		name := part.FileName() // already reduced to a base name
		if name == "" || name == "." || name == ".." || name == "/" {
			part.Close()
			continue // a form field, not a file
		}
		target := filepath.Join(dir, name)
		if err := writeFile(target, part, 0o644); err != nil {
			writeError(w, r, err)
			return
		}
		part.Close()
		info, err := statInfo(target)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out.Items = append(out.Items, info)
	}
	writeJSON(w, http.StatusOK, out)
}

// writeFile streams body into path through a temporary file and a rename.
func writeFile(path string, body io.Reader, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return errdefs.InvalidField("path", "%s is a directory", path)
	}
	tmp, err := os.CreateTemp(dir, ".hutch-upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := io.Copy(tmp, body); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// parseMode reads permission bits in octal ("644", "0755"); empty is def.
func parseMode(s string, def os.FileMode) (os.FileMode, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, errdefs.InvalidField("mode", "must be octal permission bits such as 0644, got %q", s)
	}
	m := os.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m, nil
}

// statInfo describes path without following a final symlink.
func statInfo(path string) (api.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return api.FileInfo{}, err
	}
	return fileInfo(path, fi), nil
}

func fileInfo(path string, fi fs.FileInfo) api.FileInfo {
	out := api.FileInfo{Name: fi.Name(), Path: path, Size: fi.Size(),
		Mode: fmt.Sprintf("%04o", unixMode(fi.Mode())), ModifiedAt: fi.ModTime().UTC()}
	switch {
	case fi.Mode().IsRegular():
		out.Type = "file"
	case fi.IsDir():
		out.Type = "dir"
	case fi.Mode()&os.ModeSymlink != 0:
		out.Type = "symlink"
		out.LinkTarget, _ = os.Readlink(path)
	default:
		out.Type = "other"
	}
	return out
}

// unixMode turns Go's mode bits back into the octal a shell shows.
func unixMode(m os.FileMode) uint32 {
	out := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		out |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		out |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		out |= 0o1000
	}
	return out
}

package agent

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/tarcopy"
)

// Directories (and single files) travel as tar streams: GET
// /files/archive packs ?path= with everything below it, PUT
// /files/archive unpacks the body into the directory ?path=. Modes, times
// and owners are kept, symlinks stay symlinks and are never followed: the
// unpacking goes through an os.Root on the target, so a stream cannot
// write outside it, not even through a symlink the sandbox already has.

// downloadArchive answers with the tar stream of ?path=, its entries named
// from ?name= (default: the path's base name).
func (s *Server) downloadArchive(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path, err := resolve("path", q.Get("path"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	name, err := archiveName(q.Get("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Checked before the answer starts: afterwards only a cut stream can
	// say that something failed.
	if _, err := os.Lstat(path); err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	_, err = tarcopy.Pack(r.Context(), w, path, tarcopy.PackOptions{Name: name, Skip: func(p string) bool { return pseudoFS[p] }})
	if err != nil {
		// Too late for an error answer: cut the connection, so that
		// the client's tar reader fails instead of ending cleanly.
		s.log.Warn("archive stream cut", "path", path, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// uploadArchive unpacks the tar body into the directory ?path=, created
// when missing.
func (s *Server) uploadArchive(w http.ResponseWriter, r *http.Request) {
	dir, err := resolve("path", r.URL.Query().Get("path"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			err = errdefs.InvalidField("path", "%s is not a directory (or a file is in its way)", dir)
		}
		writeError(w, r, err)
		return
	}
	_, err = tarcopy.Unpack(r.Context(), dir, r.Body, tarcopy.UnpackOptions{Owners: true, SpecialBits: true})
	if errors.Is(err, tarcopy.ErrBadArchive) {
		err = errdefs.InvalidField("body", "%v", err)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answerInfo(w, r, http.StatusOK, dir)
}

// archiveName checks ?name=: one path element.
func archiveName(n string) (string, error) {
	if n == "" {
		return "", nil
	}
	if n == "." || n == ".." || filepath.Base(n) != n || len(n) > 255 {
		return "", errdefs.InvalidField("name", "must be one file name (no slash, not . or ..), got %q", n)
	}
	for _, c := range n {
		if c == 0 {
			return "", errdefs.InvalidField("name", "must not contain NUL")
		}
	}
	return n, nil
}

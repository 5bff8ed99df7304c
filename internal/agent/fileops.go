package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// Bounds of listings and searches, so that one call on / cannot walk the
// whole disk into memory.
const (
	maxListDepth = 16
	maxEntries   = 10000
)

// pseudoFS are skipped by walks: kernel files that are not the sandbox's
// data and can be endless.
var pseudoFS = map[string]bool{"/proc": true, "/sys": true, "/dev": true}

func (s *Server) stat(w http.ResponseWriter, r *http.Request) {
	path, err := resolve("path", r.URL.Query().Get("path"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.answerInfo(w, r, http.StatusOK, path)
}

// list returns a directory's entries, down to ?depth= levels (default 1).
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := q.Get("path")
	if p == "" {
		p = "/"
	}
	root, err := resolve("path", p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	depth := 1
	if v := q.Get("depth"); v != "" {
		if depth, err = strconv.Atoi(v); err != nil || depth < 1 || depth > maxListDepth {
			writeError(w, r, errdefs.InvalidField("depth", "must be an integer from 1 to %d, got %q", maxListDepth, v))
			return
		}
	}
	if fi, err := os.Stat(root); err != nil {
		writeError(w, r, err)
		return
	} else if !fi.IsDir() {
		writeError(w, r, errdefs.InvalidField("path", "%s is not a directory", root))
		return
	}
	out := api.FileList{Items: []api.FileInfo{}}
	out.Truncated = walk(root, depth, func(path string, fi fs.FileInfo) bool {
		out.Items = append(out.Items, fileInfo(path, fi))
		return len(out.Items) < maxEntries
	})
	writeJSON(w, http.StatusOK, out)
}

// search finds files under ?path= whose name matches the glob ?pattern=
// (a pattern with a slash is matched against the path below ?path=).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	root, err := resolve("path", q.Get("path"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	pattern := q.Get("pattern")
	if _, err := filepath.Match(pattern, ""); err != nil || pattern == "" {
		writeError(w, r, errdefs.InvalidField("pattern", "must be a glob such as *.py, got %q", pattern))
		return
	}
	out := api.FileList{Items: []api.FileInfo{}}
	out.Truncated = walk(root, maxListDepth, func(path string, fi fs.FileInfo) bool {
		name := fi.Name()
		if strings.Contains(pattern, "/") {
			name, _ = filepath.Rel(root, path)
		}
		if ok, _ := filepath.Match(pattern, name); ok {
			out.Items = append(out.Items, fileInfo(path, fi))
		}
		return len(out.Items) < maxEntries
	})
	writeJSON(w, http.StatusOK, out)
}

// walk calls fn for everything below root down to depth levels, without
// following symlinks or entering kernel filesystems; it reports whether
// fn stopped it early.
func walk(root string, depth int, fn func(string, fs.FileInfo) bool) (stopped bool) {
	base := strings.Count(filepath.Clean(root), "/")
	if root == "/" {
		base = 0
	}
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return nil // unreadable entries are skipped, not fatal
		}
		if d.IsDir() && pseudoFS[path] {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if !fn(path, fi) {
			stopped = true
			return filepath.SkipAll
		}
		if d.IsDir() && strings.Count(path, "/")-base >= depth {
			return filepath.SkipDir
		}
		return nil
	})
	return stopped
}

func (s *Server) mkdir(w http.ResponseWriter, r *http.Request) {
	var req api.MkdirRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	path, err := resolve("path", req.Path)
	if err != nil {
		writeError(w, r, err)
		return
	}
	mode, err := parseMode(req.Mode, 0o755)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := os.MkdirAll(path, mode); err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			err = fmt.Errorf("mkdir %s: a file is in the way: %w", path, fs.ErrExist)
		}
		writeError(w, r, err)
		return
	}
	s.answerInfo(w, r, http.StatusCreated, path)
}

func (s *Server) move(w http.ResponseWriter, r *http.Request) {
	var req api.MoveRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	from, err := resolve("from", req.From)
	if err != nil {
		writeError(w, r, err)
		return
	}
	to, err := resolve("to", req.To)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if from == "/" {
		writeError(w, r, errdefs.InvalidField("from", "the sandbox root cannot be moved"))
		return
	}
	if to == "/" {
		writeError(w, r, errdefs.InvalidField("to", "the sandbox root cannot be replaced"))
		return
	}
	if _, err := os.Lstat(from); err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := os.Lstat(to); err == nil && !req.Overwrite {
		writeError(w, r, fmt.Errorf("%s exists (set overwrite to replace it): %w", to, fs.ErrExist))
		return
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		writeError(w, r, err)
		return
	}
	if err := os.Rename(from, to); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			// A mount point (/proc, /dev, the agent's own binary): the
			// kernel refuses to move it, and that is the caller's to fix.
			err = fmt.Errorf("%s or %s is a mount point or in use and cannot be moved: %w", from, to, errdefs.ErrConflict)
		}
		writeError(w, r, err)
		return
	}
	s.answerInfo(w, r, http.StatusOK, to)
}

func (s *Server) chmod(w http.ResponseWriter, r *http.Request) {
	var req api.ChmodRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	path, err := resolve("path", req.Path)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.Mode == "" {
		writeError(w, r, errdefs.InvalidField("mode", "is required"))
		return
	}
	mode, err := parseMode(req.Mode, 0)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := os.Chmod(path, mode); err != nil {
		writeError(w, r, err)
		return
	}
	s.answerInfo(w, r, http.StatusOK, path)
}

// remove deletes a file or an empty directory; ?recursive=true deletes a
// directory with everything in it.
func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path, err := resolve("path", q.Get("path"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if path == "/" {
		writeError(w, r, errdefs.InvalidField("path", "the sandbox root cannot be removed"))
		return
	}
	recursive := false
	if v := q.Get("recursive"); v != "" {
		if recursive, err = strconv.ParseBool(v); err != nil {
			writeError(w, r, errdefs.InvalidField("recursive", "must be true or false, got %q", v))
			return
		}
	}
	if _, err := os.Lstat(path); err != nil {
		writeError(w, r, err)
		return
	}
	if recursive {
		err = os.RemoveAll(path)
	} else {
		err = os.Remove(path)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) answerInfo(w http.ResponseWriter, r *http.Request, status int, path string) {
	info, err := statInfo(path)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, status, info)
}

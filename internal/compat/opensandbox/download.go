package opensandbox

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// download answers a file raw, or one byte range of it (Range, 206), or
// some of its lines as text (?offset=&limit=, 1-based).
func (f *face) download(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	q := r.URL.Query()
	p := q.Get("path")
	if p == "" {
		return errdefs.InvalidField("path", "is required")
	}
	rangeHeader := r.Header.Get("Range")
	if q.Has("offset") || q.Has("limit") {
		if rangeHeader != "" {
			return errdefs.InvalidField("Range", "cannot be combined with offset and limit")
		}
		return f.downloadLines(w, r, call, p)
	}
	fi, err := call.Client.StatFile(r.Context(), call.Sandbox.ID, p)
	if err != nil {
		return err
	}
	if fi.Type == "dir" {
		return errdefs.InvalidField("path", "%s is a directory", p)
	}
	start, length, ranged := int64(0), int64(0), false
	if rangeHeader != "" && fi.Size > 0 {
		start, length, ranged, err = parseRange(rangeHeader, fi.Size)
		if err != nil {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", fi.Size))
			compat.WriteJSON(w, http.StatusRequestedRangeNotSatisfiable, errorBody{Code: "INVALID_RANGE", Message: err.Error()})
			return nil
		}
	}
	rc, err := call.Client.Download(r.Context(), call.Sandbox.ID, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(p)))
	if !ranged {
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, rc)
		return nil
	}
	if _, err := io.CopyN(io.Discard, rc, start); err != nil {
		return fmt.Errorf("skip to byte %d of %s: %w", start, p, err)
	}
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, fi.Size))
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(http.StatusPartialContent)
	_, _ = io.CopyN(w, rc, length)
	return nil
}

// parseRange reads one byte range ("bytes=0-99", "bytes=100-", "bytes=-50")
// of a file of size bytes. Several ranges are answered as the whole file
// (ok false), which HTTP allows.
func parseRange(h string, size int64) (start, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	from, to, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, fmt.Errorf("range %q is not bytes=first-last", h)
	}
	switch {
	case from == "":
		n, err := strconv.ParseInt(to, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, fmt.Errorf("range %q is not bytes=-count", h)
		}
		n = min(n, size)
		return size - n, n, true, nil
	default:
		first, err := strconv.ParseInt(from, 10, 64)
		if err != nil || first < 0 || first >= size {
			return 0, 0, false, fmt.Errorf("range %q starts outside the file of %d bytes", h, size)
		}
		last := size - 1
		if to != "" {
			if last, err = strconv.ParseInt(to, 10, 64); err != nil || last < first {
				return 0, 0, false, fmt.Errorf("range %q ends before it starts", h)
			}
			last = min(last, size-1)
		}
		return first, last - first + 1, true, nil
	}
}

// downloadLines answers lines offset.. (1-based), at most limit of them.
func (f *face) downloadLines(w http.ResponseWriter, r *http.Request, call *compat.AgentCall, p string) error {
	q := r.URL.Query()
	offset, limit := 1, -1
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errdefs.InvalidField("offset", "must be a line number from 1, got %q", v)
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errdefs.InvalidField("limit", "must be a number of lines from 1, got %q", v)
		}
		limit = n
	}
	rc, err := call.Client.Download(r.Context(), call.Sandbox.ID, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	br := bufio.NewReader(rc)
	for line := 1; limit != 0; line++ {
		text, err := br.ReadString('\n')
		if line >= offset && text != "" {
			if _, werr := io.WriteString(w, text); werr != nil {
				return nil
			}
			limit--
		}
		if err != nil {
			return nil
		}
	}
	return nil
}

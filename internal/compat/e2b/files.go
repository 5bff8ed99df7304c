package e2b

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// writeInfo is envd's answer for each written file.
type writeInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Path string `json:"path"`
}

// download streams the file at ?path= raw. An empty file answers
// Content-Length: 0 (net/http sets it when nothing was written), which
// the SDK needs to read it as "". The username parameter of envd < 0.4.0
// is not used: files are read as the agent's user.
func (f *face) download(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		return errdefs.InvalidField("path", "is required")
	}
	rc, err := call.Client.Download(r.Context(), call.Sandbox.ID, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	// Copy a first chunk before the status goes out, so that an error of
	// the agent's stream at its very start is still an error answer.
	buf := make([]byte, 32<<10)
	n, err := io.ReadFull(rc, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if _, err := w.Write(buf[:n]); err != nil || n < len(buf) {
		return nil
	}
	_, _ = io.Copy(w, rc)
	return nil
}

// upload writes files, as envd takes them: a multipart form whose "file"
// parts are named by their full path (or all written to ?path=), or, from
// envd 0.5.7, one raw application/octet-stream body for ?path=, gzipped
// when Content-Encoding says so. It answers one entry per file. File
// metadata (X-Metadata-* headers, envd 0.6.2) is refused: Hutch's agent
// keeps none.
func (f *face) upload(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-metadata-") {
			return errdefs.InvalidField(k, "file metadata is not supported by this server")
		}
	}
	target := r.URL.Query().Get("path")
	ctype, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var out []writeInfo
	switch ctype {
	case "multipart/form-data":
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read multipart body: %v: %w", err, errdefs.ErrInvalidArgument)
			}
			if part.FormName() != "file" {
				part.Close()
				continue
			}
			dest := target
			if dest == "" {
				dest = fullName(part)
			}
			if dest == "" {
				part.Close()
				return errdefs.InvalidField("path", "is required (as ?path= or as the part's filename)")
			}
			fi, err := call.Client.Upload(r.Context(), call.Sandbox.ID, dest, part, "")
			part.Close()
			if err != nil {
				return err
			}
			out = append(out, writeInfo{Name: fi.Name, Type: "file", Path: fi.Path})
		}
	case "application/octet-stream":
		if target == "" {
			return errdefs.InvalidField("path", "is required")
		}
		body := io.Reader(r.Body)
		switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
		case "", "identity":
		case "gzip":
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				return fmt.Errorf("gzip body: %v: %w", err, errdefs.ErrInvalidArgument)
			}
			defer zr.Close()
			body = zr
		default:
			return errdefs.InvalidField("Content-Encoding", "%q is not supported (gzip or none)", enc)
		}
		fi, err := call.Client.Upload(r.Context(), call.Sandbox.ID, target, body, "")
		if err != nil {
			return err
		}
		out = append(out, writeInfo{Name: fi.Name, Type: "file", Path: fi.Path})
	default:
		return errdefs.InvalidField("Content-Type", "must be multipart/form-data or application/octet-stream, got %q", ctype)
	}
	if len(out) == 0 {
		return errdefs.InvalidField("file", "the form has no file part")
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

// fullName is a part's filename as sent: envd takes it as the file's path
// (multipart.Part.FileName keeps only its base name).
func fullName(part *multipart.Part) string {
	_, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}

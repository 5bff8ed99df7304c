package hopx

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// maxRead bounds /files/read, which answers the whole file in JSON;
// /files/download streams files of any size.
const maxRead = 32 << 20

func pathParam(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", errdefs.InvalidField("path", "is required")
	}
	return p, nil
}

func (f *face) readFile(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	p, err := pathParam(r)
	if err != nil {
		return err
	}
	rc, err := call.Client.Download(r.Context(), call.Sandbox.ID, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRead+1))
	if err != nil {
		return err
	}
	if len(b) > maxRead {
		return errdefs.InvalidField("path", "file is larger than %d bytes; use /files/download", maxRead)
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"content": string(b), "path": p, "size": len(b)})
	return nil
}

func (f *face) downloadFile(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	p, err := pathParam(r)
	if err != nil {
		return err
	}
	rc, err := call.Client.Download(r.Context(), call.Sandbox.ID, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(p)))
	_, _ = io.Copy(w, rc) // once the answer has started, a failure only cuts it short
	return nil
}

type writeRequest struct {
	Path      string `json:"path"`
	Content   string `json:"content"`
	Encoding  string `json:"encoding"`
	Overwrite *bool  `json:"overwrite"`
	Mode      string `json:"mode"`
}

func fileResponse(info *api.FileInfo, msg string) map[string]any {
	return map[string]any{"success": true, "message": msg, "path": info.Path, "size": info.Size, "timestamp": time.Now().UTC()}
}

func (f *face) writeFile(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req writeRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if req.Path == "" {
		return errdefs.InvalidField("path", "is required")
	}
	var body io.Reader = strings.NewReader(req.Content)
	switch req.Encoding {
	case "", "utf-8", "utf8", "text":
	case "base64":
		b, err := base64.StdEncoding.DecodeString(req.Content)
		if err != nil {
			return errdefs.InvalidField("content", "is not valid base64: %v", err)
		}
		body = strings.NewReader(string(b))
	default:
		return errdefs.InvalidField("encoding", "must be utf-8 or base64, got %q", req.Encoding)
	}
	if req.Overwrite != nil && !*req.Overwrite {
		if _, err := call.Client.StatFile(r.Context(), call.Sandbox.ID, req.Path); err == nil {
			return &fileExists{path: req.Path}
		}
	}
	info, err := call.Client.Upload(r.Context(), call.Sandbox.ID, req.Path, body, req.Mode)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, fileResponse(info, "file written"))
	return nil
}

type fileExists struct{ path string }

func (e *fileExists) Error() string {
	return "file " + e.path + " already exists and overwrite is false"
}
func (e *fileExists) Unwrap() error { return errdefs.ErrAlreadyExists }

func (f *face) uploadFile(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return errdefs.InvalidField("file", "a multipart/form-data body with a file part is expected: %v", err)
	}
	// The SDK sends the file part before the path part, so the form is
	// read whole first (a large file spills to a temporary file).
	form, err := mr.ReadForm(8 << 20)
	if err != nil {
		return errdefs.InvalidField("file", "could not read the form: %v", err)
	}
	defer form.RemoveAll()
	files := form.File["file"]
	if len(files) == 0 {
		return errdefs.InvalidField("file", "is required")
	}
	dest := ""
	if v := form.Value["path"]; len(v) > 0 {
		dest = v[0]
	}
	if dest == "" {
		dest = path.Join(workspace, path.Base(files[0].Filename))
	}
	fh, err := files[0].Open()
	if err != nil {
		return err
	}
	defer fh.Close()
	info, err := call.Client.Upload(r.Context(), call.Sandbox.ID, dest, fh, "")
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, fileResponse(info, "file uploaded"))
	return nil
}

// fileEntry is HopX's file in a listing.
type fileEntry struct {
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	Size        int64     `json:"size"`
	IsDir       bool      `json:"is_dir"`
	Modified    time.Time `json:"modified"`
	Permissions string    `json:"permissions"`
}

func (f *face) listFiles(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		p = workspace
	}
	list, err := call.Client.ListFiles(r.Context(), call.Sandbox.ID, p, 1)
	if err != nil {
		return err
	}
	out := make([]fileEntry, 0, len(list.Items))
	for _, fi := range list.Items {
		out = append(out, fileEntry{Name: fi.Name, Path: fi.Path, Size: fi.Size, IsDir: fi.Type == "dir",
			Modified: fi.ModifiedAt, Permissions: fi.Mode})
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"files": out, "count": len(out), "path": p})
	return nil
}

func (f *face) fileExists(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	p, err := pathParam(r)
	if err != nil {
		return err
	}
	_, err = call.Client.StatFile(r.Context(), call.Sandbox.ID, p)
	switch {
	case err == nil:
	case notFound(err):
		compat.WriteJSON(w, http.StatusOK, map[string]any{"exists": false, "path": p})
		return nil
	default:
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"exists": true, "path": p})
	return nil
}

func (f *face) removeFile(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	p, err := pathParam(r)
	if err != nil {
		return err
	}
	if err := call.Client.RemoveFile(r.Context(), call.Sandbox.ID, p, true); err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "message": "removed", "path": p, "timestamp": time.Now().UTC()})
	return nil
}

func (f *face) mkdir(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req struct {
		Path string `json:"path"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if req.Path == "" {
		return errdefs.InvalidField("path", "is required")
	}
	info, err := call.Client.Mkdir(r.Context(), call.Sandbox.ID, req.Path, "")
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, fileResponse(info, "directory created"))
	return nil
}

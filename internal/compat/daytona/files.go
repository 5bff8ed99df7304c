package daytona

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

func (f *face) fileRoutes(tool func(method, path string, h toolFunc)) {
	tool("GET", "/files", listFiles)
	tool("DELETE", "/files", deleteFile)
	tool("GET", "/files/info", fileInfo)
	tool("GET", "/files/download", downloadFile)
	tool("POST", "/files/bulk-download", bulkDownload)
	tool("POST", "/files/upload", uploadFile)
	tool("POST", "/files/bulk-upload", bulkUpload)
	tool("POST", "/files/folder", createFolder)
	tool("POST", "/files/move", moveFile)
	tool("POST", "/files/permissions", setPermissions)
	tool("GET", "/files/search", searchFiles)
	tool("GET", "/files/find", findInFiles)
	tool("POST", "/files/replace", replaceInFiles)
}

// fileBody is the toolbox's FileInfo. Hutch's agent does not report
// owners, so owner and group are empty.
type fileBody struct {
	Name        string `json:"name"`
	IsDir       bool   `json:"isDir"`
	Size        int64  `json:"size"`
	Mode        string `json:"mode"`
	Permissions string `json:"permissions"`
	ModTime     string `json:"modTime"`
	ModifiedAt  string `json:"modifiedAt"`
	Owner       string `json:"owner"`
	Group       string `json:"group"`
}

// fileOf is fi as the toolbox describes a file: mode as `ls -l` prints
// it (Go's FileMode.String), permissions in octal.
func fileOf(fi api.FileInfo) fileBody {
	perm, _ := strconv.ParseUint(strings.TrimPrefix(fi.Mode, "0"), 8, 32)
	mode := fs.FileMode(perm) & fs.ModePerm
	switch fi.Type {
	case "dir":
		mode |= fs.ModeDir
	case "symlink":
		mode |= fs.ModeSymlink
	case "other":
		mode |= fs.ModeIrregular
	}
	return fileBody{Name: fi.Name, IsDir: fi.Type == "dir", Size: fi.Size, Mode: mode.String(),
		Permissions: fmt.Sprintf("%04o", uint32(mode.Perm())), ModTime: fi.ModifiedAt.String(),
		ModifiedAt: stamp(fi.ModifiedAt)}
}

// pathParam reads a required path from the query.
func pathParam(r *http.Request, name string) (string, error) {
	p := r.URL.Query().Get(name)
	if p == "" {
		return "", errdefs.InvalidField(name, "is required")
	}
	return p, nil
}

func listFiles(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path := r.URL.Query().Get("path")
	if path == "" {
		path = "."
	}
	depth := 0
	if v := r.URL.Query().Get("depth"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errdefs.InvalidField("depth", "must be an integer of at least 1")
		}
		depth = n
	}
	list, err := c.Client.ListFiles(r.Context(), c.SandboxID(), path, depth)
	if err != nil {
		return err
	}
	out := make([]fileBody, 0, len(list.Items))
	for _, fi := range list.Items {
		out = append(out, fileOf(fi))
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

func deleteFile(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	recursive, _ := strconv.ParseBool(r.URL.Query().Get("recursive"))
	if err := c.Client.RemoveFile(r.Context(), c.SandboxID(), path, recursive); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func fileInfo(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	fi, err := c.Client.StatFile(r.Context(), c.SandboxID(), path)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, fileOf(*fi))
	return nil
}

// downloadFile streams one file's bytes.
func downloadFile(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	rc, err := c.Client.Download(r.Context(), c.SandboxID(), path)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": baseName(path)}))
	_, _ = io.Copy(w, rc)
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndex(strings.TrimSuffix(p, "/"), "/"); i >= 0 {
		return strings.TrimSuffix(p, "/")[i+1:]
	}
	return p
}

// bulkDownload answers multipart/form-data: each file a part named
// `file` whose filename is the path asked for, each failure a part named
// `error` (same filename) holding the daemon's JSON error, as the SDK
// parses them.
func bulkDownload(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	var req struct {
		Paths []string `json:"paths"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if len(req.Paths) == 0 {
		return errdefs.InvalidField("paths", "give at least one path")
	}
	sw := &startWriter{w: w}
	mw := multipart.NewWriter(sw)
	w.Header().Set("Content-Type", mw.FormDataContentType())
	for _, p := range req.Paths {
		if err := downloadPart(r, c, mw, p); err != nil {
			if !sw.started {
				w.Header().Del("Content-Type")
				return err
			}
			// The answer has started: dropping the connection is all
			// that is left to tell the client it is incomplete.
			panic(http.ErrAbortHandler)
		}
	}
	return mw.Close()
}

// startWriter notes whether anything of the answer was written.
type startWriter struct {
	w       io.Writer
	started bool
}

func (s *startWriter) Write(b []byte) (int, error) {
	s.started = true
	return s.w.Write(b)
}

// downloadPart writes one path's part; its error is the connection's,
// a file's own failure goes into an error part.
func downloadPart(r *http.Request, c *compat.AgentCall, mw *multipart.Writer, path string) error {
	rc, err := c.Client.Download(r.Context(), c.SandboxID(), path)
	if err != nil {
		return errorPart(mw, path, err)
	}
	defer rc.Close()
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": path}))
	h.Set("Content-Type", "application/octet-stream")
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(part, rc)
	return err
}

// errorPart writes a file's failure as the daemon's JSON error.
func errorPart(mw *multipart.Writer, path string, failure error) error {
	p := compat.Describe(failure)
	if p.Status >= 500 && !errors.As(failure, new(*client.Error)) {
		return failure // not the file's fault: the call itself broke
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "error", "filename": path}))
	h.Set("Content-Type", "application/json")
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	return json.NewEncoder(part).Encode(map[string]any{"message": p.Message, "statusCode": p.Status,
		"code": p.Code, "source": sourceDaemon})
}

// uploadFile is POST /files/upload?path=: one multipart part `file`.
func uploadFile(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return errdefs.InvalidField("file", "send multipart/form-data with a file part: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return errdefs.InvalidField("file", "is required")
		}
		if err != nil {
			return fmt.Errorf("read upload: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		if part.FormName() != "file" {
			continue
		}
		if _, err := c.Client.Upload(r.Context(), c.SandboxID(), path, part, ""); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
}

// uploadField is a bulk upload's field: files[i].path or files[i].file.
var uploadField = regexp.MustCompile(`^files\[(\d+)\]\.(path|file)$`)

// bulkUpload is POST /files/bulk-upload: parts files[i].path (the
// destination) and files[i].file (the content), streamed to the agent
// one file at a time. A file part whose path part has not come yet goes
// to its filename, which the SDK sets to the destination too.
func bulkUpload(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return errdefs.InvalidField("files", "send multipart/form-data with files[i].path and files[i].file parts: %v", err)
	}
	paths := map[string]string{}
	n := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read upload: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		m := uploadField.FindStringSubmatch(part.FormName())
		switch {
		case m == nil:
			continue
		case m[2] == "path":
			b, err := io.ReadAll(io.LimitReader(part, 4096))
			if err != nil {
				return fmt.Errorf("read %s: %v: %w", part.FormName(), err, errdefs.ErrInvalidArgument)
			}
			paths[m[1]] = string(b)
		default:
			dst := paths[m[1]]
			if dst == "" {
				dst = part.FileName()
			}
			if dst == "" {
				return errdefs.InvalidField("files["+m[1]+"].path", "is required")
			}
			if _, err := c.Client.Upload(r.Context(), c.SandboxID(), dst, part, ""); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return errdefs.InvalidField("files", "no files[i].file part")
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func createFolder(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	mode := r.URL.Query().Get("mode")
	if mode == "" {
		mode = "0755"
	}
	if _, err := c.Client.Mkdir(r.Context(), c.SandboxID(), path, mode); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// moveFile renames; an existing destination is refused (409), as the
// daemon does.
func moveFile(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	src, err := pathParam(r, "source")
	if err != nil {
		return err
	}
	dst, err := pathParam(r, "destination")
	if err != nil {
		return err
	}
	if _, err := c.Client.Move(r.Context(), c.SandboxID(), src, dst, false); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// setPermissions sets the mode through the agent and the owner and group
// with chown in the sandbox.
func setPermissions(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	q := r.URL.Query()
	path, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	if mode := q.Get("mode"); mode != "" {
		if _, err := c.Client.Chmod(r.Context(), c.SandboxID(), path, mode); err != nil {
			return err
		}
	}
	owner, group := q.Get("owner"), q.Get("group")
	if owner != "" || group != "" {
		spec := owner
		if group != "" {
			spec += ":" + group
		}
		code, out, err := run(r.Context(), c, api.ExecRequest{Command: []string{"chown", "--", spec, path}})
		if err != nil {
			return err
		}
		if code != 0 {
			return errdefs.InvalidField("owner", "chown %s: %s", spec, strings.TrimSpace(out))
		}
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// searchFiles finds files by name glob: {files: [paths]}.
func searchFiles(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	pattern, err := pathParam(r, "pattern")
	if err != nil {
		return err
	}
	list, err := c.Client.SearchFiles(r.Context(), c.SandboxID(), path, pattern)
	if err != nil {
		return err
	}
	files := make([]string, 0, len(list.Items))
	for _, fi := range list.Items {
		files = append(files, fi.Path)
	}
	compat.WriteJSON(w, http.StatusOK, map[string][]string{"files": files})
	return nil
}

// match is the toolbox's Match: one line of a file holding the pattern.
type match struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Content string `json:"content"`
}

// findInFiles searches file contents for a literal pattern with the
// sandbox's grep (text files only).
func findInFiles(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	pattern, err := pathParam(r, "pattern")
	if err != nil {
		return err
	}
	var out bytes.Buffer
	res, err := c.Client.ExecStream(r.Context(), c.SandboxID(), api.ExecRequest{
		Command: []string{"grep", "-rnIF", "--", pattern, path}},
		func(stream, data string) {
			if stream == "stdout" {
				out.WriteString(data)
			}
		})
	if err != nil {
		return err
	}
	if res.ExitCode > 1 && out.Len() == 0 {
		return fmt.Errorf("grep in %s failed (exit %d): %w", path, res.ExitCode, errdefs.ErrInvalidArgument)
	}
	matches := []match{}
	for _, line := range strings.Split(out.String(), "\n") {
		file, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		num, content, ok := strings.Cut(rest, ":")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			continue
		}
		matches = append(matches, match{File: file, Line: n, Content: content})
	}
	compat.WriteJSON(w, http.StatusOK, matches)
	return nil
}

// maxReplace bounds a file rewritten by replace, which reads it whole.
const maxReplace = 64 << 20

// replaceInFiles replaces every occurrence of a literal pattern in each
// file, reporting each file's success or error.
func replaceInFiles(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	var req struct {
		Files    []string `json:"files"`
		Pattern  string   `json:"pattern"`
		NewValue *string  `json:"newValue"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	switch {
	case len(req.Files) == 0:
		return errdefs.InvalidField("files", "give at least one file")
	case req.Pattern == "":
		return errdefs.InvalidField("pattern", "is required")
	case req.NewValue == nil:
		return errdefs.InvalidField("newValue", "is required")
	}
	type result struct {
		File    string `json:"file"`
		Success bool   `json:"success"`
		Error   string `json:"error,omitempty"`
	}
	out := make([]result, 0, len(req.Files))
	for _, file := range req.Files {
		err := replaceIn(r, c, file, req.Pattern, *req.NewValue)
		if err != nil {
			if p := compat.Describe(err); p.Status >= 500 {
				return err
			}
			out = append(out, result{File: file, Error: compat.Describe(err).Message})
			continue
		}
		out = append(out, result{File: file, Success: true})
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

func replaceIn(r *http.Request, c *compat.AgentCall, file, pattern, value string) error {
	fi, err := c.Client.StatFile(r.Context(), c.SandboxID(), file)
	if err != nil {
		return err
	}
	if fi.Type != "file" {
		return errdefs.InvalidField("files", "%s is not a regular file", file)
	}
	if fi.Size > maxReplace {
		return errdefs.InvalidField("files", "%s is larger than %d bytes", file, maxReplace)
	}
	rc, err := c.Client.Download(r.Context(), c.SandboxID(), file)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxReplace+1))
	rc.Close()
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(pattern)) {
		return nil
	}
	b = bytes.ReplaceAll(b, []byte(pattern), []byte(value))
	_, err = c.Client.Upload(r.Context(), c.SandboxID(), file, bytes.NewReader(b), fi.Mode)
	return err
}

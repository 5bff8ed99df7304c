package opensandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// fileInfoBody is execd's FileInfo. Hutch's agent reports neither the
// owner, the group nor a creation time: owner and group are empty and
// created_at is the modification time.
type fileInfoBody struct {
	Path       string    `json:"path"`
	Type       string    `json:"type"`
	Size       int64     `json:"size"`
	ModifiedAt time.Time `json:"modified_at"`
	CreatedAt  time.Time `json:"created_at"`
	Owner      string    `json:"owner"`
	Group      string    `json:"group"`
	Mode       int       `json:"mode"`
}

func fileInfoOf(fi *api.FileInfo) fileInfoBody {
	typ := fi.Type
	if typ == "dir" {
		typ = "directory"
	}
	mode, _ := strconv.Atoi(strings.TrimLeft(fi.Mode, "0")) // "0644" -> 644, octal digits read as written
	return fileInfoBody{Path: fi.Path, Type: typ, Size: fi.Size, ModifiedAt: fi.ModifiedAt.UTC(),
		CreatedAt: fi.ModifiedAt.UTC(), Mode: mode}
}

func fileList(items []api.FileInfo) []fileInfoBody {
	out := make([]fileInfoBody, 0, len(items))
	for i := range items {
		out = append(out, fileInfoOf(&items[i]))
	}
	return out
}

// octal turns execd's mode, octal digits written as a decimal number
// (755), into the agent's "0755".
func octal(field string, mode int) (string, error) {
	s := strconv.Itoa(mode)
	if mode < 0 || mode > 7777 || strings.ContainsAny(s, "89") {
		return "", errdefs.InvalidField(field, "%d is not a permission mode in octal digits such as 755", mode)
	}
	return strings.Repeat("0", 4-len(s)) + s, nil
}

// paths reads the repeated ?path= of a request.
func paths(r *http.Request) ([]string, error) {
	ps := r.URL.Query()["path"]
	if len(ps) == 0 {
		return nil, errdefs.InvalidField("path", "is required")
	}
	return ps, nil
}

func (f *face) filesInfo(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	ps, err := paths(r)
	if err != nil {
		return err
	}
	out := make(map[string]fileInfoBody, len(ps))
	for _, p := range ps {
		fi, err := call.Client.StatFile(r.Context(), call.Sandbox.ID, p)
		if err != nil {
			return err
		}
		out[p] = fileInfoOf(fi)
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

// removeFiles deletes files, never directories (DELETE /directories does).
func (f *face) removeFiles(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	ps, err := paths(r)
	if err != nil {
		return err
	}
	for _, p := range ps {
		fi, err := call.Client.StatFile(r.Context(), call.Sandbox.ID, p)
		if err != nil {
			return err
		}
		if fi.Type == "dir" {
			return errdefs.InvalidField("path", "%s is a directory; DELETE /directories removes directories", p)
		}
		if err := call.Client.RemoveFile(r.Context(), call.Sandbox.ID, p, false); err != nil {
			return err
		}
	}
	noBody(w, http.StatusOK)
	return nil
}

// permission is execd's Permission.
type permission struct {
	Owner string `json:"owner"`
	Group string `json:"group"`
	Mode  *int   `json:"mode"`
}

// apply sets a path's mode and, when given, its owner and group (with
// chown in the sandbox: the agent has no call for it).
func (p permission) apply(r *http.Request, call *compat.AgentCall, path string, chmod bool) error {
	if p.Mode != nil && chmod {
		mode, err := octal(path+".mode", *p.Mode)
		if err != nil {
			return err
		}
		if _, err := call.Client.Chmod(r.Context(), call.Sandbox.ID, path, mode); err != nil {
			return err
		}
	}
	return chown(r, call, path, p.Owner, p.Group)
}

func chown(r *http.Request, call *compat.AgentCall, path, owner, group string) error {
	if owner == "" && group == "" {
		return nil
	}
	spec := owner
	if group != "" {
		spec += ":" + group
	}
	res, err := call.Client.Exec(r.Context(), call.Sandbox.ID, api.ExecRequest{Command: []string{"chown", "--", spec, path}})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return errdefs.InvalidField("owner", "chown %s %s: %s", spec, path, strings.TrimSpace(res.Stderr))
	}
	return nil
}

func (f *face) setPermissions(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req map[string]permission
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	for path, p := range req {
		if err := p.apply(r, call, path, true); err != nil {
			return err
		}
	}
	noBody(w, http.StatusOK)
	return nil
}

func (f *face) moveFiles(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req []struct {
		Src  string `json:"src"`
		Dest string `json:"dest"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	for i, m := range req {
		if m.Src == "" || m.Dest == "" {
			return errdefs.InvalidField(fmt.Sprintf("[%d]", i), "src and dest are required")
		}
		if _, err := call.Client.Move(r.Context(), call.Sandbox.ID, m.Src, m.Dest, true); err != nil {
			return err
		}
	}
	noBody(w, http.StatusOK)
	return nil
}

// searchFiles finds files by glob. The agent matches one name (or, with
// a slash, the path below ?path=) without "**": a leading "**/" is
// dropped and "**" alone is "*", which matches at any depth anyway.
func (f *face) searchFiles(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	q := r.URL.Query()
	root := q.Get("path")
	if root == "" {
		return errdefs.InvalidField("path", "is required")
	}
	pattern := q.Get("pattern")
	for strings.HasPrefix(pattern, "**/") {
		pattern = pattern[3:]
	}
	if pattern == "" || pattern == "**" {
		pattern = "*"
	}
	list, err := call.Client.SearchFiles(r.Context(), call.Sandbox.ID, root, pattern)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, fileList(list.Items))
	return nil
}

// maxReplace bounds the size of a file /files/replace rewrites in memory.
const maxReplace = 64 << 20

// replaceContents replaces every occurrence of old with new in each file,
// keeping its mode.
func (f *face) replaceContents(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req map[string]struct {
		Old string `json:"old"`
		New string `json:"new"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	counts := map[string]map[string]int{}
	for path, rep := range req {
		if rep.Old == "" {
			return errdefs.InvalidField(path+".old", "must not be empty")
		}
		fi, err := call.Client.StatFile(r.Context(), call.Sandbox.ID, path)
		if err != nil {
			return err
		}
		if fi.Type != "file" || fi.Size > maxReplace {
			return errdefs.InvalidField(path, "must be a regular file of at most %d bytes", maxReplace)
		}
		rc, err := call.Client.Download(r.Context(), call.Sandbox.ID, path)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxReplace+1))
		rc.Close()
		if err != nil {
			return err
		}
		n := strings.Count(string(b), rep.Old)
		if n > 0 {
			out := strings.ReplaceAll(string(b), rep.Old, rep.New)
			if _, err := call.Client.Upload(r.Context(), call.Sandbox.ID, path, strings.NewReader(out), fi.Mode); err != nil {
				return err
			}
		}
		counts[path] = map[string]int{"replacedCount": n}
	}
	if v, _ := strconv.ParseBool(r.URL.Query().Get("verbose")); v {
		compat.WriteJSON(w, http.StatusOK, counts)
		return nil
	}
	noBody(w, http.StatusOK)
	return nil
}

// fileMetadata is execd's FileMetadata, the JSON part before each file.
type fileMetadata struct {
	Path  string `json:"path"`
	Owner string `json:"owner"`
	Group string `json:"group"`
	Mode  *int   `json:"mode"`
}

// upload reads execd's multipart body: pairs of a metadata part (JSON)
// followed by its file part, each file streamed into the sandbox.
func (f *face) upload(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return errdefs.InvalidField("body", "must be multipart/form-data with metadata and file parts: %v", err)
	}
	var meta *fileMetadata
	files := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errdefs.InvalidField("body", "broken multipart body: %v", err)
		}
		switch part.FormName() {
		case "metadata":
			meta = &fileMetadata{}
			if err := json.NewDecoder(io.LimitReader(part, 64<<10)).Decode(meta); err != nil {
				return errdefs.InvalidField("metadata", "must be JSON such as {\"path\": \"/workspace/a.txt\", \"mode\": 644}: %v", err)
			}
			if meta.Path == "" {
				return errdefs.InvalidField("metadata.path", "is required")
			}
		case "file":
			if meta == nil {
				return errdefs.InvalidField("metadata", "a metadata part must come before each file part")
			}
			mode := ""
			if meta.Mode != nil {
				if mode, err = octal("metadata.mode", *meta.Mode); err != nil {
					return err
				}
			}
			if _, err := call.Client.Upload(r.Context(), call.Sandbox.ID, meta.Path, part, mode); err != nil {
				return err
			}
			if err := chown(r, call, meta.Path, meta.Owner, meta.Group); err != nil {
				return err
			}
			meta = nil
			files++
		}
		part.Close()
	}
	if meta != nil || files == 0 {
		return errdefs.InvalidField("file", "each metadata part needs its file part after it")
	}
	noBody(w, http.StatusOK)
	return nil
}

func (f *face) listDirectory(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	q := r.URL.Query()
	root := q.Get("path")
	if root == "" {
		return errdefs.InvalidField("path", "is required")
	}
	depth := 1
	if v := q.Get("depth"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errdefs.InvalidField("depth", "must be a number from 0, got %q", v)
		}
		depth = n
	}
	fi, err := call.Client.StatFile(r.Context(), call.Sandbox.ID, root)
	if err != nil {
		return err
	}
	if fi.Type == "symlink" {
		return errdefs.InvalidField("path", "%s is a symbolic link; list the directory it points to", root)
	}
	if depth == 0 {
		compat.WriteJSON(w, http.StatusOK, []fileInfoBody{})
		return nil
	}
	list, err := call.Client.ListFiles(r.Context(), call.Sandbox.ID, root, depth)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, fileList(list.Items))
	return nil
}

func (f *face) makeDirs(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req map[string]permission
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	for path, p := range req {
		mode := ""
		if p.Mode != nil {
			var err error
			if mode, err = octal(path+".mode", *p.Mode); err != nil {
				return err
			}
		}
		if _, err := call.Client.Mkdir(r.Context(), call.Sandbox.ID, path, mode); err != nil {
			return err
		}
		if err := p.apply(r, call, path, false); err != nil {
			return err
		}
	}
	noBody(w, http.StatusOK)
	return nil
}

func (f *face) removeDirs(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	ps, err := paths(r)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := call.Client.RemoveFile(r.Context(), call.Sandbox.ID, p, true); err != nil {
			return err
		}
	}
	noBody(w, http.StatusOK)
	return nil
}

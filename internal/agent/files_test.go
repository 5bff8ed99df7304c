package agent

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

func TestUploadDownload(t *testing.T) {
	ts := newTestAgent(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "sub", "f.txt")
	q := "?path=" + url.QueryEscape(target)
	req, _ := http.NewRequest("PUT", ts.URL+"/files"+q+"&mode=0640", strings.NewReader("hello world"))
	resp, err := ts.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("uploaded file: %v %v", fi, err)
	}
	req, _ = http.NewRequest("GET", ts.URL+"/files"+q, nil)
	req.Header.Set("Range", "bytes=6-")
	resp, err = ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(b) != "world" {
		t.Fatalf("range download: %d %q", resp.StatusCode, b)
	}
	wantError(t, ts, "GET", "/files?path="+url.QueryEscape(dir), nil, 400, api.CodeInvalidArgument, "not a regular file")
	// Kernel files say size 0: they stream as they read, or answer 400.
	resp, err = ts.Client().Get(ts.URL + "/files?path=/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Name:") {
		t.Fatalf("download of /proc/self/status: %d %q", resp.StatusCode, b)
	}
	wantError(t, ts, "GET", "/files?path=/proc/self/mem", nil, 400, api.CodeInvalidArgument, "cannot be read")
	wantError(t, ts, "GET", "/files?path="+url.QueryEscape(dir+"/missing"), nil, 404, api.CodeFileNotFound, "missing")
	wantError(t, ts, "PUT", "/files?path=/tmp/x&mode=999", nil, 400, api.CodeInvalidArgument, "mode")
	wantError(t, ts, "GET", "/files?path=/..", nil, 400, api.CodeInvalidArgument, "path")
}

func TestMultipartUpload(t *testing.T) {
	ts := newTestAgent(t)
	dir := t.TempDir()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, content := range map[string]string{"a.txt": "A", "b.txt": "BB"} {
		w, _ := mw.CreateFormFile("file", name)
		w.Write([]byte(content))
	}
	mw.WriteField("note", "not a file")
	mw.Close()
	resp, err := ts.Client().Post(ts.URL+"/files/upload?path="+url.QueryEscape(dir), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for name, want := range map[string]string{"a.txt": "A", "b.txt": "BB"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Fatalf("%s = %q", name, b)
		}
	}
}

func TestFileOperations(t *testing.T) {
	ts := newTestAgent(t)
	dir := t.TempDir()
	var fi api.FileInfo
	if call(t, ts, "POST", "/files/mkdir", api.MkdirRequest{Path: dir + "/a/b", Mode: "0700"}, &fi); fi.Type != "dir" || fi.Mode != "0700" {
		t.Fatalf("mkdir: %+v", fi)
	}
	os.WriteFile(dir+"/a/x.go", []byte("package x"), 0o644)
	os.Symlink("/etc/passwd", dir+"/a/link")
	if call(t, ts, "GET", "/files/stat?path="+url.QueryEscape(dir+"/a/link"), nil, &fi); fi.Type != "symlink" || fi.LinkTarget != "/etc/passwd" {
		t.Fatalf("stat link: %+v", fi)
	}
	var list api.FileList
	call(t, ts, "GET", "/files/list?path="+url.QueryEscape(dir)+"&depth=2", nil, &list)
	var names []string
	for _, f := range list.Items {
		names = append(names, strings.TrimPrefix(f.Path, dir))
	}
	if strings.Join(names, " ") != "/a /a/b /a/link /a/x.go" {
		t.Fatalf("list = %v", names)
	}
	call(t, ts, "GET", "/files/search?path="+url.QueryEscape(dir)+"&pattern=*.go", nil, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "x.go" {
		t.Fatalf("search = %+v", list.Items)
	}
	wantError(t, ts, "GET", "/files/search?path=/tmp&pattern=[", nil, 400, api.CodeInvalidArgument, "pattern")
	if call(t, ts, "POST", "/files/chmod", api.ChmodRequest{Path: dir + "/a/x.go", Mode: "4755"}, &fi); fi.Mode != "4755" {
		t.Fatalf("chmod: %+v", fi)
	}
	if call(t, ts, "POST", "/files/move", api.MoveRequest{From: dir + "/a/x.go", To: dir + "/y/z.go"}, &fi); fi.Path != dir+"/y/z.go" {
		t.Fatalf("move: %+v", fi)
	}
	os.WriteFile(dir+"/a/x.go", nil, 0o644)
	wantError(t, ts, "POST", "/files/move", api.MoveRequest{From: dir + "/a/x.go", To: dir + "/y/z.go"}, 409, api.CodeAlreadyExists, "overwrite")
	wantError(t, ts, "DELETE", "/files?path="+url.QueryEscape(dir+"/a"), nil, 409, api.CodeAlreadyExists, "")
	wantError(t, ts, "DELETE", "/files?path=/", nil, 400, api.CodeInvalidArgument, "root")
	// Moving the root was a 500 (EBUSY from rename): a 400 naming the field.
	wantError(t, ts, "POST", "/files/move", api.MoveRequest{From: "/", To: dir + "/root"}, 400, api.CodeInvalidArgument, "from: the sandbox root cannot be moved")
	wantError(t, ts, "POST", "/files/move", api.MoveRequest{From: "/..//./", To: dir + "/root"}, 400, api.CodeInvalidArgument, "from")
	wantError(t, ts, "POST", "/files/move", api.MoveRequest{From: dir + "/y/z.go", To: "/", Overwrite: true}, 400, api.CodeInvalidArgument, "to: the sandbox root")
	if status := call(t, ts, "DELETE", "/files?recursive=true&path="+url.QueryEscape(dir+"/a"), nil, nil); status != 204 {
		t.Fatalf("remove: %d", status)
	}
	if _, err := os.Stat(dir + "/a"); !os.IsNotExist(err) {
		t.Fatalf("still there: %v", err)
	}
}

package agent

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

func TestArchiveRoundTrip(t *testing.T) {
	ts := newTestAgent(t)
	src := filepath.Join(t.TempDir(), "proj")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "f.txt"), []byte("hello"), 0o600)
	os.Symlink("/etc/hostname", filepath.Join(src, "link"))
	old := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "sub", "f.txt"), old, old)

	resp, err := ts.Client().Get(ts.URL + "/files/archive?name=copy&path=" + url.QueryEscape(src))
	if err != nil {
		t.Fatal(err)
	}
	tarball, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-tar" {
		t.Fatalf("download: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
	}
	if strings.Join(names, " ") != "copy/ copy/link copy/sub/ copy/sub/f.txt" {
		t.Fatalf("entries = %v", names)
	}

	dst := filepath.Join(t.TempDir(), "new", "dir")
	req, _ := http.NewRequest("PUT", ts.URL+"/files/archive?path="+url.QueryEscape(dst), bytes.NewReader(tarball))
	resp, err = ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var fi api.FileInfo
	json.NewDecoder(resp.Body).Decode(&fi)
	resp.Body.Close()
	if resp.StatusCode != 200 || fi.Path != dst || fi.Type != "dir" {
		t.Fatalf("upload: %d %+v", resp.StatusCode, fi)
	}
	st, err := os.Stat(filepath.Join(dst, "copy", "sub", "f.txt"))
	if err != nil || st.Mode().Perm() != 0o600 || !st.ModTime().Equal(old) {
		t.Fatalf("unpacked file: %v %v", st, err)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "copy", "link")); l != "/etc/hostname" {
		t.Fatalf("link = %q", l)
	}
}

func TestArchiveBadInput(t *testing.T) {
	ts := newTestAgent(t)
	dir := t.TempDir()
	wantError(t, ts, "GET", "/files/archive?path="+url.QueryEscape(dir+"/missing"), nil, 404, api.CodeFileNotFound, "missing")
	wantError(t, ts, "GET", "/files/archive?path="+url.QueryEscape(dir)+"&name=a/b", nil, 400, api.CodeInvalidArgument, "name")
	wantError(t, ts, "GET", "/files/archive", nil, 400, api.CodeInvalidArgument, "path")
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	wantRawError(t, ts, "/files/archive?path="+url.QueryEscape(dir+"/file"), tarOf(t, "a", "x"), 400, "path")
	// A stream that climbs out, or writes through a symlink the sandbox
	// already has, is refused as bad input naming the body.
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(dir, "planted"))
	wantRawError(t, ts, "/files/archive?path="+url.QueryEscape(dir), tarOf(t, "../escape", "x"), 400, "body")
	wantRawError(t, ts, "/files/archive?path="+url.QueryEscape(dir), tarOf(t, "planted/escape", "x"), 400, "body")
	wantRawError(t, ts, "/files/archive?path="+url.QueryEscape(dir), strings.Repeat("not a tar ", 100), 400, "body")
	if left, _ := os.ReadDir(outside); len(left) > 0 {
		t.Fatalf("written through the symlink: %v", left)
	}
}

func tarOf(t *testing.T, name, body string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	return buf.String()
}

func wantRawError(t *testing.T, ts *httptest.Server, path, body string, status int, mention string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", ts.URL+path, strings.NewReader(body))
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.ErrorBody
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != status || !strings.HasPrefix(e.Error.Message, mention+":") {
		t.Fatalf("PUT %s: %d %q, want %d naming %s", path, resp.StatusCode, e.Error.Message, status, mention)
	}
}

package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/agent"
)

// agentFront serves the real agent's routes under /v1/sandboxes/{id}, as
// the server does, on this host's files.
func agentFront(t *testing.T) string {
	t.Helper()
	a := agent.NewServer(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/v1/sandboxes/sb_1")
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		a.ServeHTTP(w, r2)
	}))
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return srv.URL
}

func runAt(url string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), append([]string{"--url", url, "--api-key", "hk_test"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestCpDirectoriesBothWays copies a tree into the "sandbox" and back:
// modes, times and symlinks survive, a copy to a new name takes it, and
// --progress reports the totals when stderr is not a terminal.
func TestCpDirectoriesBothWays(t *testing.T) {
	url := agentFront(t)
	src := filepath.Join(t.TempDir(), "proj")
	os.MkdirAll(filepath.Join(src, "bin"), 0o755)
	os.WriteFile(filepath.Join(src, "bin", "run"), []byte("#!/bin/sh\n"), 0o750)
	os.Symlink("bin/run", filepath.Join(src, "start"))
	old := time.Date(2022, 3, 4, 5, 6, 7, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "bin", "run"), old, old)

	remote := t.TempDir() // the sandbox's side
	if code, _, errOut := runAt(url, "cp", "--progress", src, "sb_1:"+remote); code != 0 || !strings.Contains(errOut, "copied 4 entries") {
		t.Fatalf("cp up: %d %q", code, errOut)
	}
	check := func(top string) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(top, "bin", "run"))
		if err != nil || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(old) {
			t.Fatalf("%s/bin/run: %v %v", top, fi, err)
		}
		if l, err := os.Readlink(filepath.Join(top, "start")); err != nil || l != "bin/run" {
			t.Fatalf("%s/start: %q %v, want the symlink kept", top, l, err)
		}
	}
	check(filepath.Join(remote, "proj"))

	local := t.TempDir()
	if code, _, errOut := runAt(url, "cp", "sb_1:"+filepath.Join(remote, "proj"), filepath.Join(local, "renamed")); code != 0 {
		t.Fatalf("cp down to a new name: %d %q", code, errOut)
	}
	check(filepath.Join(local, "renamed"))
	if code, _, errOut := runAt(url, "cp", "sb_1:"+filepath.Join(remote, "proj"), local); code != 0 {
		t.Fatalf("cp down into a directory: %d %q", code, errOut)
	}
	check(filepath.Join(local, "proj"))
	// One file, to a file name, keeps its mode and time too.
	if code, _, errOut := runAt(url, "cp", "sb_1:"+filepath.Join(remote, "proj", "bin", "run"), filepath.Join(local, "one")); code != 0 {
		t.Fatalf("cp down one file: %d %q", code, errOut)
	}
	if fi, err := os.Stat(filepath.Join(local, "one")); err != nil || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(old) {
		t.Fatalf("one: %v %v", fi, err)
	}
	if code, _, errOut := runAt(url, "cp", "sb_1:"+filepath.Join(remote, "nope"), local); code != 1 || !strings.Contains(errOut, api.CodeFileNotFound) {
		t.Fatalf("cp of a missing path: %d %q", code, errOut)
	}
}

// hostileFront is a server whose sandbox sends the tar given for every
// download and says every path is a directory.
func hostileFront(t *testing.T, tarball []byte) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sandboxes/sb_1/files/stat", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.FileInfo{Name: "x", Path: r.URL.Query().Get("path"), Type: "dir"})
	})
	mux.HandleFunc("GET /v1/sandboxes/sb_1/files/archive", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		w.Write(tarball)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

type tarEntry struct {
	name, link string
	typ        byte
	mode       int64
}

func hostileTar(entries ...tarEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		body := ""
		if e.typ == tar.TypeReg {
			body = "pwned"
		}
		tw.WriteHeader(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	return buf.Bytes()
}

// TestCpNeverWritesOutsideTheTarget: whatever a sandbox sends, hutch cp
// writes only below the copy it was asked for: no "..", no absolute
// names, no symlink followed onto the host, no setuid file.
func TestCpNeverWritesOutsideTheTarget(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries func(outside string) []tarEntry
		refused bool
	}{
		{"dotdot", func(string) []tarEntry {
			return []tarEntry{{name: "x/../../escape", typ: tar.TypeReg, mode: 0o644}}
		}, true},
		{"absolute", func(outside string) []tarEntry {
			return []tarEntry{{name: outside + "/escape", typ: tar.TypeReg, mode: 0o644}}
		}, true},
		{"symlink then write through it", func(outside string) []tarEntry {
			return []tarEntry{
				{name: "x/", typ: tar.TypeDir, mode: 0o755},
				{name: "x/link", link: outside, typ: tar.TypeSymlink},
				{name: "x/link/escape", typ: tar.TypeReg, mode: 0o644},
			}
		}, true},
		{"relative symlink out", func(string) []tarEntry {
			return []tarEntry{
				{name: "x/link", link: "../../../../../../../../../..", typ: tar.TypeSymlink},
				{name: "x/link/escape", typ: tar.TypeReg, mode: 0o644},
			}
		}, true},
		{"hard link to a host file", func(outside string) []tarEntry {
			return []tarEntry{{name: "x/hl", link: "../../secret", typ: tar.TypeLink}}
		}, true},
		{"another top name", func(string) []tarEntry {
			return []tarEntry{{name: "other/escape", typ: tar.TypeReg, mode: 0o644}}
		}, false},
		{"setuid", func(string) []tarEntry {
			return []tarEntry{{name: "x/suid", typ: tar.TypeReg, mode: 0o4755}}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			target := filepath.Join(base, "work", "target")
			os.MkdirAll(outside, 0o755)
			os.MkdirAll(target, 0o755)
			os.WriteFile(filepath.Join(base, "secret"), []byte("s"), 0o600)
			url := hostileFront(t, hostileTar(tc.entries(outside)...))
			code, _, errOut := runAt(url, "cp", "sb_1:/x", target)
			if tc.refused && (code != 1 || !strings.Contains(errOut, "bad archive")) {
				t.Errorf("cp = %d %q, want it refused as a bad archive", code, errOut)
			}
			if !tc.refused && code != 0 {
				t.Errorf("cp = %d %q", code, errOut)
			}
			if left, _ := os.ReadDir(outside); len(left) > 0 {
				t.Errorf("wrote outside the target: %v", left)
			}
			for _, p := range []string{filepath.Join(base, "escape"), filepath.Join(base, "work", "escape"), filepath.Join(target, "other")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("wrote %s", p)
				}
			}
			filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					if fi, _ := d.Info(); fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
						t.Errorf("%s kept its setuid or setgid bit on the host", p)
					}
				}
				return nil
			})
		})
	}
}

// TestCopyProgressLine: on a terminal the line appears once a copy is
// large and is rewritten in place; elsewhere only with --progress.
func TestCopyProgressLine(t *testing.T) {
	var tty bytes.Buffer
	p := &copyProgress{w: &tty, tty: true}
	p.update(3, 1<<20)
	if tty.Len() != 0 {
		t.Fatalf("a small copy showed progress: %q", tty.String())
	}
	p.update(40, 9<<20)
	p.finish(nil)
	if got := tty.String(); got != "\r\x1b[Kcopying: 40 entries, 9.0 MiB\r\x1b[Kcopied 40 entries, 9.0 MiB\n" {
		t.Fatalf("terminal progress = %q", got)
	}
	var plain bytes.Buffer
	p = &copyProgress{w: &plain}
	p.update(40, 200<<20)
	p.finish(nil)
	if plain.Len() != 0 {
		t.Fatalf("progress without a terminal or --progress: %q", plain.String())
	}
	p = &copyProgress{w: &plain, forced: true}
	p.update(40, 200<<20)
	p.finish(nil)
	if got := plain.String(); got != "copying: 40 entries, 200.0 MiB\ncopied 40 entries, 200.0 MiB\n" {
		t.Fatalf("--progress = %q", got)
	}
}

package image

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, remote, local string }{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"base", "docker.io/library/base:latest", "base:latest"},
		{"team/tool:v2", "docker.io/team/tool:v2", "team/tool:v2"},
		{"docker.io/library/python:3.12", "docker.io/library/python:3.12", ""},
		{"index.docker.io/library/alpine", "docker.io/library/alpine:latest", ""},
		{"ghcr.io/org/img", "ghcr.io/org/img:latest", ""},
		{"localhost/img", "localhost/img:latest", ""},
		{"127.0.0.1:5000/img:t", "127.0.0.1:5000/img:t", ""},
		{"busybox@sha256:" + strings.Repeat("a", 64), "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64), "busybox@sha256:" + strings.Repeat("a", 64)},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := Normalize(c.in)
			if err != nil || got != c.remote {
				t.Errorf("Normalize = %q, %v; want %q", got, err, c.remote)
			}
			local, err := localKey(c.in)
			if err != nil || local != c.local {
				t.Errorf("localKey = %q, %v; want %q", local, err, c.local)
			}
		})
	}
	for _, bad := range []string{"Bad Ref", "../../etc/passwd", "./img", "a..b/img", "-x.io/img", "host.io:0/img", "host.io:99999/img", "UPPER/Case:tag"} {
		if _, err := Normalize(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Normalize(%q) accepted: %v", bad, err)
		}
	}
}

func TestRemoveCollectsUnsharedLayers(t *testing.T) {
	reg := startRegistry(t, nil)
	shared := layerOf(t, file("shared", "s"))
	reg.push(t, "a:v1", imageOf(t, "amd64", shared, layerOf(t, file("only-a", "a"))))
	reg.push(t, "b:v1", imageOf(t, "amd64", shared, layerOf(t, file("only-b", "b"))))
	s := newStore(t)
	a, err := s.Pull(bg(), reg.ref("a:v1"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Pull(bg(), reg.ref("b:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Layers[0] != b.Layers[0] {
		t.Fatalf("shared layer unpacked twice: %s, %s", a.Layers[0], b.Layers[0])
	}
	if list, err := s.List(bg()); err != nil || len(list) != 2 || list[0].Ref != a.Ref {
		t.Fatalf("List = %+v, %v", list, err)
	}

	if err := s.Remove(bg(), a.Ref); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Layers[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a's own layer survived: %v", err)
	}
	if _, err := os.Stat(a.Layers[0]); err != nil {
		t.Errorf("the shared layer went with a: %v", err)
	}
	if _, err := s.Resolve(bg(), a.Ref); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Resolve after Remove: %v", err)
	}
	if err := s.Remove(bg(), a.Ref); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), a.Ref) {
		t.Errorf("second Remove: %v, want ErrNotFound naming the image", err)
	}

	if got, err := s.Resolve(bg(), b.Digest); err != nil || got.Ref != b.Ref {
		t.Errorf("Resolve by digest = %+v, %v", got, err)
	}
	if err := s.Remove(bg(), b.Digest); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"layers", "blobs/sha256", "tmp"} {
		if names, err := readDirNames(filepath.Join(s.Dir(), sub)); err != nil || len(names) != 0 {
			t.Errorf("%s after removing every image: %v (%v)", sub, names, err)
		}
	}
}

func TestReopenKeepsImagesAndLocks(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	path := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(path, tarBytes(t, file("etc/hostname", "h\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := s.ImportRootfs(bg(), path, "base", Config{})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := Open(dir); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("second Open of a dir in use: %v, want ErrUnavailable", err)
	}
	// Debris a crash could leave: a half-unpacked layer and a layer dir
	// no index entry knows.
	if err := os.MkdirAll(filepath.Join(dir, "tmp", "layer-123", "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(dir, "layers", strings.Repeat("f", 64))
	if err := os.MkdirAll(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	got, err := s2.Resolve(bg(), "base")
	if err != nil || got.Digest != img.Digest || got.Layers[0] != img.Layers[0] {
		t.Errorf("after reopen Resolve = %+v, %v", got, err)
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Error("a layer dir unknown to the index survived Open")
	}
	assertNoTmp(t, s2)
}

// TestUnpackRefusesEscapes: a layer or an OCI layout archive whose entry
// names leave the dir, or reach out of it through a link, is refused as
// invalid input, and nothing is written outside the dir.
func TestUnpackRefusesEscapes(t *testing.T) {
	unpackers := map[string]func(t *testing.T, dst string, archive []byte) error{
		"layer": func(_ *testing.T, dst string, archive []byte) error {
			_, err := unpackTar(bg(), dst, bytesReader(archive))
			return err
		},
		"layout": func(t *testing.T, dst string, archive []byte) error {
			file := filepath.Join(t.TempDir(), "layout.tar")
			if err := os.WriteFile(file, archive, 0o644); err != nil {
				t.Fatal(err)
			}
			return extractLayout(bg(), file, dst)
		},
	}
	cases := []struct {
		name    string
		entries []entry
	}{
		{"dot-dot", []entry{file("../escape", "x")}},
		{"nested dot-dot", []entry{dir("a/"), file("a/../../escape", "x")}},
		{"absolute", []entry{file("/escape", "x")}},
		{"absolute symlink parent", []entry{symlink("lnk", "/"), file("lnk/escape", "x")}},
		{"relative symlink parent", []entry{dir("a/"), symlink("a/lnk", "../.."), file("a/lnk/escape", "x")}},
		{"hardlink outside", []entry{{name: "hl", link: "../escape", typ: tar.TypeLink}}},
		{"whiteout outside", []entry{file("../.wh.escape", "")}},
	}
	for kind, unpack := range unpackers {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				base := t.TempDir()
				dst := filepath.Join(base, "layer")
				if err := os.Mkdir(dst, 0o755); err != nil {
					t.Fatal(err)
				}
				err := unpack(t, dst, tarBytes(t, c.entries...))
				if err == nil {
					t.Fatal("unpacked without error")
				}
				if names, _ := readDirNames(base); len(names) != 1 {
					t.Errorf("wrote outside the dir: %v", names)
				}
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("err = %v, want ErrInvalidArgument", err)
				}
			})
		}
	}
}

func TestUnpackSymlinkParentInsideLayer(t *testing.T) {
	requireRoot(t)
	dst := t.TempDir()
	_, err := unpackTar(bg(), dst, bytesReader(tarBytes(t,
		dir("usr/"), dir("usr/lib/"), symlink("lib", "usr/lib"), file("lib/x", "x"))))
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dst, "usr/lib/x")); got != "x" {
		t.Errorf("usr/lib/x = %q", got)
	}
}

package tarcopy

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tree makes a small tree with every kind of entry a copy keeps.
func tree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "proj")
	must(t, os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "sub", "deep", "data.txt"), []byte("data"), 0o640))
	must(t, os.Symlink("sub/deep/data.txt", filepath.Join(src, "link")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(src, "abs")))
	must(t, os.Chmod(filepath.Join(src, "sub"), 0o750))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(src, "run.sh"), old, old))
	must(t, os.Chtimes(filepath.Join(src, "sub"), old, old))
	return src
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	src := tree(t)
	var buf bytes.Buffer
	st, err := Pack(context.Background(), &buf, src, PackOptions{})
	must(t, err)
	if st.Entries != 7 || st.Bytes != int64(len("#!/bin/sh\necho hi\n")+len("data")) {
		t.Fatalf("pack stats = %+v", st)
	}
	for _, tc := range []struct{ rename, top string }{{"", "proj"}, {"copy", "copy"}} {
		dst := t.TempDir()
		if _, err := Unpack(context.Background(), dst, bytes.NewReader(buf.Bytes()), UnpackOptions{Rename: tc.rename}); err != nil {
			t.Fatal(err)
		}
		top := filepath.Join(dst, tc.top)
		fi, err := os.Stat(filepath.Join(top, "run.sh"))
		must(t, err)
		if fi.Mode().Perm() != 0o755 || !fi.ModTime().Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("run.sh: mode %v mtime %v", fi.Mode(), fi.ModTime())
		}
		fi, err = os.Stat(filepath.Join(top, "sub"))
		must(t, err)
		if fi.Mode().Perm() != 0o750 || fi.ModTime().Year() != 2020 {
			t.Errorf("sub: mode %v mtime %v (a directory's mode and time are set after its entries)", fi.Mode(), fi.ModTime())
		}
		for link, want := range map[string]string{"link": "sub/deep/data.txt", "abs": "/etc/passwd"} {
			got, err := os.Readlink(filepath.Join(top, link))
			if err != nil || got != want {
				t.Errorf("%s: readlink = %q, %v; want the symlink %q kept as a symlink", link, got, err, want)
			}
		}
		b, err := os.ReadFile(filepath.Join(top, "link"))
		if err != nil || string(b) != "data" {
			t.Errorf("link reads %q, %v", b, err)
		}
	}
}

func TestPackFileAndSymlink(t *testing.T) {
	src := tree(t)
	var buf bytes.Buffer
	_, err := Pack(context.Background(), &buf, filepath.Join(src, "abs"), PackOptions{Name: "renamed"})
	must(t, err)
	hdr, err := tar.NewReader(&buf).Next()
	must(t, err)
	if hdr.Name != "renamed" || hdr.Typeflag != tar.TypeSymlink || hdr.Linkname != "/etc/passwd" {
		t.Fatalf("header = %q type %c link %q; want the symlink itself, not what it points at", hdr.Name, hdr.Typeflag, hdr.Linkname)
	}
}

// entry is one tar header for the hostile streams below.
type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func stream(t *testing.T, entries ...entry) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		must(t, tw.WriteHeader(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body)), ModTime: time.Now()}))
		if e.body != "" {
			_, err := tw.Write([]byte(e.body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return bytes.NewReader(buf.Bytes())
}

// TestUnpackStaysInside: no entry writes outside the target, whatever its
// name or the symlinks the stream or the target hold.
func TestUnpackStaysInside(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		setup   func(dst, outside string)
	}{
		{"dotdot", []entry{{name: "../victim", body: "x", typ: tar.TypeReg}}, nil},
		{"dotdot inside", []entry{{name: "a/../../victim", body: "x", typ: tar.TypeReg}}, nil},
		{"absolute", []entry{{name: "/OUTSIDE/victim", body: "x", typ: tar.TypeReg}}, nil},
		{"through own symlink", []entry{
			{name: "esc", link: "OUTSIDE", typ: tar.TypeSymlink},
			{name: "esc/victim", body: "x", typ: tar.TypeReg},
		}, nil},
		{"through relative symlink", []entry{
			{name: "esc", link: "../../../../../../../../OUTSIDE", typ: tar.TypeSymlink},
			{name: "esc/victim", body: "x", typ: tar.TypeReg},
		}, nil},
		{"through the target's symlink", []entry{{name: "planted/victim", body: "x", typ: tar.TypeReg}},
			func(dst, outside string) { os.Symlink(outside, filepath.Join(dst, "planted")) }},
		{"hard link out", []entry{{name: "hl", link: "../victim", typ: tar.TypeLink}}, nil},
		{"hard link to absolute", []entry{{name: "hl", link: "/OUTSIDE/victim", typ: tar.TypeLink}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			dst := filepath.Join(base, "a", "b", "dst")
			must(t, os.MkdirAll(outside, 0o755))
			must(t, os.MkdirAll(dst, 0o755))
			for i := range tc.entries {
				if tc.entries[i].link == "OUTSIDE" {
					tc.entries[i].link = outside
				}
				tc.entries[i].name = replaceOutside(tc.entries[i].name, outside)
				tc.entries[i].link = replaceOutside(tc.entries[i].link, outside)
			}
			if tc.setup != nil {
				tc.setup(dst, outside)
			}
			_, err := Unpack(context.Background(), dst, stream(t, tc.entries...), UnpackOptions{})
			if !errors.Is(err, ErrBadArchive) {
				t.Errorf("Unpack = %v, want ErrBadArchive", err)
			}
			left, _ := os.ReadDir(outside)
			if len(left) > 0 {
				t.Errorf("wrote outside the target: %v", left)
			}
			if _, err := os.Lstat(filepath.Join(base, "a", "b", "victim")); err == nil {
				t.Error("wrote beside the target")
			}
		})
	}
}

func replaceOutside(s, outside string) string {
	if len(s) >= 8 && s[:8] == "/OUTSIDE" {
		return outside + s[8:]
	}
	return s
}

func TestUnpackDropsSetuidUnlessAsked(t *testing.T) {
	for _, keep := range []bool{false, true} {
		dst := t.TempDir()
		_, err := Unpack(context.Background(), dst, stream(t, entry{name: "suid", body: "x", typ: tar.TypeReg, mode: 0o4755}), UnpackOptions{SpecialBits: keep})
		must(t, err)
		fi, err := os.Stat(filepath.Join(dst, "suid"))
		must(t, err)
		if got := fi.Mode()&fs.ModeSetuid != 0; got != keep {
			t.Errorf("SpecialBits %v: setuid kept = %v", keep, got)
		}
	}
}

func TestUnpackReplacesAndMerges(t *testing.T) {
	dst := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dst, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(dst, "d", "keep"), []byte("k"), 0o644))
	must(t, os.WriteFile(filepath.Join(dst, "d", "f"), []byte("old"), 0o644))
	_, err := Unpack(context.Background(), dst, stream(t,
		entry{name: "d/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "d/f", body: "new", typ: tar.TypeReg}), UnpackOptions{})
	must(t, err)
	if b, _ := os.ReadFile(filepath.Join(dst, "d", "f")); string(b) != "new" {
		t.Errorf("d/f = %q, want replaced", b)
	}
	if _, err := os.Stat(filepath.Join(dst, "d", "keep")); err != nil {
		t.Errorf("d/keep: %v; the directories merge", err)
	}
	_, err = Unpack(context.Background(), dst, stream(t, entry{name: "d", body: "x", typ: tar.TypeReg}), UnpackOptions{})
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("a file over a directory: %v, want ErrExist", err)
	}
}

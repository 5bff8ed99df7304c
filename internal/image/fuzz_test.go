package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// tarSeeds are tar streams of the shapes a hostile layer or archive takes.
func tarSeeds(f *testing.F) [][]byte {
	h := func(entries ...*tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range entries {
			if e.Typeflag == 0 {
				e.Typeflag = tar.TypeReg
			}
			if e.Mode == 0 {
				e.Mode = 0o644
			}
			_ = tw.WriteHeader(e)
			if e.Typeflag == tar.TypeReg && e.Size > 0 {
				tw.Write(bytes.Repeat([]byte("x"), int(e.Size)))
			}
		}
		tw.Close()
		return buf.Bytes()
	}
	return [][]byte{
		h(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, &tar.Header{Name: "etc/hosts", Size: 3}),
		h(&tar.Header{Name: "../escape", Size: 1}),
		h(&tar.Header{Name: "/abs", Size: 1}),
		h(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/"}, &tar.Header{Name: "link/etc/x", Size: 1}),
		h(&tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../.."}, &tar.Header{Name: "up/x", Size: 1}),
		h(&tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}),
		h(&tar.Header{Name: "a/.wh..wh..opq"}, &tar.Header{Name: "a/.wh.b"}, &tar.Header{Name: ".wh..."}),
		h(&tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}),
		h(&tar.Header{Name: "x", Size: 1}, &tar.Header{Name: "x", Typeflag: tar.TypeDir}, &tar.Header{Name: "x/y", Size: 1}),
		h(&tar.Header{Name: "manifest.json", Size: 2}),
		h(&tar.Header{Name: "oci-layout", Size: 2}, &tar.Header{Name: "index.json", Size: 2}),
		[]byte("\x1f\x8b\x08\x00garbage"),
		[]byte("\x28\xb5\x2f\xfd\x00garbage"),
		bytes.Repeat([]byte{0}, 1024),
		[]byte(strings.Repeat("a", 600)),
	}
}

// FuzzUnpackTar: whatever the tar stream, unpacking it writes only inside
// its dir (no entry, link or symlink leads out), and never panics. Its
// corpus found that a path thousands of directories deep took minutes.
// Fuzz it with -fuzzminimizetime=2s: each run touches the file system,
// and the default minute of minimizing every new input stalls the engine.
func FuzzUnpackTar(f *testing.F) {
	for _, b := range tarSeeds(f) {
		f.Add(b)
	}
	parent := f.TempDir()
	dir := filepath.Join(parent, "layer")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		_, _ = unpackTar(context.Background(), dir, bytes.NewReader(b))
		if others, _ := os.ReadDir(parent); len(others) != 1 {
			t.Fatalf("unpacking %q wrote beside its dir: %v", b, others)
		}
	})
}

// FuzzImport: an uploaded image archive is imported or refused with a
// client error (4xx), whatever its bytes; the store keeps no half-written
// layer and no spooled copy.
func FuzzImport(f *testing.F) {
	for _, b := range tarSeeds(f) {
		f.Add(b, "")
	}
	f.Add(tarBytes(f, file("manifest.json", `[{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l.tar"]}]`), file("c.json", `{}`)), "")
	f.Add(tarBytes(f, file("oci-layout", `{"imageLayoutVersion": "1.0.0"}`), file("index.json", `{"schemaVersion": 2, "manifests": [{"digest": "sha256:00", "size": -1}]}`)), "named")
	dir := f.TempDir()
	st, err := Open(filepath.Join(dir, "store"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		var opts []ImportOption
		if name != "" {
			opts = append(opts, WithName(name))
		}
		_, err := st.Import(context.Background(), bytes.NewReader(b), opts...)
		if err != nil && !clientError(err) {
			t.Fatalf("Import(%q): %v, want a client error (4xx class)", b, err)
		}
		if tmp, _ := os.ReadDir(st.tmpDir()); len(tmp) != 0 {
			t.Fatalf("Import(%q) left %v in tmp", b, tmp)
		}
	})
}

// FuzzRef: image references normalise or are refused, and a normalised
// one normalises to itself.
func FuzzRef(f *testing.F) {
	for _, r := range []string{"base", "python:3.12", "ghcr.io/x/y@sha256:" + strings.Repeat("a", 64), "localhost:5000/x", "..:1/x",
		"UPPER/case", "a//b", "x:99999999999999999999", "-x", "x@sha256:zz", "\x00", " busybox ", "a:b:c"} {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		n, err := Normalize(ref)
		if err == nil {
			if again, err := Normalize(n); err != nil || again != n {
				t.Fatalf("Normalize(%q) = %q, which normalises to %q, %v", ref, n, again, err)
			}
		}
		_, _ = Key(ref)
		_, _ = lookupKeys(ref)
	})
}

// clientError reports an error of a class every transport answers 4xx.
func clientError(err error) bool {
	for _, c := range []error{errdefs.ErrInvalidArgument, errdefs.ErrNotFound, errdefs.ErrAlreadyExists,
		errdefs.ErrConflict, errdefs.ErrForbidden} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

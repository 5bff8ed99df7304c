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
)

// FuzzUnpack: whatever the stream, Unpack writes nothing outside its
// target and fails, if it fails, with a class a caller can answer (a bad
// archive, or a conflict with what is there), never a panic.
func FuzzUnpack(f *testing.F) {
	seed := func(entries ...*tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range entries {
			tw.WriteHeader(h)
			if h.Size > 0 {
				tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
			}
		}
		tw.Close()
		return buf.Bytes()
	}
	f.Add(seed(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, &tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}))
	f.Add(seed(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../.."}, &tar.Header{Name: "l/x", Typeflag: tar.TypeReg, Size: 1}))
	f.Add(seed(&tar.Header{Name: "../x", Typeflag: tar.TypeReg, Size: 1}))
	f.Add(seed(&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dst := filepath.Join(base, "dst")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, rename := range []string{"", "top"} {
			_, err := Unpack(context.Background(), dst, bytes.NewReader(data), UnpackOptions{Rename: rename})
			if err != nil && !errors.Is(err, ErrBadArchive) && !errors.Is(err, fs.ErrExist) {
				t.Fatalf("Unpack = %v, want nil, ErrBadArchive or ErrExist", err)
			}
		}
		entries, _ := os.ReadDir(base)
		if len(entries) != 1 {
			t.Fatalf("wrote beside the target: %v", entries)
		}
	})
}

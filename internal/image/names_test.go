package image

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// TestExtractLayoutRefusesEscapes: an OCI layout archive whose entry
// names leave the dir, or that holds a link, is refused as invalid
// input, and nothing is written outside the dir.
func TestExtractLayoutRefusesEscapes(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []entry
	}{
		{"dot-dot", []entry{file("../escape", "x")}},
		{"nested dot-dot", []entry{dir("blobs/"), file("blobs/../../escape", "x")}},
		{"absolute", []entry{file("/escape", "x")}},
		{"symlink out", []entry{symlink("blobs", "/"), file("blobs/escape", "x")}},
		{"hard link out", []entry{{name: "hl", link: "../escape", typ: tar.TypeLink}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "layout")
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(t.TempDir(), "layout.tar")
			if err := os.WriteFile(archive, tarBytes(t, c.entries...), 0o644); err != nil {
				t.Fatal(err)
			}
			err := extractLayout(bg(), archive, dst)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("extractLayout = %v, want ErrInvalidArgument", err)
			}
			if names, _ := readDirNames(base); len(names) != 1 {
				t.Errorf("wrote outside the layout dir: %v", names)
			}
			if _, err := os.Lstat("/escape"); err == nil {
				t.Error("wrote /escape")
			}
		})
	}
}

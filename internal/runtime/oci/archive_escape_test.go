package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// TestRestoreRefusesSymlinkEscapes feeds the archive restore (issue 19,
// point 7) streams whose symlinks lead out of the upper dir, as a
// tampered archive store would hold: each is refused as a bad archive,
// and nothing is written outside.
func TestRestoreRefusesSymlinkEscapes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("restoring owners needs root")
	}
	ids := idRange{Base: rangeFirst, Size: rangeSize}
	legacy := idRange{Base: DefaultUIDBase, Size: DefaultUIDSize}
	hdr := func(name string, typ byte, link string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Linkname: link, Mode: 0o644, Format: tar.FormatPAX}
	}
	for _, c := range []struct {
		name    string
		entries func(outside string) []*tar.Header
	}{
		{"file beneath an absolute symlink", func(outside string) []*tar.Header {
			return []*tar.Header{hdr("./", tar.TypeDir, ""), hdr("a", tar.TypeSymlink, outside), hdr("a/pwned", tar.TypeReg, "")}
		}},
		{"file beneath a relative symlink", func(string) []*tar.Header {
			return []*tar.Header{hdr("a", tar.TypeSymlink, "../../../../../../../../tmp"), hdr("a/pwned", tar.TypeReg, "")}
		}},
		{"dir beneath a symlink to a dir", func(outside string) []*tar.Header {
			return []*tar.Header{hdr("a", tar.TypeSymlink, outside), hdr("a/sub/", tar.TypeDir, "")}
		}},
		{"symlinked dir reached through a nested dir", func(outside string) []*tar.Header {
			return []*tar.Header{hdr("d/", tar.TypeDir, ""), hdr("d/a", tar.TypeSymlink, outside), hdr("d/a/pwned", tar.TypeReg, "")}
		}},
		{"hard link to a file beneath a symlink", func(outside string) []*tar.Header {
			return []*tar.Header{hdr("a", tar.TypeSymlink, outside), hdr("h", tar.TypeLink, "a/secret")}
		}},
		{"dotdot name", func(string) []*tar.Header {
			return []*tar.Header{hdr("../pwned", tar.TypeReg, "")}
		}},
		{"nested dotdot name", func(string) []*tar.Header {
			return []*tar.Header{hdr("d/", tar.TypeDir, ""), hdr("d/../../pwned", tar.TypeReg, "")}
		}},
		{"absolute name", func(outside string) []*tar.Header {
			return []*tar.Header{hdr(outside+"/pwned", tar.TypeReg, "")}
		}},
		{"hard link to an absolute name", func(outside string) []*tar.Header {
			return []*tar.Header{hdr("h", tar.TypeLink, outside+"/secret")}
		}},
		{"hard link climbing out", func(string) []*tar.Header {
			return []*tar.Header{hdr("d/", tar.TypeDir, ""), hdr("h", tar.TypeLink, "d/../../secret")}
		}},
		{"device node", func(string) []*tar.Header {
			h := hdr("mem", tar.TypeChar, "")
			h.Devmajor, h.Devminor = 1, 3
			return []*tar.Header{h}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			outside := t.TempDir()
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range c.entries(outside) {
				if err := tw.WriteHeader(h); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			upper := t.TempDir()
			err := readTree(context.Background(), tar.NewReader(&buf), upper, ids, legacy)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("restore = %v, want a refusal (ErrInvalidArgument)", err)
			}
			for _, p := range []string{filepath.Join(outside, "pwned"), filepath.Join(outside, "sub"), "/tmp/pwned", filepath.Join(filepath.Dir(upper), "pwned")} {
				if _, err := os.Lstat(p); err == nil {
					os.RemoveAll(p)
					t.Errorf("the restore wrote %s, outside the upper dir", p)
				}
			}
			if _, err := os.Lstat(filepath.Join(upper, "h")); err == nil {
				t.Errorf("a hard link to a file outside was made")
			}
		})
	}
}

// TestRestoreShiftsIDs: a stream written with the sandbox's own ids lands
// in the sandbox's range; one written before ranges (host ids of the
// shared mapping) too; ids from neither become the sandbox's nobody.
func TestRestoreShiftsIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("restoring owners needs root")
	}
	ids := idRange{Base: rangeFirst + 7*rangeSize, Size: rangeSize}
	legacy := idRange{Base: DefaultUIDBase, Size: DefaultUIDSize}
	build := func(global bool, uids ...int) *tar.Reader {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if global {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Format: tar.FormatPAX, PAXRecords: map[string]string{archiveIDs: "sandbox"}})
		}
		tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, Uid: uids[0], Gid: uids[0], Format: tar.FormatPAX})
		for i, u := range uids[1:] {
			tw.WriteHeader(&tar.Header{Name: "f" + strings.Repeat("x", i), Typeflag: tar.TypeReg, Mode: 0o4755, Uid: u, Gid: u, Format: tar.FormatPAX})
		}
		tw.Close()
		return tar.NewReader(&buf)
	}
	owner := func(t *testing.T, p string) (uint32, os.FileMode) {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Uid, fi.Mode()
	}
	t.Run("sandbox ids", func(t *testing.T) {
		upper := t.TempDir()
		if err := readTree(context.Background(), build(true, 0, 1000, 70000), upper, ids, legacy); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]uint32{".": ids.Base, "f": ids.Base + 1000, "fx": ids.Base + nobodyID} {
			if got, mode := owner(t, filepath.Join(upper, p)); got != want || (p != "." && mode&os.ModeSetuid == 0) {
				t.Errorf("%s owned by %d mode %v, want %d and setuid kept", p, got, mode, want)
			}
		}
	})
	t.Run("legacy host ids", func(t *testing.T) {
		upper := t.TempDir()
		if err := readTree(context.Background(), build(false, DefaultUIDBase, DefaultUIDBase+1000, 0), upper, ids, legacy); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]uint32{".": ids.Base, "f": ids.Base + 1000, "fx": ids.Base + nobodyID} {
			if got, _ := owner(t, filepath.Join(upper, p)); got != want {
				t.Errorf("%s owned by %d, want %d", p, got, want)
			}
		}
	})
}

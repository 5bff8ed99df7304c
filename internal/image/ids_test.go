package image

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// capDacReadSearchV2 is a v2 security.capability value granting
// CAP_DAC_READ_SEARCH (bit 2), effective: what `setcap
// cap_dac_read_search+ep` writes on the host.
func capDacReadSearchV2() []byte {
	b := make([]byte, capSize2)
	binary.LittleEndian.PutUint32(b, capRevision2|1)
	binary.LittleEndian.PutUint32(b[4:], 1<<2)
	return b
}

// privilegedLayer is the red team's layer (issue 23, point 1): a
// setuid-root copy of a shell, a setgid file, a file with a v2 file
// capability, a block device, /dev/mem's 1:3, a fifo and both whiteout
// forms.
func privilegedLayer(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.ModTime, h.Format, h.Size = testTime, tar.FormatPAX, int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "./bin/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "./bin/rootsh", Typeflag: tar.TypeReg, Mode: 0o4755}, "#!shell")
	add(&tar.Header{Name: "./bin/grp", Typeflag: tar.TypeReg, Mode: 0o2755, Gid: 42}, "grp")
	add(&tar.Header{Name: "./bin/capcat", Typeflag: tar.TypeReg, Mode: 0o755,
		PAXRecords: map[string]string{paxXattr + capXattr: string(capDacReadSearchV2())}}, "cat")
	add(&tar.Header{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "./dev/sda", Typeflag: tar.TypeBlock, Mode: 0o666, Devmajor: 8}, "")
	add(&tar.Header{Name: "./dev/mem", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}, "")
	add(&tar.Header{Name: "./dev/fifo", Typeflag: tar.TypeFifo, Mode: 0o666}, "")
	add(&tar.Header{Name: "./gone", Typeflag: tar.TypeChar, Mode: 0o000}, "") // an overlay whiteout as is
	add(&tar.Header{Name: "./.wh.gone2", Typeflag: tar.TypeReg, Mode: 0o600}, "")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// assertUnprivileged checks that nothing under dir grants anything on
// the host: no set-id file owned outside the storage range, no file
// capability that the host's root namespace honours, no device node but
// 0/0 whiteouts.
func assertUnprivileged(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(dir, p)
		if !inStorage(st.Uid) || !inStorage(st.Gid) {
			t.Errorf("%s is owned by %d:%d, outside the storage range", rel, st.Uid, st.Gid)
		}
		if fi.Mode()&fs.ModeSetuid != 0 && st.Uid == 0 {
			t.Errorf("%s is setuid host root", rel)
		}
		if fi.Mode()&fs.ModeDevice != 0 && (fi.Mode()&fs.ModeCharDevice == 0 || st.Rdev != 0) {
			t.Errorf("%s is a device node %v rdev %d", rel, fi.Mode(), st.Rdev)
		}
		caps, err := getXattr(p, capXattr)
		if err != nil {
			return err
		}
		if caps != nil {
			magic := binary.LittleEndian.Uint32(caps)
			if magic&capRevisionMask != capRevision3 || len(caps) != capSize3 ||
				binary.LittleEndian.Uint32(caps[capSize2:]) != StorageIDBase {
				t.Errorf("%s has capabilities %x, want v3 bound to the storage root", rel, caps)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// asNobody runs argv as uid/gid 65534 and reports whether it succeeded.
func asNobody(t *testing.T, argv ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestImportLeavesNothingPrivilegedOnHost imports the red team's layer
// and checks the host side: owners in the storage range, the setuid and
// setgid bits kept on them (the sandbox needs them), v3 capabilities, no
// device node but whiteouts, and a store no other host user can enter.
func TestImportLeavesNothingPrivilegedOnHost(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "evil.tar")
	if err := os.WriteFile(path, privilegedLayer(t), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	img, err := s.ImportRootfs(bg(), path, "evil", Config{})
	if err != nil {
		t.Fatal(err)
	}
	layer := img.Layers[0]
	assertUnprivileged(t, layer)

	fi, err := os.Lstat(filepath.Join(layer, "bin/rootsh"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode()&fs.ModeSetuid == 0 || st.Uid != StorageIDBase {
		t.Errorf("bin/rootsh: mode %v owner %d, want setuid and owned by the storage root %d", fi.Mode(), st.Uid, StorageIDBase)
	}
	if fi, err := os.Lstat(filepath.Join(layer, "bin/grp")); err != nil || fi.Mode()&fs.ModeSetgid == 0 ||
		fi.Sys().(*syscall.Stat_t).Gid != StorageIDBase+42 {
		t.Errorf("bin/grp: %v %v, want setgid, group storage+42", fi, err)
	}
	caps, err := getXattr(filepath.Join(layer, "bin/capcat"), capXattr)
	if err != nil || caps == nil || binary.LittleEndian.Uint32(caps[4:]) != 1<<2 {
		t.Errorf("bin/capcat capabilities %x, %v: want CAP_DAC_READ_SEARCH kept (as v3)", caps, err)
	}
	for _, gone := range []string{"dev/sda", "dev/mem"} {
		if _, err := os.Lstat(filepath.Join(layer, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is in the layer (%v)", gone, err)
		}
	}
	for _, w := range []string{"gone", "gone2"} {
		fi, err := os.Lstat(filepath.Join(layer, w))
		if err != nil || fi.Mode()&fs.ModeCharDevice == 0 || fi.Sys().(*syscall.Stat_t).Rdev != 0 {
			t.Errorf("whiteout %s: %v, %v", w, fi, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(layer, "dev/fifo")); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("dev/fifo: %v, %v", fi, err)
	}

	for _, d := range []string{s.Dir(), s.layersDir(), filepath.Join(s.Dir(), "blobs")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want 0700", d, fi.Mode(), err)
		}
	}
	// The store sits in a t.TempDir (0700 itself): open a way down to
	// it, as a 0711 data dir is, to see that the store alone stops nobody.
	for d := filepath.Dir(s.Dir()); d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			old := fi.Mode().Perm()
			if err := os.Chmod(d, old|0o001); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(d, old) })
		}
	}
	if out, ok := asNobody(t, "/bin/ls", filepath.Join(layer, "bin")); ok {
		t.Errorf("nobody listed the layer: %s", out)
	}
	if out, ok := asNobody(t, filepath.Join(layer, "bin/rootsh")); ok {
		t.Errorf("nobody ran the layer's setuid file: %s", out)
	}
}

// TestOpenMigratesVersion1 opens a store as layout version 1 left it
// (host-root setuid file, a v2 capability, a device node) and checks the
// layer is migrated in place, at the same path.
func TestOpenMigratesVersion1(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	layer := filepath.Join(dir, "layers", hex)
	if err := os.MkdirAll(filepath.Join(layer, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	su := filepath.Join(layer, "bin/su")
	if err := os.WriteFile(su, []byte("su"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(su, capXattr, capDacReadSearchV2(), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(su, 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(layer, "bin"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(layer, "mem"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(layer, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	idx := map[string]any{"version": 1, "images": map[string]any{}, "layers": map[string]any{hex: map[string]any{"size": 2}},
		"pins":   map[string][]string{"sb1": {"sha256:aa"}},
		"pinned": map[string]any{"sha256:aa": map[string]any{"ref": "x:latest", "digest": "sha256:aa", "layers": []string{"sha256:" + hex}}}}
	b, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	assertUnprivileged(t, layer)
	fi, err := os.Lstat(su)
	if err != nil || fi.Mode()&fs.ModeSetuid == 0 {
		t.Fatalf("bin/su after migration: %v, %v; want still setuid", fi, err)
	}
	if st, _ := os.Lstat(filepath.Join(layer, "bin")); st.Sys().(*syscall.Stat_t).Uid != StorageIDBase+1000 {
		t.Errorf("bin owner %d, want storage+1000", st.Sys().(*syscall.Stat_t).Uid)
	}
	if _, err := os.Lstat(filepath.Join(layer, "gone")); err != nil {
		t.Errorf("the whiteout went: %v", err)
	}
	if s.idx.Version != indexVersion {
		t.Errorf("index version %d, want %d", s.idx.Version, indexVersion)
	}
	// Idempotent: a second open (as after a crash mid-walk) changes nothing.
	s.Close()
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	assertUnprivileged(t, layer)
}

// TestOpenSharedEmptiesOldLayout: a shared cache without this layout's
// version loses its layers and seeds, which an older server unpacked.
func TestOpenSharedEmptiesOldLayout(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	old := filepath.Join(dir, "layers", "abc", "bin")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "seeds"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seeds", "k.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh, err := OpenShared(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{sh.layersDir(), sh.seedsDir()} {
		if names, err := readDirNames(d); err != nil || len(names) != 0 {
			t.Errorf("%s holds %v (%v) after an upgrade, want nothing", d, names, err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("shared cache mode %v, %v; want 0700", fi.Mode(), err)
	}
	// The same layout again keeps what it holds.
	keep := filepath.Join(sh.layersDir(), "keep")
	if err := os.Mkdir(keep, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(keep, storageID(0), storageID(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenShared(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a current cache lost a layer: %v", err)
	}
	// A layer owned by host root under the current version (written by a
	// build that did not shift ids yet) empties the cache too.
	if err := os.Mkdir(filepath.Join(sh.layersDir(), "unshifted"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenShared(dir); err != nil {
		t.Fatal(err)
	}
	if names, err := readDirNames(sh.layersDir()); err != nil || len(names) != 0 {
		t.Errorf("layers %v (%v) after finding an unshifted one, want none", names, err)
	}
}

func TestStoredCaps(t *testing.T) {
	v1 := make([]byte, capSize1)
	binary.LittleEndian.PutUint32(v1, capRevision1)
	binary.LittleEndian.PutUint32(v1[4:], 1<<2)
	v3 := make([]byte, capSize3)
	binary.LittleEndian.PutUint32(v3, capRevision3|1)
	binary.LittleEndian.PutUint32(v3[4:], 1<<2)
	binary.LittleEndian.PutUint32(v3[capSize2:], 1000)
	for _, c := range []struct {
		name  string
		in    []byte
		ok    bool
		flags uint32
		root  uint32
	}{
		{"v1", v1, true, 0, StorageIDBase},
		{"v2 effective", capDacReadSearchV2(), true, 1, StorageIDBase},
		{"v3 rooted at 1000", v3, true, 1, StorageIDBase + 1000},
		{"short", []byte{1, 2}, false, 0, 0},
		{"bad revision", make([]byte, capSize2), false, 0, 0},
		{"v2 size mismatch", v1[:capSize1-1], false, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, ok := storedCaps(c.in)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			magic := binary.LittleEndian.Uint32(out)
			if len(out) != capSize3 || magic != capRevision3|c.flags || binary.LittleEndian.Uint32(out[4:]) != 1<<2 ||
				binary.LittleEndian.Uint32(out[capSize2:]) != c.root {
				t.Errorf("stored = %x", out)
			}
			again, ok := storedCaps(out)
			if !ok || !bytes.Equal(again, out) {
				t.Errorf("storing a stored value changed it: %x -> %x", out, again)
			}
		})
	}
}

package image

import (
	"archive/tar"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// seedTar is a rootfs with what a layer dir must keep when it is linked
// rather than unpacked: an opaque dir (an xattr), a whiteout (a device
// node), a symlink, a hard link, setuid and sticky modes, owners.
func seedTar(t *testing.T, into string) string {
	t.Helper()
	b := tarBytes(t,
		dir("./"), dir("./bin/"), entry{name: "./bin/su", body: "su", mode: 0o4755},
		entry{name: "./bin/ln-to-su", typ: tar.TypeLink, link: "./bin/su"},
		dir("./etc/"), file("./etc/os-release", "ID=hutch\n"), symlink("./etc/alias", "os-release"),
		entry{name: "./tmp/", typ: tar.TypeDir, mode: 0o1777},
		entry{name: "./home/u/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000},
		dir("./opaque/"), file("./opaque/.wh..wh..opq", ""), file("./opaque/.wh.gone", ""),
	)
	p := filepath.Join(into, "base.tar")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openShared(t *testing.T, sh *Shared) *Store {
	t.Helper()
	requireRoot(t)
	s, err := Open(t.TempDir(), WithShared(sh))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSeedThroughSharedCache seeds one tarball into two stores: the
// first unpacks it and publishes the layer, the second links every file
// of it (same inodes) with the same dirs, and keeps working when the
// shared cache is deleted.
func TestSeedThroughSharedCache(t *testing.T) {
	requireRoot(t)
	tarPath := seedTar(t, t.TempDir())
	sh, err := OpenShared(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	first := openShared(t, sh)
	var progress int64
	a, cached, err := first.SeedRootfs(bg(), tarPath, "base", baseCfg(), func(n int64) { progress = n })
	if err != nil || cached {
		t.Fatalf("first seed: cached=%v err=%v", cached, err)
	}
	if fi, _ := os.Stat(tarPath); progress != fi.Size() {
		t.Errorf("progress ended at %d bytes, want the tarball's %d", progress, fi.Size())
	}
	second := openShared(t, sh)
	b, cached, err := second.SeedRootfs(bg(), tarPath, "base", baseCfg(), func(int64) { t.Error("progress reported for a linked seed") })
	if err != nil || !cached {
		t.Fatalf("second seed: cached=%v err=%v, want it from the shared cache", cached, err)
	}
	if filepath.Base(a.Layers[0]) != filepath.Base(b.Layers[0]) || a.Size != b.Size || b.Size != int64(len("su")+len("ID=hutch\n")) {
		t.Fatalf("layers %s (%d bytes) and %s (%d bytes), want one diff ID and size", a.Layers[0], a.Size, b.Layers[0], b.Size)
	}
	if a.Config.WorkingDir != "/root" || b.Config.WorkingDir != "/root" {
		t.Errorf("configs %+v and %+v, want the seed's", a.Config, b.Config)
	}
	la, lb := a.Layers[0], b.Layers[0]
	for _, f := range []string{"bin/su", "bin/ln-to-su", "etc/os-release", "etc/alias", "opaque/gone"} {
		if ino(t, filepath.Join(la, f)) != ino(t, filepath.Join(lb, f)) {
			t.Errorf("%s is not a hard link of the first store's", f)
		}
	}
	if ino(t, filepath.Join(lb, "bin/su")) != ino(t, filepath.Join(lb, "bin/ln-to-su")) {
		t.Error("the layer's own hard link was split")
	}
	for _, d := range []string{".", "bin", "etc", "tmp", "home/u", "opaque"} {
		sa, sb := stat(t, filepath.Join(la, d)), stat(t, filepath.Join(lb, d))
		if sa.Mode != sb.Mode || sa.Uid != sb.Uid || sa.Gid != sb.Gid || sa.Mtim != sb.Mtim || sa.Ino == sb.Ino {
			t.Errorf("dir %s: %+v vs %+v, want a dir of its own with the same mode, owner and mtime", d, sa, sb)
		}
	}
	if v := xattr(t, filepath.Join(lb, "opaque"), opaqueXattr); v != "y" {
		t.Errorf("opaque dir lost its marker: %q", v)
	}
	if fi, err := os.Stat(filepath.Join(lb, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp lost its sticky bit: %v %v", fi.Mode(), err)
	}

	if err := os.RemoveAll(sh.Dir()); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(lb, "etc/os-release")); got != "ID=hutch\n" {
		t.Errorf("after the shared cache was deleted: %q", got)
	}
	if _, err := second.Resolve(bg(), "base"); err != nil {
		t.Errorf("after the shared cache was deleted: %v", err)
	}
	assertNoTmp(t, second)
}

// TestSeedRebuiltTarball unpacks a tarball again when it changed since
// the shared cache saw it (setup.sh rebuilt the image).
func TestSeedRebuiltTarball(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	tarPath := seedTar(t, dir)
	sh, err := OpenShared(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := openShared(t, sh).SeedRootfs(bg(), tarPath, "base", baseCfg(), nil); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(tarPath, later, later); err != nil {
		t.Fatal(err)
	}
	if _, cached, err := openShared(t, sh).SeedRootfs(bg(), tarPath, "base", baseCfg(), nil); err != nil || cached {
		t.Fatalf("seed of a changed tarball: cached=%v err=%v, want it unpacked", cached, err)
	}
}

func baseCfg() Config { return Config{WorkingDir: "/root"} }

func stat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func ino(t *testing.T, p string) uint64 { return stat(t, p).Ino }

func xattr(t *testing.T, p, name string) string {
	t.Helper()
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

package image

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// rootfsFile writes a one-file rootfs tarball whose os-release says id.
func rootfsFile(t *testing.T, id string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), id+".tar")
	b := tarBytes(t, dir("./"), dir("./etc/"), file("./etc/os-release", "ID="+id+"\n"))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func osRelease(t *testing.T, img *Image) string {
	t.Helper()
	return readFile(t, filepath.Join(img.Layers[0], "etc/os-release"))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestNamespacesKeepOrganisationsApart: an organisation's import under a
// shared image's name changes what that organisation sees, and nothing
// another organisation (or the shared namespace) resolves, lists or can
// remove.
func TestNamespacesKeepOrganisationsApart(t *testing.T) {
	requireRoot(t)
	s := newStore(t)
	shared, err := s.ImportRootfs(bg(), rootfsFile(t, "shared"), "base", Config{})
	if err != nil {
		t.Fatal(err)
	}
	own, err := s.In("org_b").ImportRootfs(bg(), rootfsFile(t, "org-b"), "base", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if own.Ref != "base:latest" || own.Namespace != "org_b" || shared.Namespace != "" {
		t.Fatalf("org image %+v, shared %+v", own, shared)
	}

	for _, c := range []struct {
		view View
		want string
	}{{s.In(""), "ID=shared\n"}, {s.In("org_a"), "ID=shared\n"}, {s.In("org_b"), "ID=org-b\n"}} {
		img, err := c.view.Resolve(bg(), "base")
		if err != nil || osRelease(t, img) != c.want {
			t.Errorf("namespace %q resolves base to %+v, %v; want %q", c.view.ns, img, err, c.want)
		}
	}
	if img, err := s.Resolve(bg(), "base"); err != nil || img.Digest != shared.Digest {
		t.Errorf("Store.Resolve(base) = %+v, %v; want the shared image", img, err)
	}
	// Digests do not cross namespaces either.
	if _, err := s.In("org_a").Resolve(bg(), own.Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("org_a resolved org_b's digest: %v", err)
	}
	if _, err := s.Resolve(bg(), own.Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the shared namespace resolved org_b's digest: %v", err)
	}

	listed := func(v View) []string {
		imgs, err := v.List(bg())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, img := range imgs {
			out = append(out, img.Namespace+"/"+img.Ref)
		}
		return out
	}
	if got := listed(s.In("org_a")); !slices.Equal(got, []string{"/base:latest"}) {
		t.Errorf("org_a lists %v", got)
	}
	if got := listed(s.In("org_b")); !slices.Equal(got, []string{"org_b/base:latest", "/base:latest"}) {
		t.Errorf("org_b lists %v", got)
	}

	if err := s.In("org_a").Remove(bg(), "base"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("org_a removed the shared base: %v", err)
	}
	if err := s.In("org_b").Remove(bg(), "base"); err != nil {
		t.Fatal(err)
	}
	if img, err := s.In("org_b").Resolve(bg(), "base"); err != nil || img.Digest != shared.Digest {
		t.Errorf("after org_b removed its own, it resolves %+v, %v; want the shared base", img, err)
	}
	if exists(own.Layers[0]) {
		t.Errorf("org_b's layer survived its removal")
	}
	if _, err := s.In("a/b").Resolve(bg(), "base"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("namespace with a slash: %v", err)
	}
}

// TestPinKeepsReplacedImage: a sandbox pinned to an image keeps its
// layers when the name moves on (import over it, removal), across a
// reopen, until the pin goes; an unpinned image's layers go at once.
func TestPinKeepsReplacedImage(t *testing.T) {
	requireRoot(t)
	s := newStore(t)
	v1, err := s.ImportRootfs(bg(), rootfsFile(t, "v1"), "base", Config{})
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := s.In("org_a").Pin(bg(), "sbx_1", "base")
	if err != nil || pinned.Digest != v1.Digest {
		t.Fatalf("Pin = %+v, %v", pinned, err)
	}
	v2, err := s.ImportRootfs(bg(), rootfsFile(t, "v2"), "base", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !exists(v1.Layers[0]) {
		t.Fatal("replacing base deleted the layer a pinned sandbox runs on")
	}
	if img, err := s.Resolve(bg(), v1.Digest); err != nil || osRelease(t, img) != "ID=v1\n" {
		t.Fatalf("Resolve(pinned digest) = %+v, %v", img, err)
	}
	if img, err := s.In("org_a").Resolve(bg(), "base"); err != nil || img.Digest != v2.Digest {
		t.Errorf("base now = %+v, %v; want v2 for new sandboxes", img, err)
	}

	// An unpinned image goes with its name.
	v3, err := s.ImportRootfs(bg(), rootfsFile(t, "v3"), "base", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if exists(v2.Layers[0]) || !exists(v1.Layers[0]) {
		t.Errorf("after v3: v2's layer kept %v (want gone), v1's %v (want kept)", exists(v2.Layers[0]), exists(v1.Layers[0]))
	}
	if err := s.Remove(bg(), "base"); err != nil {
		t.Fatal(err)
	}
	if exists(v3.Layers[0]) || !exists(v1.Layers[0]) {
		t.Errorf("after remove: v3's layer kept %v, v1's %v", exists(v3.Layers[0]), exists(v1.Layers[0]))
	}

	// Pins are written with the index.
	dir := s.Dir()
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if !exists(v1.Layers[0]) {
		t.Fatal("reopening collected a pinned layer")
	}
	if got := s.Pins()["sbx_1"]; !slices.Equal(got, []string{v1.Digest}) {
		t.Errorf("pins after reopen = %v", got)
	}
	if err := s.Unpin(bg(), "sbx_1"); err != nil {
		t.Fatal(err)
	}
	if exists(v1.Layers[0]) {
		t.Error("the last pin went and the layer stayed")
	}
	assertNoTmp(t, s)
}

// TestAdoptKeepsExistingPin: adoption (for sandboxes older than pins)
// never moves a pin the create made.
func TestAdoptKeepsExistingPin(t *testing.T) {
	requireRoot(t)
	s := newStore(t)
	v1, err := s.ImportRootfs(bg(), rootfsFile(t, "v1"), "base", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.In("org_a").Pin(bg(), "sbx_1", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportRootfs(bg(), rootfsFile(t, "v2"), "base", Config{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.In("org_a").Adopt(bg(), "sbx_1", "base"); ok || err != nil {
		t.Errorf("Adopt of a pinned owner = %v, %v", ok, err)
	}
	if ok, err := s.In("org_a").Adopt(bg(), "sbx_2", "base"); !ok || err != nil {
		t.Errorf("Adopt of a new owner = %v, %v", ok, err)
	}
	if got := s.Pins()["sbx_1"]; !slices.Equal(got, []string{v1.Digest}) {
		t.Errorf("sbx_1 pinned to %v, want v1", got)
	}
	if _, err := s.In("org_a").Adopt(bg(), "sbx_3", "missing"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Adopt of a missing image: %v", err)
	}
}

// TestLeaseKeepsWhatTheRuntimeMayHaveTaken: during a lease nothing is
// collected, and its release pins the owner to every image the
// reference named meanwhile.
func TestLeaseKeepsWhatTheRuntimeMayHaveTaken(t *testing.T) {
	requireRoot(t)
	s := newStore(t)
	l := s.In("org_a").Lease()
	v1, err := s.ImportRootfs(bg(), rootfsFile(t, "v1"), "base", Config{}) // seeded during the create
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.ImportRootfs(bg(), rootfsFile(t, "v2"), "base", Config{}) // and replaced at once
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.ImportRootfs(bg(), rootfsFile(t, "other"), "other", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(bg(), "other"); err != nil {
		t.Fatal(err)
	}
	if !exists(v1.Layers[0]) || !exists(other.Layers[0]) {
		t.Fatal("a collection ran during the lease")
	}
	if err := l.Release(bg(), "sbx_1", "base"); err != nil {
		t.Fatal(err)
	}
	if got := s.Pins()["sbx_1"]; !slices.Equal(got, sorted(v1.Digest, v2.Digest)) {
		t.Errorf("pins = %v, want v1 and v2", got)
	}
	if !exists(v1.Layers[0]) || exists(other.Layers[0]) {
		t.Errorf("after release: v1's layer kept %v (want kept), other's %v (want collected)", exists(v1.Layers[0]), exists(other.Layers[0]))
	}
	if err := s.Unpin(bg(), "sbx_1"); err != nil {
		t.Fatal(err)
	}
	if exists(v1.Layers[0]) || !exists(v2.Layers[0]) {
		t.Errorf("after unpin: v1's layer kept %v (want gone), v2's %v (want kept: base names it)", exists(v1.Layers[0]), exists(v2.Layers[0]))
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func TestLibraryName(t *testing.T) {
	for ref, want := range map[string]bool{
		"base": true, "python:3.12": true, "busybox@sha256:" + sha("a"): true,
		"team/tool": false, "ghcr.io/x/y": false, "localhost/img": false, "sha256:" + sha("a"): false,
	} {
		if got := LibraryName(ref); got != want {
			t.Errorf("LibraryName(%q) = %v, want %v", ref, got, want)
		}
	}
}

func sha(c string) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c[0]
	}
	return string(b)
}

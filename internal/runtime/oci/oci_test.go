package oci_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
	"github.com/hutchdev/hutch/internal/runtime/runtimetest"
)

const testImage = "test/busybox"

// fixture is built once per test binary: a static init that runs the
// agent too, and a two-layer busybox image, both in a directory every
// sandbox uid can traverse.
var fixture struct {
	once   sync.Once
	err    error
	dir    string
	init   string
	layers []string
}

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("busybox"); err == nil {
			fixture.once.Do(buildFixture)
		}
	}
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

func requireHost(t testing.TB, rt string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the OCI driver needs root")
	}
	if _, err := exec.LookPath(rt); err != nil {
		t.Skipf("%s is not installed", rt)
	}
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox (apt-get install busybox-static) is needed for the test image")
	}
	fixture.once.Do(buildFixture)
	if fixture.err != nil {
		t.Fatalf("test fixture: %v", fixture.err)
	}
}

func buildFixture() {
	dir, err := os.MkdirTemp("", "hutch-oci-fixture-")
	if err != nil {
		fixture.err = err
		return
	}
	fixture.dir = dir
	_ = os.Chmod(dir, 0o755)
	fixture.init = filepath.Join(dir, "hutch")
	build := exec.Command("go", "build", "-o", fixture.init, "./testdata/sandboxinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fixture.err = errors.New("build init: " + err.Error() + ": " + string(out))
		return
	}
	base := filepath.Join(dir, "layers", "0")
	top := filepath.Join(dir, "layers", "1")
	for _, d := range []string{"bin", "etc", "root", "tmp", "proc", "sys", "dev", "var", "usr/bin"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			fixture.err = err
			return
		}
	}
	_ = os.Chmod(filepath.Join(base, "tmp"), 0o1777)
	_ = os.Chmod(filepath.Join(base, "root"), 0o700)
	bb, _ := exec.LookPath("busybox")
	if out, err := exec.Command("cp", bb, filepath.Join(base, "bin", "busybox")).CombinedOutput(); err != nil {
		fixture.err = errors.New(string(out))
		return
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		fixture.err = err
		return
	}
	for _, applet := range strings.Fields(string(list)) {
		_ = os.Symlink("busybox", filepath.Join(base, "bin", applet))
	}
	if err := os.MkdirAll(filepath.Join(top, "etc"), 0o755); err != nil {
		fixture.err = err
		return
	}
	fixture.err = errors.Join(
		os.WriteFile(filepath.Join(base, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644),
		os.WriteFile(filepath.Join(base, "etc", "group"), []byte("root:x:0:\n"), 0o644),
		os.WriteFile(filepath.Join(top, "etc", "layer"), []byte("top\n"), 0o644),
	)
	if fixture.err != nil {
		return
	}
	if fixture.err = addProbes(dir, base); fixture.err != nil {
		return
	}
	if fixture.err = toStorage(base, top); fixture.err != nil {
		return
	}
	fixture.layers = []string{base, top}
	// for the package's internal tests, which cannot import this file
	os.Setenv("HUTCH_TEST_INIT", fixture.init)
	os.Setenv("HUTCH_TEST_LAYER", base)
}

func resolve(_ context.Context, ref string) (*image.Image, error) {
	if ref != testImage {
		return nil, errors.New("unknown image " + ref)
	}
	return &image.Image{Ref: ref, Layers: fixture.layers, Config: image.Config{Env: []string{"HOME=/root"}}}, nil
}

func newDriver(t testing.TB, rt, stateDir string) *oci.Driver {
	t.Helper()
	d, err := oci.New(oci.Config{Runtime: rt, StateDir: stateDir, Images: resolve, InitBinary: fixture.init})
	if err != nil {
		t.Fatalf("oci.New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// stateDir is a fresh state directory that the sandboxes' root (an
// unprivileged host uid) can traverse, unlike t.TempDir's 0700.
func stateDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "hutch-oci-state-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o711)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func harness(rt string) runtimetest.Harness {
	return runtimetest.Harness{
		New: func(t testing.TB, dir string) runtime.Runtime {
			return newDriver(t, rt, dir)
		},
		StateDir: stateDir,
		Image:    testImage,
		Exec: func(ctx context.Context, r runtime.Runtime, id string, argv ...string) (string, error) {
			out, err := r.(*oci.Driver).Exec(ctx, id, argv...)
			return string(out), err
		},
	}
}

func TestSuiteCrun(t *testing.T) {
	requireHost(t, oci.RuntimeCrun)
	runtimetest.Run(t, harness(oci.RuntimeCrun), ocitest.Probe{})
}

func TestSuiteRunc(t *testing.T) {
	requireHost(t, oci.RuntimeRunc)
	if testing.Short() {
		t.Skip("the default runtime's suite covers -short runs")
	}
	runtimetest.Run(t, harness(oci.RuntimeRunc), ocitest.Probe{})
}

// addProbes builds testdata/idprobe into the base layer as /bin/idprobe,
// and as /bin/suprobe and /bin/capprobe, which toStorage makes setuid
// root and CAP_NET_RAW-capable (as ping is) as an image would have them.
func addProbes(dir, base string) error {
	probe := filepath.Join(dir, "idprobe")
	build := exec.Command("go", "build", "-o", probe, "./testdata/idprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return errors.New("build idprobe: " + err.Error() + ": " + string(out))
	}
	for _, name := range []string{"idprobe", "suprobe", "capprobe"} {
		if out, err := exec.Command("cp", probe, filepath.Join(base, "bin", name)).CombinedOutput(); err != nil {
			return errors.New(string(out))
		}
	}
	return os.WriteFile(filepath.Join(base, "etc", "passwd"),
		[]byte("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n"), 0o644)
}

// toStorage gives the layers the ownership an image store gives its
// layers (image.StorageIDBase + the image's ids), and the probes their
// setuid bit and v3 capability bound to the storage root.
func toStorage(layers ...string) error {
	for _, l := range layers {
		err := filepath.WalkDir(l, func(p string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, image.StorageIDBase, image.StorageIDBase)
		})
		if err != nil {
			return err
		}
	}
	v2 := make([]byte, 20)
	binary.LittleEndian.PutUint32(v2, 0x02000001) // v2, effective
	binary.LittleEndian.PutUint32(v2[4:], 1<<13)  // CAP_NET_RAW, as ping has
	caps, _ := image.RebaseCaps(v2, func(uint32) (uint32, bool) { return image.StorageIDBase, true })
	if err := unix.Lsetxattr(filepath.Join(layers[0], "bin", "capprobe"), "security.capability", caps, 0); err != nil {
		return err
	}
	return unix.Chmod(filepath.Join(layers[0], "bin", "suprobe"), 0o4755)
}

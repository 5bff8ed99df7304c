package oci

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// newInternalDriver builds a driver on the test binary's fixture, which
// the external test package builds; here a plain busybox layer suffices.
func newInternalDriver(t testing.TB) *Driver {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	init, layer := os.Getenv("HUTCH_TEST_INIT"), os.Getenv("HUTCH_TEST_LAYER")
	if init == "" || layer == "" {
		t.Skip("set by oci_test.go's fixture (run the whole package)")
	}
	dir, err := os.MkdirTemp("", "hutch-oci-internal-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o711)
	t.Cleanup(func() { os.RemoveAll(dir) })
	d, err := New(Config{StateDir: dir, InitBinary: init, Images: func(context.Context, string) (*image.Image, error) {
		return &image.Image{Ref: "x", Layers: []string{layer}}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestDeleteAfterCrashMidCreate leaves a sandbox as a server killed after
// the container started but before its record named the init, and checks
// that a new driver's Delete removes all of it.
func TestDeleteAfterCrashMidCreate(t *testing.T) {
	d := newInternalDriver(t)
	ctx := context.Background()
	s := runtime.Spec{ID: "crash" + time.Now().Format("150405"), DiskMB: 32}
	p := d.paths(s.ID)
	t.Cleanup(func() { _ = d.Delete(ctx, s.ID) })
	img, _ := d.cfg.Images(ctx, "x")
	rec := &record{ID: s.ID, Runtime: d.cfg.Runtime, Layers: img.Layers}
	if err := os.Mkdir(p.dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := rec.save(p.record); err != nil {
		t.Fatal(err)
	}
	if err := makeDisk(ctx, p.diskImg, 32); err != nil {
		t.Fatal(err)
	}
	if err := d.mountDisk(p.diskImg, p.disk); err != nil {
		t.Fatal(err)
	}
	if err := d.mountRootfs(p, rec.Layers); err != nil {
		t.Fatal(err)
	}
	if err := d.writeSpec(p, s, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := d.runDetached(ctx, p, s.ID); err != nil {
		t.Fatal(err)
	}
	if len(d.cg.procs(s.ID)) == 0 {
		t.Fatal("container did not start")
	}
	// The record still has no init pid: the "server" died here.
	d2 := newInternalDriverOn(t, d)
	if st, err := d2.Recover(ctx, s.ID); err != nil || st.State != runtime.StateStopped {
		t.Logf("recover of a half-made sandbox: %+v %v", st, err)
	}
	if err := d2.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	ocitest.AssertGone(t, s.ID)
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Fatalf("sandbox dir left: %v", err)
	}
}

func newInternalDriverOn(t testing.TB, d *Driver) *Driver {
	d2, err := New(d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Close() })
	return d2
}

// BenchmarkDisk measures the size-limited writable layer: mkfs of the
// sparse image (once per sandbox), and loop attach + mount + unmount
// (every create, start and stop).
func BenchmarkDisk(b *testing.B) {
	d := newInternalDriver(b)
	dir := b.TempDir()
	ctx := context.Background()
	var mkfs, tmplCopy, mount, umount time.Duration
	for i := 0; i < b.N; i++ {
		img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "m")
		t0 := time.Now()
		if err := makeDisk(ctx, img, 1024); err != nil {
			b.Fatal(err)
		}
		mkfs += time.Since(t0)
		os.Remove(img)
		tc := time.Now()
		if err := d.newDisk(ctx, img, 1024); err != nil {
			b.Fatal(err)
		}
		if i == 0 { // the template is made once; time its copies only
			os.Remove(img)
			tc = time.Now()
			if err := d.newDisk(ctx, img, 1024); err != nil {
				b.Fatal(err)
			}
		}
		tmplCopy += time.Since(tc)
		t1 := time.Now()
		if err := d.mountDisk(img, mnt); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := unix.Unmount(mnt, 0); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		mount, umount = mount+t2.Sub(t1), umount+t3.Sub(t2)
		os.Remove(img)
	}
	n := float64(b.N)
	b.ReportMetric(float64(mkfs.Microseconds())/1000/n, "mkfs1G-ms/op")
	b.ReportMetric(float64(tmplCopy.Microseconds())/1000/n, "template-copy1G-ms/op")
	b.ReportMetric(float64(mount.Microseconds())/1000/n, "loop+mount-ms/op")
	b.ReportMetric(float64(umount.Microseconds())/1000/n, "umount-ms/op")
	b.ReportMetric(0, "ns/op")
}

package oci_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// TestArchiveOverlayRoundTrip adds to the suite's ArchiveRoundTrip what
// only an overlay writable layer can get wrong: a file of the image's top
// layer deleted (a whiteout), a directory of the image replaced (an opaque
// directory), and the disk image freed by Discard.
func TestArchiveOverlayRoundTrip(t *testing.T) {
	requireHost(t, oci.RuntimeCrun)
	ctx := context.Background()
	dir := stateDir(t)
	d := newDriver(t, oci.RuntimeCrun, dir)
	spec := runtime.Spec{ID: "arch" + strings.ReplaceAll(t.Name(), "/", ""), Image: testImage,
		Entrypoint: []string{"sleep", "1000"}, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
	t.Cleanup(func() {
		if err := d.Delete(context.Background(), spec.ID); err != nil {
			t.Errorf("delete: %v", err)
		}
		ocitest.AssertGone(t, spec.ID)
	})
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	script := `set -e
rm /etc/layer
rm -rf /usr/bin; mkdir /usr/bin; echo new > /usr/bin/only`
	if out, err := d.Exec(ctx, spec.ID, "sh", "-c", script); err != nil {
		t.Fatalf("write files: %v: %s", err, out)
	}
	check := `set -e
test ! -e /etc/layer && echo whiteout-kept
ls /usr/bin`
	want, err := d.Exec(ctx, spec.ID, "sh", "-c", check)
	if err != nil {
		t.Fatalf("check before: %v: %s", err, want)
	}
	if string(want) != "whiteout-kept\nonly\n" {
		t.Fatalf("files not as written: %s", want)
	}
	if err := d.Stop(ctx, spec.ID, 0); err != nil {
		t.Fatal(err)
	}
	var packed bytes.Buffer
	if err := d.Export(ctx, spec.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if err := d.Discard(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "sandboxes", spec.ID, "disk.img")
	if _, err := os.Stat(disk); !os.IsNotExist(err) {
		t.Fatalf("disk image after discard: %v", err)
	}
	if err := d.Import(ctx, spec.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	got, err := d.Exec(ctx, spec.ID, "sh", "-c", check)
	if err != nil {
		t.Fatalf("check after: %v: %s", err, got)
	}
	if string(got) != string(want) {
		t.Fatalf("after the round trip:\n%s\nbefore:\n%s", got, want)
	}
}

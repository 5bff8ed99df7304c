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
	"github.com/hutchdev/hutch/internal/runtime/runtimetest"
)

// TestArchiveRoundTrip writes files of every kind the writable layer can
// hold (a hard link, a symlink, a set-uid mode, another owner, a deleted
// image file, which the overlay records as a whiteout, and an opaque
// directory), exports the stopped sandbox, discards its disk, imports the
// stream and boots again on it: the sandbox sees the same files.
func TestArchiveRoundTrip(t *testing.T) {
	requireHost(t, oci.RuntimeCrun)
	ctx := context.Background()
	dir := stateDir(t)
	d := newDriver(t, oci.RuntimeCrun, dir)
	spec := runtime.Spec{ID: "arch" + strings.ReplaceAll(t.Name(), "/", ""), Image: testImage,
		Entrypoint: []string{"sleep", "1000"}, CPU: 0.5, MemoryMB: 64, DiskMB: 64, Pids: 64}
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Delete(context.Background(), spec.ID); err != nil {
			t.Errorf("delete: %v", err)
		}
		for _, l := range runtimetest.Leftovers(spec.ID) {
			t.Errorf("left behind: %s", l)
		}
	})
	script := `set -e
echo hello > /root/a; ln /root/a /root/b; ln -s a /root/c; chmod 4750 /root/a
echo mine > /root/d; chown 1000:1000 /root/d
rm /etc/layer
rm -rf /usr/bin; mkdir /usr/bin; echo new > /usr/bin/only
dd if=/dev/urandom of=/root/big bs=1k count=300 2>/dev/null; md5sum /root/big > /root/big.md5`
	if out, err := d.Exec(ctx, spec.ID, "sh", "-c", script); err != nil {
		t.Fatalf("write files: %v: %s", err, out)
	}
	check := `set -e
cat /root/a /root/b; readlink /root/c; stat -c '%a %u:%g' /root/a /root/d
test ! -e /etc/layer && echo whiteout-kept
ls /usr/bin
md5sum -c /root/big.md5 >/dev/null && echo big-ok`
	want, err := d.Exec(ctx, spec.ID, "sh", "-c", check)
	if err != nil {
		t.Fatalf("check before: %v: %s", err, want)
	}
	if !strings.Contains(string(want), "whiteout-kept") || !strings.Contains(string(want), "big-ok") {
		t.Fatalf("files not as written: %s", want)
	}

	if err := d.Export(ctx, spec.ID, &bytes.Buffer{}); err == nil {
		t.Fatal("export of a running sandbox succeeded")
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
	if st, err := d.Recover(ctx, spec.ID); err != nil || st.State != runtime.StateStopped {
		t.Fatalf("recover of a discarded sandbox: %+v %v", st, err)
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

package oci

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
)

// TestArchiveCheckpointed archives a sandbox checkpointed to disk: the
// stream carries its memory image with its files, Discard frees both,
// and after Import the sandbox is checkpointed again and resumes the same
// process with the same memory, counting on.
func TestArchiveCheckpointed(t *testing.T) {
	d := checkpointDriver(t)
	ctx := context.Background()
	s, _ := startCounter(t, d, "ckarch")
	if err := d.Pause(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	before := readCounter(d, s.ID)
	if _, err := d.Checkpoint(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	var packed bytes.Buffer
	if err := d.Export(ctx, s.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if packed.Len() < 64<<20 {
		t.Fatalf("the archive is %d bytes, less than the 64 MiB the counter held", packed.Len())
	}
	if err := d.Discard(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	p := d.paths(s.ID)
	for _, gone := range []string{p.diskImg, p.checkpointDir()} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Fatalf("%s after discard: %v", gone, err)
		}
	}
	if err := d.Import(ctx, s.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if m, err := loadCheckpoint(p); err != nil || m == nil {
		t.Fatalf("no checkpoint after import: %v", err)
	}
	if st, err := d.Recover(ctx, s.ID); err != nil || st.State != runtime.StatePaused {
		t.Fatalf("Recover after import = %+v, %v; want paused", st, err)
	}
	if err := d.Resume(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	checkCounting(t, d, s.ID, before)
}

package sandbox_test

import (
	"context"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestDiskUsageCountsMemoryImage: the disk a sandbox paused on disk uses
// includes its memory image; paused in memory, or resumed, it does not.
func TestDiskUsageCountsMemoryImage(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, nil)
	sb := r.create(sandbox.CreateRequest{})
	disk := func() int64 {
		t.Helper()
		_, st, err := r.svc.Stats(context.Background(), org, sb.ID)
		if err != nil {
			t.Fatal(err)
		}
		return st.DiskBytes
	}
	base := disk()
	if _, err := r.pause(sb.ID, sandbox.PauseKeep); err != nil {
		t.Fatal(err)
	}
	if got := disk(); got != base {
		t.Fatalf("paused in memory: disk %d, was %d", got, base)
	}
	if _, err := r.pause(sb.ID, sandbox.PauseRelease); err != nil {
		t.Fatal(err)
	}
	if got := disk(); got != base+fakeruntime.ImageSize {
		t.Fatalf("paused on disk: disk %d, want %d + the image's %d", got, base, fakeruntime.ImageSize)
	}
	if _, err := r.svc.Act(context.Background(), org, sb.ID, sandbox.ActionResume, sandbox.ActOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if got := disk(); got != base {
		t.Fatalf("resumed: disk %d, was %d", got, base)
	}
}

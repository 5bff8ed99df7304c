package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestArchiveOfPausedOnDiskRefused: archive of a sandbox paused on disk
// is a transition error that says its memory image cannot go with it and
// what to do; nothing changes, the image stays.
func TestArchiveOfPausedOnDiskRefused(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, nil)
	sb := r.create(sandbox.CreateRequest{})
	if _, err := r.pause(sb.ID, sandbox.PauseRelease); err != nil {
		t.Fatal(err)
	}
	_, err := r.svc.Act(context.Background(), org, sb.ID, sandbox.ActionArchive, sandbox.ActOptions{Wait: true})
	var te *sandbox.TransitionError
	if !errors.As(err, &te) || te.From != sandbox.StatePaused || !strings.Contains(te.Error(), "memory image") ||
		!strings.Contains(te.Error(), "stop it first") {
		t.Fatalf("archive of a sandbox paused on disk: %v", err)
	}
	if got := r.get(sb.ID); got.State != sandbox.StatePaused || got.Pause.Memory != sandbox.MemoryOnDisk || !rt.OnDisk(sb.ID) {
		t.Fatalf("after the refused archive: %+v %+v", got, got.Pause)
	}
}

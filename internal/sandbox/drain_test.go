package sandbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestDrainThenRestartResumes: a drain moves running sandboxes to disk
// (paused, desired running), leaves one whose checkpoint fails running
// with the reason in its events and in the status, refuses creates and
// resumes meanwhile, and leaves a sandbox paused in memory alone; the
// next server's recovery restores and resumes the drained ones without a
// user call, and not the one a user had paused.
func TestDrainThenRestartResumes(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, nil)
	a := r.create(sandbox.CreateRequest{})
	b := r.create(sandbox.CreateRequest{})
	userPaused := r.create(sandbox.CreateRequest{})
	if _, err := r.pause(userPaused.ID, sandbox.PauseKeep); err != nil {
		t.Fatal(err)
	}
	rt.FailNext("checkpoint", errors.New("criu: dump failed"))
	st := r.svc.Drain(context.Background(), time.Time{})
	if !st.Draining || st.Finished == nil || st.Total != 2 || st.Done != 2 || st.OnDisk != 1 || len(st.LeftRunning) != 1 {
		t.Fatalf("drain status %+v", st)
	}
	left, drained := r.get(st.LeftRunning[0].SandboxID), a
	if left.ID == a.ID {
		drained = b
	}
	if left.State != sandbox.StateRunning || left.Pause != nil || !strings.Contains(st.LeftRunning[0].Reason, "dump failed") {
		t.Fatalf("sandbox whose checkpoint failed: %+v, reason %q", left, st.LeftRunning[0].Reason)
	}
	if msgs := r.memoryEvents(left.ID, sandbox.CauseDrain); len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1], "left running") {
		t.Fatalf("events of the sandbox left running: %q", msgs)
	}
	got := r.get(drained.ID)
	if got.State != sandbox.StatePaused || got.DesiredState != sandbox.StateRunning || got.Pause == nil ||
		got.Pause.Memory != sandbox.MemoryOnDisk || !rt.OnDisk(drained.ID) {
		t.Fatalf("drained sandbox: %+v %+v", got, got.Pause)
	}
	if _, err := r.svc.Create(context.Background(), sandbox.CreateRequest{OrganizationID: org}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("create while draining: %v", err)
	}
	if _, err := r.svc.Act(context.Background(), org, userPaused.ID, sandbox.ActionResume, sandbox.ActOptions{Wait: true}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("resume while draining: %v", err)
	}
	if p := r.get(userPaused.ID); p.State != sandbox.StatePaused || p.Pause.Memory != sandbox.MemoryResident {
		t.Fatalf("sandbox a user paused: %+v %+v", p, p.Pause)
	}

	// The next server, over the same store and runtime.
	r.svc.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	next, err := sandbox.NewService(sandbox.DefaultConfig(), r.st, rt, sandbox.WithLogger(log), sandbox.WithClock(r.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.Close)
	if _, err := next.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.get(drained.ID); got.State != sandbox.StateRunning || got.Pause != nil || rt.OnDisk(drained.ID) {
		t.Fatalf("drained sandbox after restart: %+v", got)
	}
	if !strings.Contains(strings.Join(rt.Calls, ","), "restore "+drained.ID+",resume "+drained.ID) {
		t.Fatalf("restart did not restore then thaw: %v", rt.Calls)
	}
	if p := r.get(userPaused.ID); p.State != sandbox.StatePaused {
		t.Fatalf("restart resumed a sandbox a user paused: %+v", p)
	}
	if _, err := next.Create(context.Background(), sandbox.CreateRequest{OrganizationID: org, Wait: true}); err != nil {
		t.Fatalf("create on the next server: %v", err)
	}
}

// TestDrainPastDeadline: sandboxes a drain reaches after its deadline
// stay running, with the reason.
func TestDrainPastDeadline(t *testing.T) {
	rt := fakeruntime.NewCheckpointing()
	r := newPauseRig(t, rt, nil)
	sb := r.create(sandbox.CreateRequest{})
	st := r.svc.Drain(context.Background(), r.clk.Now())
	if st.OnDisk != 0 || len(st.LeftRunning) != 1 || !strings.Contains(st.LeftRunning[0].Reason, "out of time") {
		t.Fatalf("drain past its deadline: %+v", st)
	}
	if got := r.get(sb.ID); got.State != sandbox.StateRunning || rt.OnDisk(sb.ID) {
		t.Fatalf("sandbox past the deadline: %+v", got)
	}
}

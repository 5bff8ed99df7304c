package e2e

import (
	"strings"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestServerSIGKILLAndRestart kills the server outright with sandboxes in
// several states, kills one sandbox's processes while the server is down,
// and checks that the restarted server finds every sandbox as it really is
// and can still control them.
func TestServerSIGKILLAndRestart(t *testing.T) {
	s := startServer(t, "")
	running := createCounter(t, s, "running")
	paused := createCounter(t, s, "paused")
	doomed := createCounter(t, s, "doomed")
	stopped := createCounter(t, s, "stopped")
	if _, err := s.c.Pause(ctx(t), paused.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Stop(ctx(t), stopped.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	runningPID := initPID(t, running.ID)
	poll.Until(t, "the counter to count", func() bool { return readInt(t, runningPID, "/tmp/count") > 0 })

	s.crash()
	if err := syscall.Kill(initPID(t, doomed.ID), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the doomed sandbox to die", func() bool { return initPID(t, doomed.ID) == 0 })

	s2 := startServer(t, s.dataDir)
	want := map[string]string{running.ID: "running", paused.ID: "paused", doomed.ID: "error", stopped.ID: "stopped"}
	for id, state := range want {
		sb, err := s2.c.GetSandbox(ctx(t), id)
		if err != nil || sb.State != state {
			t.Fatalf("after restart %s is %+v (%v), want %s", id, sb, err, state)
		}
		// Killed while no server was its parent, its exit status is
		// unknowable; the reason must still say its processes are gone.
		if state == "error" && !strings.Contains(sb.StateReason, "gone") {
			t.Fatalf("dead sandbox's reason %q does not say what happened", sb.StateReason)
		}
	}
	// The survivors are still controllable, and kept their memory.
	if initPID(t, running.ID) != runningPID {
		t.Fatal("the running sandbox was restarted instead of re-attached")
	}
	if _, err := s2.c.Pause(ctx(t), running.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.c.Resume(ctx(t), paused.ID); err != nil {
		t.Fatal(err)
	}
	pausedPID := initPID(t, paused.ID)
	before := readInt(t, pausedPID, "/tmp/count")
	poll.Until(t, "the resumed counter", func() bool { return readInt(t, pausedPID, "/tmp/count") > before })
	for _, id := range []string{doomed.ID, stopped.ID} {
		if sb, err := s2.c.Start(ctx(t), id); err != nil || sb.State != "running" {
			t.Fatalf("start %s after restart: %+v %v", id, sb, err)
		}
	}
	evs, err := s2.c.Events(ctx(t), doomed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !hasEvent(evs.Items, "running", "error", "reconcile") {
		t.Fatalf("no reconcile event for the dead sandbox: %+v", evs.Items)
	}
}

func hasEvent(evs []api.Event, from, to, cause string) bool {
	for _, e := range evs {
		if e.From == from && e.To == to && e.Cause == cause {
			return true
		}
	}
	return false
}

package e2e

import (
	"strings"
	"syscall"
	"testing"
)

// TestCheckpointOnShutdown: with --checkpoint-on-shutdown, a SIGTERM
// checkpoints a running sandbox (its processes end, its memory is freed)
// and the next server resumes it without a user call: running, the same
// process counting on from where it was, with the same memory.
func TestCheckpointOnShutdown(t *testing.T) {
	s := startServer(t, "", "--checkpoint-on-shutdown")
	requireCheckpoint(t, s)
	sb := newHolder(t, s, "drained")
	before := waitHolding(t, s, sb.ID)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("server exited with %d after SIGTERM", code)
	}
	if n := len(cgroupProcs(sb.ID)); n != 0 {
		t.Fatalf("%d processes left running after a shutdown with checkpoint", n)
	}
	if after := memoryUsage(t, sb.ID); after > 32<<20 {
		t.Fatalf("after the shutdown's checkpoint the cgroup still uses %d bytes", after)
	}

	s2 := startServer(t, s.dataDir)
	got, err := s2.c.GetSandbox(ctx(t), sb.ID)
	if err != nil || got.State != "running" || got.Pause != nil {
		t.Fatalf("after the restart, with no call: %+v %v", got, err)
	}
	checkSame(t, sb.ID, before)
	evs, err := s2.c.Events(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var causes []string
	for _, e := range evs.Items {
		if e.Type == "state" {
			causes = append(causes, e.Cause+":"+e.To)
		}
	}
	if !strings.Contains(strings.Join(causes, ","), "drain:paused,restart:resuming,restart:running") {
		t.Fatalf("state events %q", causes)
	}
}

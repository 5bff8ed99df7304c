package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
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

// TestAdminDrain: POST /v1/admin/drain on a running server moves a
// running sandbox to disk and refuses creates (503); after a plain
// SIGTERM (no --checkpoint-on-shutdown) the next server has it running
// again, the same process with the same memory.
func TestAdminDrain(t *testing.T) {
	s := startServer(t, "")
	requireCheckpoint(t, s)
	sb := newHolder(t, s, "admin-drained")
	before := waitHolding(t, s, sb.ID)
	st, err := s.c.Drain(ctx(t))
	if err != nil || !st.Draining {
		t.Fatalf("drain: %+v %v", st, err)
	}
	poll.Until(t, "the drain to finish", func() bool {
		st, err = s.c.DrainStatus(ctx(t))
		return err == nil && st.FinishedAt != nil
	})
	if st.Total != 1 || st.OnDisk != 1 || len(st.LeftRunning) != 0 {
		t.Fatalf("drain status %+v", st)
	}
	got, err := s.c.GetSandbox(ctx(t), sb.ID)
	if err != nil || got.State != "paused" || got.DesiredState != "running" || got.Pause == nil || got.Pause.Memory != "on-disk" {
		t.Fatalf("drained sandbox: %+v %v", got, err)
	}
	if _, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: "late"}); !strings.Contains(fmt.Sprint(err), "drained") {
		t.Fatalf("create while draining: %v", err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	s2 := startServer(t, s.dataDir)
	if got, err := s2.c.GetSandbox(ctx(t), sb.ID); err != nil || got.State != "running" {
		t.Fatalf("after the restart: %+v %v", got, err)
	}
	checkSame(t, sb.ID, before)
}

package runtimetest

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
)

// counterScript keeps a counter in a shell variable and publishes it to
// /tmp/counter: after a resume it must go on from the value in memory.
const counterScript = `i=0; while :; do i=$((i+1)); echo $i > /tmp/c.tmp; mv /tmp/c.tmp /tmp/counter; usleep 20000; done`

func testPauseResume(t *testing.T, h Harness) {
	rt := h.New(t, h.StateDir(t))
	s := h.spec("sh", "-c", counterScript)
	create(t, rt, s)
	pid, err := h.HostPID(rt, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var before int
	eventually(t, "counter to reach 5", func() bool {
		n, ok := readCounter(pid)
		before = n
		return ok && n >= 5
	})
	if err := rt.Pause(ctxT(t), s.ID); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if st := mustRecover(t, rt, s.ID); st.State != runtime.StatePaused {
		t.Fatalf("state after pause = %v, want paused", st.State)
	}
	frozenAt, ok := readCounter(pid)
	if !ok || frozenAt < before {
		t.Fatalf("counter while paused = %d (ok %v), was %d", frozenAt, ok, before)
	}
	stats1, err := rt.Stats(ctxT(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // fifteen ticks of the counter, were it running
	if n, _ := readCounter(pid); n != frozenAt {
		t.Fatalf("counter moved while paused: %d -> %d", frozenAt, n)
	}
	stats2, err := rt.Stats(ctxT(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stats2.CPUUsage != stats1.CPUUsage {
		t.Errorf("paused sandbox used cpu: %v -> %v", stats1.CPUUsage, stats2.CPUUsage)
	}
	if stats2.MemoryBytes == 0 {
		t.Errorf("paused sandbox reports no memory: %+v", stats2)
	}
	if err := rt.Resume(ctxT(t), s.ID); err != nil {
		t.Fatalf("resume: %v", err)
	}
	var after int
	eventually(t, "counter to move after resume", func() bool {
		n, ok := readCounter(pid)
		after = n
		return ok && n != frozenAt
	})
	if after < frozenAt {
		t.Fatalf("counter restarted after resume: %d, was %d", after, frozenAt)
	}
	if st := mustRecover(t, rt, s.ID); st.State != runtime.StateRunning {
		t.Fatalf("state after resume = %v", st.State)
	}
}

func testStopStart(t *testing.T, h Harness) {
	rt := h.New(t, h.StateDir(t))
	s := h.spec()
	create(t, rt, s)
	if out, err := h.Exec(ctxT(t), rt, s.ID, "sh", "-c", "echo kept > /root/note && mkdir -p /srv/a && echo x > /srv/a/b"); err != nil {
		t.Fatalf("write: %v: %s", err, out)
	}
	pid, _ := h.HostPID(rt, s.ID)
	if err := rt.Stop(ctxT(t), s.ID, 2*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if st := mustRecover(t, rt, s.ID); st.State != runtime.StateStopped {
		t.Fatalf("state after stop = %v", st.State)
	}
	if pid > 0 && syscall.Kill(pid, 0) == nil {
		if st, err := procStatus(pid, "State"); err == nil && !strings.HasPrefix(st, "Z") {
			t.Errorf("init %d still alive after stop (%s)", pid, st)
		}
	}
	if err := rt.Stop(ctxT(t), s.ID, time.Second); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if err := rt.Start(ctxT(t), s); err != nil {
		t.Fatalf("start: %v", err)
	}
	out, err := h.Exec(ctxT(t), rt, s.ID, "cat", "/root/note", "/srv/a/b")
	if err != nil || out != "kept\nx\n" {
		t.Fatalf("after start: %q, %v", out, err)
	}
	if st := mustRecover(t, rt, s.ID); st.State != runtime.StateRunning {
		t.Fatalf("state after start = %v", st.State)
	}
}

func testDeleteIdempotent(t *testing.T, h Harness) {
	rt := h.New(t, h.StateDir(t))
	s := h.spec()
	create(t, rt, s)
	if err := rt.Pause(ctxT(t), s.ID); err != nil {
		t.Fatal(err)
	}
	// Deleting a paused sandbox must work: frozen tasks cannot die.
	if err := rt.Delete(ctxT(t), s.ID); err != nil {
		t.Fatalf("delete paused: %v", err)
	}
	AssertGone(t, s.ID)
	if err := rt.Delete(ctxT(t), s.ID); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if st := mustRecover(t, rt, s.ID); st.State != runtime.StateMissing {
		t.Fatalf("deleted sandbox recovers as %v", st.State)
	}
	if err := rt.Delete(ctxT(t), newID()); err != nil {
		t.Fatalf("delete of unknown id: %v", err)
	}
}

func testRecover(t *testing.T, h Harness) {
	dir := h.StateDir(t)
	rt1 := h.New(t, dir)
	running, paused, stopped := h.spec(), h.spec(), h.spec()
	create(t, rt1, running)
	create(t, rt1, paused)
	create(t, rt1, stopped)
	if err := rt1.Pause(ctxT(t), paused.ID); err != nil {
		t.Fatal(err)
	}
	if err := rt1.Stop(ctxT(t), stopped.ID, time.Second); err != nil {
		t.Fatal(err)
	}

	rt2 := h.New(t, dir) // the server restarted
	for id, want := range map[string]runtime.State{
		running.ID: runtime.StateRunning, paused.ID: runtime.StatePaused,
		stopped.ID: runtime.StateStopped, newID(): runtime.StateMissing,
	} {
		if st := mustRecover(t, rt2, id); st.State != want {
			t.Errorf("recover %s = %+v, want %v", id, st, want)
		}
	}
	if err := rt2.Pause(ctxT(t), running.ID); err != nil {
		t.Fatalf("pause after restart: %v", err)
	}
	if err := rt2.Resume(ctxT(t), paused.ID); err != nil {
		t.Fatalf("resume after restart: %v", err)
	}
	if out, err := h.Exec(ctxT(t), rt2, paused.ID, "echo", "alive"); err != nil || out != "alive\n" {
		t.Fatalf("exec after resume: %q %v", out, err)
	}
	if err := rt2.Stop(ctxT(t), running.ID, time.Second); err != nil {
		t.Fatalf("stop after restart: %v", err)
	}
	if st := mustRecover(t, rt2, running.ID); st.State != runtime.StateStopped {
		t.Fatalf("after stop: %v", st.State)
	}
	if err := rt2.Start(ctxT(t), stopped); err != nil {
		t.Fatalf("start after restart: %v", err)
	}
	for _, id := range []string{running.ID, paused.ID, stopped.ID} {
		if err := rt2.Delete(ctxT(t), id); err != nil {
			t.Fatalf("delete after restart: %v", err)
		}
		AssertGone(t, id)
	}
}

func testKilledOutside(t *testing.T, h Harness) {
	rt := h.New(t, h.StateDir(t))
	s := h.spec("sh", "-c", "while :; do sleep 1; done")
	create(t, rt, s)
	pid, err := h.HostPID(rt, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var st runtime.Status
	eventually(t, "sandbox to be seen stopped", func() bool {
		st = mustRecover(t, rt, s.ID)
		return st.State == runtime.StateStopped
	})
	if st.Reason == "" {
		t.Errorf("stopped without a reason: %+v", st)
	}
	t.Logf("reason: %s", st.Reason)
	// It boots again on its disk.
	if err := rt.Start(ctxT(t), s); err != nil {
		t.Fatalf("start after crash: %v", err)
	}
	if st := mustRecover(t, rt, s.ID); st.State != runtime.StateRunning {
		t.Fatalf("after start: %+v", st)
	}
}

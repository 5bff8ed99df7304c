package runtimetest

import (
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
)

// counterScript keeps a counter in a shell variable and publishes it to
// /tmp/counter: after a resume it must go on from the value in memory.
const counterScript = `i=0; while :; do i=$((i+1)); echo $i > /tmp/c.tmp; mv /tmp/c.tmp /tmp/counter; usleep 20000; done`

func testPauseResume(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec("sh", "-c", counterScript)
	s.create(t, rt, sp)
	var before int
	eventually(t, "counter to reach 5", func() bool {
		n, ok := s.counter(t, rt, sp.ID)
		before = n
		return ok && n >= 5
	})
	if err := rt.Pause(ctxT(t), sp.ID); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if st := mustRecover(t, rt, sp.ID); st.State != runtime.StatePaused {
		t.Fatalf("state after pause = %v, want paused", st.State)
	}
	if frozen, err := s.probe.Frozen(ctxT(t), rt, sp.ID); observed(t, "the freezer", err) && !frozen {
		t.Fatal("paused sandbox is not frozen")
	}
	frozenAt, ok := s.counter(t, rt, sp.ID)
	if !ok || frozenAt < before {
		t.Fatalf("counter while paused = %d (ok %v), was %d", frozenAt, ok, before)
	}
	stats1, err := rt.Stats(ctxT(t), sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // fifteen ticks of the counter, were it running
	if n, _ := s.counter(t, rt, sp.ID); n != frozenAt {
		t.Fatalf("counter moved while paused: %d -> %d", frozenAt, n)
	}
	stats2, err := rt.Stats(ctxT(t), sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stats2.CPUUsage != stats1.CPUUsage {
		t.Errorf("paused sandbox used cpu: %v -> %v", stats1.CPUUsage, stats2.CPUUsage)
	}
	if stats2.MemoryBytes == 0 {
		t.Errorf("paused sandbox reports no memory: %+v", stats2)
	}
	if err := rt.Resume(ctxT(t), sp.ID); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if frozen, err := s.probe.Frozen(ctxT(t), rt, sp.ID); observed(t, "the freezer", err) && frozen {
		t.Fatal("resumed sandbox is still frozen")
	}
	var after int
	eventually(t, "counter to move after resume", func() bool {
		n, ok := s.counter(t, rt, sp.ID)
		after = n
		return ok && n != frozenAt
	})
	if after < frozenAt {
		t.Fatalf("counter restarted after resume: %d, was %d", after, frozenAt)
	}
	if st := mustRecover(t, rt, sp.ID); st.State != runtime.StateRunning {
		t.Fatalf("state after resume = %v", st.State)
	}
}

func testStopStart(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec()
	s.create(t, rt, sp)
	if out, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", "echo kept > /root/note && mkdir -p /srv/a && echo x > /srv/a/b"); err != nil {
		t.Fatalf("write: %v: %s", err, out)
	}
	if alive, err := s.probe.Alive(ctxT(t), rt, sp.ID); err != nil || !alive {
		t.Fatalf("the probe sees no process of a running sandbox: %v %v", alive, err)
	}
	if err := rt.Stop(ctxT(t), sp.ID, 2*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if st := mustRecover(t, rt, sp.ID); st.State != runtime.StateStopped {
		t.Fatalf("state after stop = %v", st.State)
	}
	if alive, err := s.probe.Alive(ctxT(t), rt, sp.ID); err != nil || alive {
		t.Errorf("processes alive after stop: %v %v", alive, err)
	}
	if err := rt.Stop(ctxT(t), sp.ID, time.Second); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if err := rt.Start(ctxT(t), sp); err != nil {
		t.Fatalf("start: %v", err)
	}
	out, err := s.Exec(ctxT(t), rt, sp.ID, "cat", "/root/note", "/srv/a/b")
	if err != nil || out != "kept\nx\n" {
		t.Fatalf("after start: %q, %v", out, err)
	}
	if st := mustRecover(t, rt, sp.ID); st.State != runtime.StateRunning {
		t.Fatalf("state after start = %v", st.State)
	}
}

func testDeleteIdempotent(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec()
	s.create(t, rt, sp)
	if left, err := s.probe.Leftovers(ctxT(t), rt, sp.ID); err != nil || len(left) == 0 {
		t.Fatalf("the probe sees nothing of a running sandbox: %v %v", left, err)
	}
	what := "delete"
	if s.caps.Pause {
		// Deleting a paused sandbox must work: frozen tasks cannot die.
		if err := rt.Pause(ctxT(t), sp.ID); err != nil {
			t.Fatal(err)
		}
		what = "delete paused"
	}
	if err := rt.Delete(ctxT(t), sp.ID); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	s.assertGone(t, rt, sp.ID)
	if err := rt.Delete(ctxT(t), sp.ID); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if st := mustRecover(t, rt, sp.ID); st.State != runtime.StateMissing {
		t.Fatalf("deleted sandbox recovers as %v", st.State)
	}
	if err := rt.Delete(ctxT(t), newID()); err != nil {
		t.Fatalf("delete of unknown id: %v", err)
	}
}

// testRecover restarts the driver over a running, a paused (when the
// driver pauses) and a stopped sandbox.
func testRecover(t *testing.T, s *suite) {
	dir := s.StateDir(t)
	rt1 := s.New(t, dir)
	running, paused, stopped := s.spec(), s.spec(), s.spec()
	s.create(t, rt1, running)
	s.create(t, rt1, paused)
	s.create(t, rt1, stopped)
	wants := map[string]runtime.State{
		running.ID: runtime.StateRunning, paused.ID: runtime.StateRunning,
		stopped.ID: runtime.StateStopped, newID(): runtime.StateMissing,
	}
	if s.caps.Pause {
		if err := rt1.Pause(ctxT(t), paused.ID); err != nil {
			t.Fatal(err)
		}
		wants[paused.ID] = runtime.StatePaused
	}
	if err := rt1.Stop(ctxT(t), stopped.ID, time.Second); err != nil {
		t.Fatal(err)
	}

	rt2 := s.New(t, dir) // the server restarted
	for id, want := range wants {
		if st := mustRecover(t, rt2, id); st.State != want {
			t.Errorf("recover %s = %+v, want %v", id, st, want)
		}
	}
	if s.caps.Pause {
		if err := rt2.Pause(ctxT(t), running.ID); err != nil {
			t.Fatalf("pause after restart: %v", err)
		}
		if err := rt2.Resume(ctxT(t), paused.ID); err != nil {
			t.Fatalf("resume after restart: %v", err)
		}
	}
	if out, err := s.Exec(ctxT(t), rt2, paused.ID, "echo", "alive"); err != nil || out != "alive\n" {
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
		s.assertGone(t, rt2, id)
	}
}

func testKilledOutside(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec("sh", "-c", "while :; do sleep 1; done")
	s.create(t, rt, sp)
	if err := s.probe.Kill(ctxT(t), rt, sp.ID); err != nil {
		t.Fatal(err)
	}
	var st runtime.Status
	eventually(t, "sandbox to be seen stopped", func() bool {
		st = mustRecover(t, rt, sp.ID)
		return st.State == runtime.StateStopped
	})
	if st.Reason == "" {
		t.Errorf("stopped without a reason: %+v", st)
	}
	t.Logf("reason: %s", st.Reason)
	// It boots again on its disk.
	if err := rt.Start(ctxT(t), sp); err != nil {
		t.Fatalf("start after crash: %v", err)
	}
	if st := mustRecover(t, rt, sp.ID); st.State != runtime.StateRunning {
		t.Fatalf("after start: %+v", st)
	}
}

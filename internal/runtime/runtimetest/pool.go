package runtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
)

// testPool prepares a sandbox, takes it into a user's with an
// environment, a workload and limits of its own, and drives it by the
// user's id only, across a restart of the driver; then checks that a
// dropped and a failed take leave nothing, under either id.
func testPool(t *testing.T, s *suite) {
	dir := s.StateDir(t)
	ps := s.prepare(t, s.New(t, dir))
	rt := s.New(t, dir) // the server restarted: it finds, and takes, what the first prepared
	pl, _ := runtime.AsPooler(rt)
	if got := prepared(t, rt); !slices.Contains(got, ps) {
		t.Fatalf("a restarted driver lists %v as prepared, without %v", got, ps)
	}
	sp := s.spec("sh", "-c", "echo taken-as-$FOO > /tmp/marker; exec sleep 1000")
	sp.Env = map[string]string{"FOO": "bar"}
	s.deleteAtEnd(t, rt, sp.ID, ps.ID)
	if err := pl.Take(ctxT(t), ps, sp); err != nil {
		t.Fatalf("take: %v", err)
	}
	if got := prepared(t, rt); slices.Contains(got, ps) {
		t.Errorf("a taken sandbox is still listed as prepared: %v", got)
	}
	s.checkTaken(t, rt, sp)

	rt2 := s.New(t, dir) // the server restarted
	if st := mustRecover(t, rt2, sp.ID); st.State != runtime.StateRunning {
		t.Fatalf("recover of the taken sandbox = %+v", st)
	}
	s.checkTaken(t, rt2, sp)
	if err := rt2.Stop(ctxT(t), sp.ID, time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if st := mustRecover(t, rt2, sp.ID); st.State != runtime.StateStopped {
		t.Fatalf("recover after stop = %+v", st)
	}
	if err := rt2.Start(ctxT(t), sp); err != nil {
		t.Fatalf("start: %v", err)
	}
	s.checkTaken(t, rt2, sp)
	if err := rt2.Delete(ctxT(t), sp.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	s.assertGone(t, rt2, sp.ID)
	s.assertGone(t, rt2, ps.ID)
}

// testPoolDropAndFailedTake checks that a dropped prepared sandbox and
// one whose take fails (the spec names another image than the prepared
// one's) leave nothing.
func testPoolDropAndFailedTake(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	pl, _ := runtime.AsPooler(rt)
	dropped := s.prepare(t, rt)
	if err := pl.DropPrepared(ctxT(t), dropped); err != nil {
		t.Fatalf("drop: %v", err)
	}
	s.assertGone(t, rt, dropped.ID)

	ps := s.prepare(t, rt)
	sp := s.spec()
	sp.Image = s.Image + "-other"
	s.deleteAtEnd(t, rt, sp.ID, ps.ID)
	if err := pl.Take(ctxT(t), ps, sp); err == nil {
		t.Fatal("a take of a sandbox prepared on another image succeeded")
	}
	if st := mustRecover(t, rt, sp.ID); st.State != runtime.StateMissing {
		t.Errorf("after a failed take, recover of its id = %+v, want missing", st)
	}
	if got := prepared(t, rt); len(got) != 0 {
		t.Errorf("prepared after a drop and a failed take: %v", got)
	}
	s.assertGone(t, rt, sp.ID)
	s.assertGone(t, rt, ps.ID)
}

// prepare prepares a sandbox on the suite's image and checks that the
// driver lists it.
func (s *suite) prepare(t *testing.T, rt runtime.Runtime) runtime.PoolSpec {
	t.Helper()
	pl, _ := runtime.AsPooler(rt)
	ps := runtime.PoolSpec{ID: "pool" + newID(), Image: s.Image, DiskMB: 64}
	if s.caps.PoolLimits {
		sp := s.spec()
		ps.CPU, ps.MemoryMB = sp.CPU, sp.MemoryMB
	}
	s.deleteAtEnd(t, rt, ps.ID)
	if err := pl.Prepare(ctxT(t), ps); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if got := prepared(t, rt); !slices.Contains(got, ps) {
		t.Fatalf("prepared lists %v, without %v", got, ps)
	}
	return ps
}

// deleteAtEnd removes ids (a user's sandbox or a prepared one) at the
// end of the test and checks that nothing is left of them.
func (s *suite) deleteAtEnd(t *testing.T, rt runtime.Runtime, ids ...string) {
	pl, _ := runtime.AsPooler(rt)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		for _, id := range ids {
			_ = pl.DropPrepared(ctx, runtime.PoolSpec{ID: id})
			if err := rt.Delete(ctx, id); err != nil {
				t.Errorf("cleanup: delete %s: %v", id, err)
			}
			s.assertGone(t, rt, id)
		}
	})
}

func prepared(t *testing.T, rt runtime.Runtime) []runtime.PoolSpec {
	t.Helper()
	pl, _ := runtime.AsPooler(rt)
	got, err := pl.Prepared(ctxT(t))
	if err != nil {
		t.Fatalf("prepared: %v", err)
	}
	return got
}

// checkTaken checks, by the user's id only, that the sandbox is sp's:
// its workload ran with sp's environment, the agent's commands see that
// environment, its hostname comes from sp.ID, its memory limit is sp's,
// and pause and resume work.
func (s *suite) checkTaken(t *testing.T, rt runtime.Runtime, sp runtime.Spec) {
	t.Helper()
	eventually(t, "the workload's marker", func() bool {
		out, _ := s.agentExec(t, rt, sp.ID, "cat", "/tmp/marker")
		return out == "taken-as-bar\n"
	})
	if out, _ := s.agentExec(t, rt, sp.ID, "sh", "-c", "echo $FOO"); out != "bar\n" {
		t.Errorf("the agent's command sees FOO=%q, want bar", strings.TrimSpace(out))
	}
	if out, _ := s.agentExec(t, rt, sp.ID, "hostname"); out == "\n" || !strings.HasPrefix(sp.ID, strings.TrimSpace(out)) {
		t.Errorf("hostname %q is not of %s", strings.TrimSpace(out), sp.ID)
	}
	st, err := rt.Stats(ctxT(t), sp.ID)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if st.MemoryLimit != sp.MemoryMB<<20 {
		t.Errorf("memory limit %d, want %d", st.MemoryLimit, sp.MemoryMB<<20)
	}
	if !s.caps.Pause {
		return
	}
	if err := rt.Pause(ctxT(t), sp.ID); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if frozen, err := s.probe.Frozen(ctxT(t), rt, sp.ID); observed(t, "whether it is frozen", err) && !frozen {
		t.Error("paused, the taken sandbox is not frozen")
	}
	if err := rt.Resume(ctxT(t), sp.ID); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if out, _ := s.agentExec(t, rt, sp.ID, "echo", "alive"); out != "alive\n" {
		t.Fatalf("exec after resume: %q", out)
	}
}

// agentExec runs argv through the sandbox's agent and returns its stdout
// and exit code.
func (s *suite) agentExec(t *testing.T, rt runtime.Runtime, id string, argv ...string) (string, int) {
	t.Helper()
	ad, ok := runtime.AsAgentDialer(rt)
	if !ok {
		t.Fatal("Pool declared without Agent")
	}
	body, _ := json.Marshal(map[string]any{"command": argv})
	req, _ := http.NewRequest("POST", "http://agent/exec", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, b := agentCall(t, ad, id, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent exec %v: %s: %s", argv, resp.Status, b)
	}
	var res struct {
		Stdout   string `json:"stdout"`
		ExitCode int    `json:"exitCode"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("agent exec %v: %v", argv, err)
	}
	return res.Stdout, res.ExitCode
}

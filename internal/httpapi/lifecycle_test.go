package httpapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
)

func TestCreateGetAndEnvNotEchoed(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/v1/sandboxes", map[string]any{
		"name": "web", "env": map[string]string{"SECRET": "hunter2"},
		"metadata": map[string]string{"team": "a"}, "resources": map[string]any{"cpu": 0.5, "memoryMB": 256},
		"timeoutSeconds": 600,
	})
	sb := r.sandbox(t)
	if sb.State != "running" || sb.DesiredState != "running" || sb.Name != "web" || sb.Image != "base" {
		t.Fatalf("created %+v", sb)
	}
	if sb.Resources.CPU != 0.5 || sb.Resources.MemoryMB != 256 || sb.Resources.Pids != 256 || !sb.Network.Internet {
		t.Fatalf("resources/network defaults: %+v %+v", sb.Resources, sb.Network)
	}
	if sb.ExpiresAt == nil || sb.ExpiresAt.Sub(sb.CreatedAt) != 600*time.Second || sb.StartedAt == nil {
		t.Fatalf("expiry/started: %+v", sb)
	}
	if strings.Contains(string(r.body), "hunter2") {
		t.Fatal("env value echoed in create response")
	}
	for _, ref := range []string{sb.ID, "web"} {
		got := e.must(200, "GET", "/v1/sandboxes/"+ref, nil)
		if got.sandbox(t).ID != sb.ID || strings.Contains(string(got.body), "hunter2") {
			t.Fatalf("get %s: %s", ref, got.body)
		}
	}
	if e.rt.State(sb.ID) != runtime.StateRunning {
		t.Fatalf("runtime state %s", e.rt.State(sb.ID))
	}
	if r := e.must(409, "POST", "/v1/sandboxes", map[string]string{"name": "web"}); r.errBody(t).Code != api.CodeAlreadyExists {
		t.Fatalf("duplicate name: %s", r.body)
	}
}

func TestCreateNoWait(t *testing.T) {
	e := newEnv(t)
	release := e.rt.BlockCreate()
	t.Cleanup(release)
	r := e.must(202, "POST", "/v1/sandboxes?wait=false", map[string]string{"name": "slow"})
	if st := r.sandbox(t).State; st != "creating" {
		t.Fatalf("state %s, want creating", st)
	}
	if got := e.must(200, "GET", "/v1/sandboxes/slow", nil).sandbox(t); got.State != "creating" {
		t.Fatalf("while blocked: %s", got.State)
	}
	release()
	waitState(t, e, "slow", "running")
}

func waitState(t *testing.T, e *env, ref, want string) api.Sandbox {
	t.Helper()
	var sb api.Sandbox
	poll.Until(t, ref+" "+want, func() bool {
		sb = e.must(200, "GET", "/v1/sandboxes/"+ref, nil).sandbox(t)
		return sb.State == want
	})
	return sb
}

func TestLifecycleActions(t *testing.T) {
	e := newEnv(t)
	id := e.create("box").ID
	p := "/v1/sandboxes/" + id
	steps := []struct {
		method, path string
		status       int
		state        string
		rt           runtime.State
	}{
		{"POST", p + "/pause", 200, "paused", runtime.StatePaused},
		{"POST", p + "/pause", 200, "paused", runtime.StatePaused}, // repeat is not an error
		{"POST", p + "/resume", 200, "running", runtime.StateRunning},
		{"POST", p + "/resume", 200, "running", runtime.StateRunning},
		{"POST", p + "/stop", 200, "stopped", runtime.StateStopped},
		{"POST", p + "/stop?force=true", 200, "stopped", runtime.StateStopped},
		{"POST", p + "/start", 200, "running", runtime.StateRunning},
		{"POST", p + "/pause", 200, "paused", runtime.StatePaused},
		{"POST", p + "/stop", 200, "stopped", runtime.StateStopped},
		{"DELETE", p, 200, "deleted", runtime.StateMissing},
		{"DELETE", p, 200, "deleted", runtime.StateMissing},
	}
	for _, s := range steps {
		sb := e.must(s.status, s.method, s.path, nil).sandbox(t)
		if sb.State != s.state || sb.DesiredState != s.state {
			t.Fatalf("%s %s: state %s desired %s, want %s", s.method, s.path, sb.State, sb.DesiredState, s.state)
		}
		if got := e.rt.State(id); got != s.rt {
			t.Fatalf("%s %s: runtime %s, want %s", s.method, s.path, got, s.rt)
		}
	}
	if got := e.must(200, "GET", p, nil).sandbox(t); got.State != "deleted" {
		t.Fatalf("deleted sandbox reads as %s", got.State)
	}
	// The name is free again once the old sandbox is deleted.
	if again := e.create("box"); again.ID == id {
		t.Fatal("new sandbox reused the deleted ID")
	}
}

func TestIllegalTransitionsAre409WithState(t *testing.T) {
	e := newEnv(t)
	id := e.create("x").ID
	e.must(200, "POST", "/v1/sandboxes/"+id+"/stop", nil)
	for _, a := range []string{"pause", "resume"} {
		r := e.must(409, "POST", "/v1/sandboxes/"+id+"/"+a, nil)
		if eb := r.errBody(t); eb.Code != api.CodeInvalidState || !strings.Contains(eb.Message, "stopped") {
			t.Fatalf("%s on stopped: %+v", a, eb)
		}
	}
	e.must(200, "POST", "/v1/sandboxes/"+id+"/start", nil)
	r := e.must(409, "POST", "/v1/sandboxes/"+id+"/archive", nil)
	if eb := r.errBody(t); eb.Code != api.CodeInvalidState || !strings.Contains(eb.Message, "running") {
		t.Fatalf("archive on running: %+v", eb)
	}
}

func TestArchiveRefusedWhenRuntimeCannot(t *testing.T) {
	e := newEnv(t)
	id := e.create("x").ID
	e.must(200, "POST", "/v1/sandboxes/"+id+"/stop", nil)
	r := e.must(501, "POST", "/v1/sandboxes/"+id+"/archive", nil)
	if eb := r.errBody(t); eb.Code != api.CodeNotImplemented {
		t.Fatalf("archive: %+v", eb)
	}
	if got := e.must(200, "GET", "/v1/sandboxes/"+id, nil).sandbox(t); got.State != "stopped" {
		t.Fatalf("refused archive changed state to %s", got.State)
	}
}

func TestRuntimeFailureGivesErrorStateAndRetry(t *testing.T) {
	e := newEnv(t)
	id := e.create("x").ID
	e.rt.FailNext("pause", errors.New("freezer stuck"))
	r := e.do("POST", "/v1/sandboxes/"+id+"/pause", e.key, nil)
	if r.status != 500 {
		t.Fatalf("failed pause: %d %s", r.status, r.body)
	}
	sb := e.must(200, "GET", "/v1/sandboxes/"+id, nil).sandbox(t)
	if sb.State != "error" || !strings.Contains(sb.StateReason, "freezer stuck") {
		t.Fatalf("after failure: %s %q", sb.State, sb.StateReason)
	}
	// From error, stop then start recovers the sandbox.
	e.must(200, "POST", "/v1/sandboxes/"+id+"/stop", nil)
	if sb := e.must(200, "POST", "/v1/sandboxes/"+id+"/start", nil).sandbox(t); sb.State != "running" || sb.StateReason != "" {
		t.Fatalf("after retry: %+v", sb)
	}
}

func TestEventsRecordTransitions(t *testing.T) {
	e := newEnv(t)
	id := e.create("x").ID
	e.must(200, "POST", "/v1/sandboxes/"+id+"/pause", nil)
	e.must(200, "POST", "/v1/sandboxes/"+id+"/resume", nil)
	var evs api.EventList
	e.must(200, "GET", "/v1/sandboxes/"+id+"/events", nil).decode(t, &evs)
	var got []string
	for _, ev := range evs.Items {
		if ev.Type == "state" {
			got = append(got, ev.From+">"+ev.To+":"+ev.Cause)
		}
	}
	want := []string{">creating:user", "creating>running:user", "running>pausing:user", "pausing>paused:user",
		"paused>resuming:user", "resuming>running:user"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
}

// TestDeleteDuringCreateLeavesNothing deletes a sandbox while its boot is
// under way: the delete waits for the boot, then removes what it made.
func TestDeleteDuringCreateLeavesNothing(t *testing.T) {
	e := newEnv(t)
	release := e.rt.BlockCreate()
	t.Cleanup(release)
	id := e.must(202, "POST", "/v1/sandboxes?wait=false", map[string]string{"name": "racy"}).sandbox(t).ID
	deleted := make(chan response, 1)
	go func() { deleted <- e.do("DELETE", "/v1/sandboxes/"+id, e.key, nil) }()
	select {
	case r := <-deleted:
		t.Fatalf("delete answered while the boot was still under way: %d %s", r.status, r.body)
	case <-time.After(200 * time.Millisecond): // the delete is queued behind the boot
	}
	release()
	r := <-deleted
	if r.status != 200 || r.sandbox(t).State != "deleted" {
		t.Fatalf("delete during create: %d %s", r.status, r.body)
	}
	if st := e.rt.State(id); st != runtime.StateMissing {
		t.Fatalf("runtime still has the sandbox: %s", st)
	}
}

// TestActionsWithoutWaitAnswer202 checks ?wait=false on an action: 202
// with the transitional state, then the settled state shortly after.
func TestActionsWithoutWaitAnswer202(t *testing.T) {
	e := newEnv(t)
	id := e.create("nowait").ID
	for _, c := range []struct{ action, via, to string }{
		{"pause", "pausing", "paused"},
		{"resume", "resuming", "running"},
		{"stop", "stopping", "stopped"},
	} {
		sb := e.must(202, "POST", "/v1/sandboxes/"+id+"/"+c.action+"?wait=false", nil).sandbox(t)
		if sb.State != c.via || sb.DesiredState != c.to {
			t.Fatalf("%s?wait=false: state %s desired %s", c.action, sb.State, sb.DesiredState)
		}
		waitState(t, e, id, c.to)
	}
}

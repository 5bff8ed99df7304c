package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestPauseMemoryBody: the pause body's memory mode reaches the
// lifecycle; a runtime without checkpoints answers release with a 400 on
// the memory field that says why, and nothing changes.
func TestPauseMemoryBody(t *testing.T) {
	e := newEnv(t)
	sb := e.create("pausebody")
	r := e.do("POST", "/v1/sandboxes/"+sb.ID+"/pause", e.key, map[string]string{"memory": "release"})
	if r.status != http.StatusBadRequest {
		t.Fatalf("release without checkpoints: %d %s", r.status, r.body)
	}
	if d := r.errBody(t); !strings.Contains(d.Message, "memory") || !strings.Contains(d.Message, "checkpoint") {
		t.Fatalf("release refusal does not say why: %+v", d)
	}
	if got := e.do("GET", "/v1/sandboxes/"+sb.ID, e.key, nil).sandbox(t); got.State != "running" || got.Pause != nil {
		t.Fatalf("refused release changed the sandbox: %+v", got)
	}
	for _, bad := range []string{`{"memory":"swap"}`, `{"memroy":"keep"}`} {
		if r := e.do("POST", "/v1/sandboxes/"+sb.ID+"/pause", e.key, bad); r.status != http.StatusBadRequest {
			t.Fatalf("pause %s: %d %s", bad, r.status, r.body)
		}
	}
	r = e.do("POST", "/v1/sandboxes/"+sb.ID+"/pause", e.key, map[string]string{"memory": "keep"})
	got := r.sandbox(t)
	if r.status != http.StatusOK || got.State != "paused" || got.Pause == nil || got.Pause.Memory != "resident" || got.Pause.Since.IsZero() {
		t.Fatalf("pause keep: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/v1/sandboxes/"+sb.ID+"/resume", e.key, nil)
	if got := r.sandbox(t); got.State != "running" || got.Pause != nil {
		t.Fatalf("resume: %s", r.body)
	}
	// An empty body is today's pause.
	if r := e.do("POST", "/v1/sandboxes/"+sb.ID+"/pause", e.key, nil); r.status != http.StatusOK {
		t.Fatalf("pause without a body: %d %s", r.status, r.body)
	}
}

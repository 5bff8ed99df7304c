package hopx_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/compat/compattest"
	"github.com/hutchdev/hutch/internal/compat/hopx"
)

func newEnv(t *testing.T) (*compattest.Env, func(method, path string, body any) compattest.Response) {
	e := compattest.New(t, hopx.Mount)
	return e, func(method, path string, body any) compattest.Response {
		t.Helper()
		return e.Do(method, hopx.Prefix+path, map[string]string{"Authorization": "Bearer " + e.Key}, body)
	}
}

func want(t *testing.T, r compattest.Response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.Map(t)
	if id := r.Header.Get("X-Request-Id"); id == "" || m["request_id"] != id {
		t.Fatalf("request_id %v, header %q", m["request_id"], id)
	}
	return m
}

// wantError checks HopX's error body: {error, code, request_id}, with
// the text also in message (what the SDK reads).
func wantError(t *testing.T, r compattest.Response, status int, code string) map[string]any {
	t.Helper()
	m := want(t, r, status)
	if m["code"] != code || m["error"] == "" || m["error"] != m["message"] {
		t.Fatalf("error body %v, want code %s", m, code)
	}
	return m
}

// TestSeedsServedAsWritten runs the seed pages' requests (Get, Pause,
// Resume Sandbox) and checks their documented statuses and bodies.
func TestSeedsServedAsWritten(t *testing.T) {
	_, do := newEnv(t)
	created := want(t, do("POST", "/v1/sandboxes", map[string]any{"template_name": "code-interpreter", "timeout_seconds": 3600,
		"env_vars": map[string]string{"A": "1"}}), http.StatusCreated)
	id := created["id"].(string)
	if created["auth_token"] == "" || created["status"] != "running" {
		t.Fatalf("create: %v", created)
	}
	exp, err := time.Parse(time.RFC3339, created["token_expires_at"].(string))
	if err != nil || time.Until(exp) < 2*time.Hour {
		t.Fatalf("token_expires_at %v (%v): the SDK refreshes tokens with less than an hour left", created["token_expires_at"], err)
	}

	got := want(t, do("GET", "/v1/sandboxes/"+id, nil), http.StatusOK)
	for _, field := range []string{"id", "object", "status", "public_host", "direct_url", "template_id", "template_name",
		"organization_id", "node_id", "region", "resources", "internet_access", "timeout_seconds", "expires_at", "created_at"} {
		if _, ok := got[field]; !ok {
			t.Errorf("get has no %s: %v", field, got)
		}
	}
	if got["object"] != "sandbox" || got["status"] != "running" || got["template_name"] != "code-interpreter" {
		t.Fatalf("get: %v", got)
	}
	if host := got["public_host"].(string); !strings.HasPrefix(host, "http://") || !strings.HasSuffix(host, "/compat/hopx/agent/"+id) {
		t.Fatalf("public_host %q", host)
	}
	if _, ok := got["auth_token"]; ok {
		t.Fatal("get hands out the agent token; only create and refresh do")
	}

	paused := want(t, do("POST", "/v1/sandboxes/"+id+"/pause", nil), http.StatusOK)
	if paused["id"] != id || paused["status"] != "paused" {
		t.Fatalf("pause: %v", paused)
	}
	resumed := want(t, do("POST", "/v1/sandboxes/"+id+"/resume", nil), http.StatusOK)
	if resumed["status"] != "running" {
		t.Fatalf("resume: %v", resumed)
	}
	m := wantError(t, do("GET", "/v1/sandboxes/sandbox_abc123xyz", nil), http.StatusNotFound, "RESOURCE_NOT_FOUND")
	if msg := strings.ToLower(m["message"].(string)); !strings.Contains(msg, "sandbox") || !strings.Contains(msg, "not found") {
		t.Fatalf("the SDK turns a 404 saying the sandbox is not found into SandboxExpiredError: %q", msg)
	}
	wantError(t, do("POST", "/v1/sandboxes/sandbox_abc123xyz/resume", nil), http.StatusNotFound, "RESOURCE_NOT_FOUND")
}

func TestLifecycleAndList(t *testing.T) {
	e, do := newEnv(t)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, want(t, do("POST", "/v1/sandboxes", map[string]any{"template_id": "base"}), http.StatusCreated)["id"].(string))
	}
	// Cursor pages, newest first, each sandbox once.
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		q := "/v1/sandboxes?limit=2&status=running"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		page := want(t, do("GET", q, nil), http.StatusOK)
		for _, s := range page["data"].([]any) {
			seen[s.(map[string]any)["id"].(string)] = true
		}
		if page["has_more"] != true {
			if page["next_cursor"] != nil {
				t.Fatalf("last page has a cursor: %v", page)
			}
			break
		}
		cursor = page["next_cursor"].(string)
		if pages > 3 {
			t.Fatal("pages never end")
		}
	}
	if len(seen) != 3 {
		t.Fatalf("pages saw %v", seen)
	}

	if st := want(t, do("POST", "/v1/sandboxes/"+ids[0]+"/stop", ""), http.StatusOK)["status"]; st != "stopped" {
		t.Fatalf("stop: %v", st)
	}
	stopped := want(t, do("GET", "/v1/sandboxes?status=stopped", nil), http.StatusOK)["data"].([]any)
	if len(stopped) != 1 || stopped[0].(map[string]any)["id"] != ids[0] {
		t.Fatalf("stopped list: %v", stopped)
	}
	if st := want(t, do("POST", "/v1/sandboxes/"+ids[0]+"/start", nil), http.StatusOK)["status"]; st != "running" {
		t.Fatalf("start: %v", st)
	}
	// Pausing a stopped sandbox is a conflict, not a crash.
	want(t, do("POST", "/v1/sandboxes/"+ids[1]+"/stop", nil), http.StatusOK)
	wantError(t, do("POST", "/v1/sandboxes/"+ids[1]+"/pause", nil), http.StatusConflict, "INVALID_STATE")

	set := want(t, do("PUT", "/v1/sandboxes/"+ids[2]+"/timeout", map[string]any{"timeout_seconds": 600}), http.StatusOK)
	exp, _ := time.Parse(time.RFC3339Nano, set["expires_at"].(string))
	if left := time.Until(exp); left < 590*time.Second || left > 610*time.Second {
		t.Fatalf("expires_at %v is %v away", set["expires_at"], left)
	}

	// Another organisation's sandbox does not exist for it.
	other := e.Do("GET", hopx.Prefix+"/v1/sandboxes/"+ids[2], map[string]string{"X-API-Key": e.OtherKey}, nil)
	wantError(t, other, http.StatusNotFound, "RESOURCE_NOT_FOUND")

	want(t, do("DELETE", "/v1/sandboxes/"+ids[2], nil), http.StatusOK)
	wantError(t, do("GET", "/v1/sandboxes/"+ids[2], nil), http.StatusNotFound, "RESOURCE_NOT_FOUND")
	wantError(t, do("POST", "/v1/sandboxes/"+ids[2]+"/token/refresh", nil), http.StatusNotFound, "RESOURCE_NOT_FOUND")
}

// TestBadInput: clear 400s naming the field, never a 500.
func TestBadInput(t *testing.T) {
	e, do := newEnv(t)
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		code, field  string
	}{
		{"POST", "/v1/sandboxes", map[string]any{}, 400, "INVALID_REQUEST", "template_name"},
		{"POST", "/v1/sandboxes", map[string]any{"template_id": 73}, 404, "RESOURCE_NOT_FOUND", "template"},
		{"POST", "/v1/sandboxes", `{"template_name": "base", "timeout_seconds": "soon"}`, 400, "INVALID_REQUEST", "timeout_seconds"},
		{"POST", "/v1/sandboxes", `{"template_name": `, 400, "INVALID_REQUEST", "JSON"},
		{"GET", "/v1/sandboxes?status=sleeping", nil, 400, "INVALID_REQUEST", "status"},
		{"GET", "/v1/sandboxes?limit=-3", nil, 400, "INVALID_REQUEST", "limit"},
		{"GET", "/v1/sandboxes?cursor=nope", nil, 400, "INVALID_REQUEST", "cursor"},
		{"POST", "/v1/templates/build", map[string]any{"name": "x"}, 400, "NOT_SUPPORTED", "template builds"},
	} {
		m := wantError(t, do(c.method, c.path, c.body), c.status, c.code)
		if !strings.Contains(m["message"].(string), c.field) {
			t.Errorf("%s %s: message %q does not name %s", c.method, c.path, m["message"], c.field)
		}
	}
	id := want(t, do("POST", "/v1/sandboxes", map[string]any{"template_name": "base"}), http.StatusCreated)["id"].(string)
	wantError(t, do("PUT", "/v1/sandboxes/"+id+"/timeout", map[string]any{"timeout_seconds": 0}), 400, "INVALID_REQUEST")
	wantError(t, e.Do("GET", hopx.Prefix+"/v1/sandboxes", nil, nil), http.StatusUnauthorized, "UNAUTHORIZED")
	wantError(t, e.Do("GET", hopx.Prefix+"/v1/sandboxes", map[string]string{"X-API-Key": "hk_wrong"}, nil), http.StatusUnauthorized, "UNAUTHORIZED")
}

// TestAgentTokens: an agent token opens only its own sandbox; the agent
// answers through it (the stack's agent runs in the test process).
func TestAgentTokens(t *testing.T) {
	e, do := newEnv(t)
	a := want(t, do("POST", "/v1/sandboxes", map[string]any{"template_name": "base"}), http.StatusCreated)
	b := want(t, do("POST", "/v1/sandboxes", map[string]any{"template_name": "base"}), http.StatusCreated)
	dir := t.TempDir()
	file := filepath.Join(dir, "note.txt")
	agent := func(id, token, method, path string, body any) compattest.Response {
		return e.Do(method, hopx.Prefix+"/agent/"+id+path, map[string]string{"Authorization": "Bearer " + token}, body)
	}
	wantError(t, agent(b["id"].(string), a["auth_token"].(string), "GET", "/health", nil), http.StatusUnauthorized, "TOKEN_INVALID")
	wantError(t, agent(a["id"].(string), "hopx_forged", "GET", "/health", nil), http.StatusUnauthorized, "TOKEN_INVALID")

	id, tok := a["id"].(string), a["auth_token"].(string)
	if r := agent(id, tok, "POST", "/files/write", map[string]any{"path": file, "content": "kept"}); r.Status != 200 {
		t.Fatalf("write: %d %s", r.Status, r.Body)
	}
	var read struct{ Content string }
	if r := agent(id, tok, "GET", "/files/read?path="+file, nil); r.Status != 200 {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	} else if r.JSON(t, &read); read.Content != "kept" {
		t.Fatalf("read back %q", read.Content)
	}
	wantError(t, agent(id, tok, "GET", "/files/read?path="+filepath.Join(dir, "missing"), nil), http.StatusNotFound, "FILE_NOT_FOUND")
	var run struct {
		Stdout   string `json:"stdout"`
		ExitCode int    `json:"exit_code"`
		Success  bool   `json:"success"`
	}
	r := agent(id, tok, "POST", "/commands/run", map[string]any{"command": "sh", "args": []string{"-c", "cat note.txt; exit 4"}, "workdir": dir})
	if r.JSON(t, &run); r.Status != 200 || run.Stdout != "kept" || run.ExitCode != 4 || run.Success {
		t.Fatalf("commands/run: %d %s", r.Status, r.Body)
	}
	var exists struct{ Exists bool }
	if agent(id, tok, "GET", "/files/exists?path="+filepath.Join(dir, "missing"), nil).JSON(t, &exists); exists.Exists {
		t.Fatal("a missing file exists")
	}

	// The SDK keeps sending its first token after a refresh: both work.
	refreshed := want(t, do("POST", "/v1/sandboxes/"+id+"/token/refresh", nil), http.StatusOK)
	for _, token := range []string{tok, refreshed["auth_token"].(string)} {
		if r := agent(id, token, "GET", "/health", nil); r.Status != 200 {
			t.Fatalf("health with a live token: %d %s", r.Status, r.Body)
		}
	}
	// Paused: refused at once with a 4xx (the SDK retries 5xx).
	want(t, do("POST", "/v1/sandboxes/"+id+"/pause", nil), http.StatusOK)
	wantError(t, agent(id, tok, "GET", "/files/read?path="+file, nil), http.StatusConflict, "SANDBOX_PAUSED")
	// Another organisation's key does not open the agent either.
	r = e.Do("GET", hopx.Prefix+"/agent/"+id+"/health", map[string]string{"X-API-Key": e.OtherKey}, nil)
	wantError(t, r, http.StatusNotFound, "RESOURCE_NOT_FOUND")
}

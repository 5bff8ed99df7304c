package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

// fakeServer implements a few routes of the native API in memory and
// records what it was sent.
type fakeServer struct {
	mu        sync.Mutex
	sandboxes map[string]api.Sandbox
	requests  int
	lastQuery url.Values
	lastBody  []byte
	lastAuth  string
	url       string
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{sandboxes: map[string]api.Sandbox{
		"sb_1": {ID: "sb_1", Name: "alpha", State: "running", Image: "alpine:3.20", CreatedAt: time.Now().Add(-3 * time.Minute)},
		"sb_2": {ID: "sb_2", Name: "beta", State: "paused", Image: "python:3.12", CreatedAt: time.Now().Add(-50 * time.Hour)},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sandboxes", func(w http.ResponseWriter, r *http.Request) {
		var req api.CreateSandboxRequest
		if err := json.Unmarshal(f.lastBody, &req); err != nil {
			writeErr(w, 400, api.CodeInvalidArgument, err.Error())
			return
		}
		sb := api.Sandbox{ID: "sb_new", Name: req.Name, Image: req.Image, State: "running", Metadata: req.Metadata}
		status := http.StatusCreated
		if r.URL.Query().Get("wait") == "false" {
			sb.State, status = "creating", http.StatusAccepted
		}
		writeJSON(w, status, sb)
	})
	mux.HandleFunc("GET /v1/sandboxes", func(w http.ResponseWriter, r *http.Request) {
		list := api.SandboxList{Items: []api.Sandbox{f.sandboxes["sb_1"], f.sandboxes["sb_2"]},
			Pagination: api.Pagination{Page: 1, PageSize: 20, TotalItems: 2, TotalPages: 1}}
		writeJSON(w, 200, list)
	})
	mux.HandleFunc("GET /v1/sandboxes/{id}", func(w http.ResponseWriter, r *http.Request) {
		if sb, ok := f.sandboxes[r.PathValue("id")]; ok {
			writeJSON(w, 200, sb)
			return
		}
		writeErr(w, 404, api.CodeSandboxNotFound, fmt.Sprintf("sandbox %q not found", r.PathValue("id")))
	})
	action := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			sb, ok := f.sandboxes[r.PathValue("id")]
			if !ok {
				writeErr(w, 404, api.CodeSandboxNotFound, fmt.Sprintf("sandbox %q not found", r.PathValue("id")))
				return
			}
			if to == "paused" && sb.State != "running" {
				writeErr(w, 409, api.CodeInvalidState, "cannot pause a sandbox in state "+sb.State)
				return
			}
			sb.State = to
			writeJSON(w, 200, sb)
		}
	}
	mux.HandleFunc("POST /v1/sandboxes/{id}/pause", action("paused"))
	mux.HandleFunc("POST /v1/sandboxes/{id}/stop", action("stopped"))
	mux.HandleFunc("DELETE /v1/sandboxes/{id}", action("deleted"))
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><title>502 Bad Gateway</title><body>upstream gone</body></html>")
	})
	mux.HandleFunc("POST /v1/images/pull", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for _, l := range []string{
			`{"status":"resolving"}`,
			`{"status":"downloading","layer":"sha256:0123456789abcdef","current":1024,"total":2048}`,
			`{"status":"downloading","layer":"sha256:0123456789abcdef","current":2048,"total":2048}`,
			`{"status":"done","image":{"ref":"alpine:3.20","digest":"sha256:feed"}}`,
		} {
			_, _ = io.WriteString(w, l+"\n")
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests++
		f.lastQuery = r.URL.Query()
		f.lastBody, _ = io.ReadAll(r.Body)
		f.lastAuth = r.Header.Get("Authorization")
		w.Header().Set("X-Request-Id", "req-1")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, RequestID: "req-1"}})
}

// run runs the CLI against f and returns exit code, stdout and stderr.
func (f *fakeServer) run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	args = append([]string{"--url", f.url, "--api-key", "hk_test"}, args...)
	code := Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCreateFlagsBuildRequest(t *testing.T) {
	f := newFakeServer(t)
	code, out, errOut := f.run("create", "--name", "web", "--image", "alpine:3.20",
		"--env", "A=1", "--env", "B=x=y", "--metadata", "team=a", "--cpu", "1.5", "--memory", "512",
		"--disk", "1024", "--pids", "100", "--timeout", "1h", "--auto-stop", "30", "--auto-archive", "2h",
		"--auto-delete", "-1", "--no-internet", "--allow-cidr", "10.0.0.0/8", "--no-wait", "--no-pool",
		"--", "sh", "-c", "sleep 1 --x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "sb_new\n" || !strings.Contains(errOut, "creating") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	if f.lastQuery.Get("wait") != "false" || f.lastAuth != "Bearer hk_test" {
		t.Errorf("query %v auth %q", f.lastQuery, f.lastAuth)
	}
	var got map[string]any
	if err := json.Unmarshal(f.lastBody, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "web", "image": "alpine:3.20",
		"env":            map[string]any{"A": "1", "B": "x=y"},
		"metadata":       map[string]any{"team": "a"},
		"resources":      map[string]any{"cpu": 1.5, "memoryMB": 512.0, "diskMB": 1024.0, "pids": 100.0},
		"timeoutSeconds": 3600.0, "autoStopMinutes": 30.0, "autoArchiveMinutes": 120.0, "autoDeleteMinutes": -1.0,
		"network":    map[string]any{"internet": false, "allowCIDRs": []any{"10.0.0.0/8"}},
		"entrypoint": []any{"sh", "-c", "sleep 1 --x"},
		"pool":       false,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("body\n got %v\nwant %v", got, want)
	}
}

func TestCreateWithoutFlagsSendsEmptyBody(t *testing.T) {
	f := newFakeServer(t)
	code, out, _ := f.run("create")
	if code != 0 || out != "sb_new\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if string(bytes.TrimSpace(f.lastBody)) != "{}" || f.lastQuery.Get("wait") != "true" {
		t.Errorf("body %s query %v", f.lastBody, f.lastQuery)
	}
}

func TestUsageErrorsSendNothing(t *testing.T) {
	cases := [][]string{
		{"create", "--cpu", "abc"},
		{"create", "--memory", "-5"},
		{"create", "--timeout", "soon"},
		{"create", "--auto-stop", "90s"},
		{"create", "--env", "NOEQUALS"},
		{"create", "--bogus"},
		{"create", "extra"},
		{"ls", "--page-size", "500"},
		{"ls", "--page", "x"},
		{"get"},
		{"get", "a", "b"},
		{"pause"},
		{"pause", "--release", "--keep", "sb_1"},
		{"resume", "--release", "sb_2"},
		{"renew", "sb_1", "tomorrow"},
		{"timeout", "sb_1", "1.5s"},
		{"image", "fly"},
		{"image"},
		{"key", "create", "extra"},
		{"frobnicate"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f := newFakeServer(t)
			code, out, errOut := f.run(args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, errOut)
			}
			if f.requests != 0 {
				t.Errorf("%d requests sent before the usage error", f.requests)
			}
			if out != "" || !strings.HasPrefix(errOut, "error: ") || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stdout %q stderr %q, want one error line", out, errOut)
			}
		})
	}
}

func TestAPIErrorIsOneLine(t *testing.T) {
	f := newFakeServer(t)
	code, out, errOut := f.run("get", "nope")
	if code != 1 || out != "" {
		t.Fatalf("exit %d stdout %q", code, out)
	}
	want := "error: sandbox \"nope\" not found (SANDBOX_NOT_FOUND, request id req-1)\n"
	if errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	code, _, errOut = f.run("pause", "sb_2")
	if code != 1 || !strings.Contains(errOut, "cannot pause a sandbox in state paused (INVALID_STATE") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}

func TestNonJSONErrorIsOneLine(t *testing.T) {
	f := newFakeServer(t)
	code, _, errOut := f.run("info")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "502 Bad Gateway") ||
		!strings.Contains(errOut, "upstream gone") || strings.Contains(errOut, "<") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}

func TestUnreachableServer(t *testing.T) {
	var stdout, stderr bytes.Buffer
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	code := Run(context.Background(), []string{"--url", addr, "ls"}, &stdout, &stderr)
	if code != 1 || !strings.HasPrefix(stderr.String(), "error: cannot reach "+addr) {
		t.Errorf("exit %d stderr %q", code, stderr.String())
	}
}

func TestJSONOutputParses(t *testing.T) {
	f := newFakeServer(t)
	code, out, _ := f.run("ls", "--json")
	var list api.SandboxList
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 2 {
		t.Errorf("ls --json: exit %d, %q", code, out)
	}
	code, out, _ = f.run("--json", "get", "sb_1")
	var sb api.Sandbox
	if code != 0 || json.Unmarshal([]byte(out), &sb) != nil || sb.ID != "sb_1" {
		t.Errorf("get --json: exit %d, %q", code, out)
	}
}

func TestListTableAndFilters(t *testing.T) {
	f := newFakeServer(t)
	code, out, _ := f.run("ls", "--state", "running", "--state", "paused", "--metadata", "team=a",
		"--metadata", "env=dev", "--name", "al", "--page", "2", "--page-size", "5")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "AGE") {
		t.Fatalf("table:\n%s", out)
	}
	if !strings.Contains(lines[1], "sb_1") || !strings.Contains(lines[1], "3m") || !strings.Contains(lines[2], "2d") {
		t.Errorf("table:\n%s", out)
	}
	q := f.lastQuery
	md, _ := url.ParseQuery(q.Get("metadata"))
	if strings.Join(q["state"], ",") != "running,paused" || md.Get("team") != "a" || md.Get("env") != "dev" ||
		q.Get("name") != "al" || q.Get("page") != "2" || q.Get("pageSize") != "5" {
		t.Errorf("query %v", q)
	}
}

func TestGetPrintsKeyValues(t *testing.T) {
	f := newFakeServer(t)
	code, out, _ := f.run("get", "sb_1")
	if code != 0 || !strings.Contains(out, "id:") || !strings.Contains(out, "sb_1") || !strings.Contains(out, "timeout:") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestLifecycleSeveralIDs(t *testing.T) {
	f := newFakeServer(t)
	code, out, errOut := f.run("rm", "sb_1", "missing", "sb_2", "--no-wait")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if out != "sb_1\tdeleted\nsb_2\tdeleted\n" {
		t.Errorf("stdout %q", out)
	}
	if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "error: missing: ") {
		t.Errorf("stderr %q", errOut)
	}
	if f.lastQuery.Get("wait") != "false" {
		t.Errorf("flag after the IDs ignored: %v", f.lastQuery)
	}
	code, _, _ = f.run("stop", "sb_1", "--force")
	if code != 0 || f.lastQuery.Get("force") != "true" {
		t.Errorf("exit %d query %v", code, f.lastQuery)
	}
}

func TestImagePullProgress(t *testing.T) {
	f := newFakeServer(t)
	code, out, errOut := f.run("image", "pull", "alpine:3.20")
	if code != 0 || out != "alpine:3.20\tsha256:feed\n" {
		t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
	}
	want := "resolving\n0123456789ab: downloading 1.0 KiB / 2.0 KiB\n0123456789ab: downloading 2.0 KiB / 2.0 KiB\n"
	if errOut != want {
		t.Errorf("progress %q, want %q", errOut, want)
	}
	if string(bytes.TrimSpace(f.lastBody)) != `{"ref":"alpine:3.20"}` {
		t.Errorf("body %s", f.lastBody)
	}
}

func TestHelp(t *testing.T) {
	f := newFakeServer(t)
	code, out, _ := f.run("help")
	if code != 0 || !strings.Contains(out, "create") || !strings.Contains(out, "image") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	code, out, _ = f.run("create", "-h")
	if code != 0 || !strings.Contains(out, "usage: hutch create") || !strings.Contains(out, "-no-internet") {
		t.Errorf("create -h: exit %d\n%s", code, out)
	}
	code, out, _ = f.run("help", "stop")
	if code != 0 || !strings.Contains(out, "-force") {
		t.Errorf("help stop: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "hk_test") {
		t.Error("usage shows the API key")
	}
	if f.requests != 0 {
		t.Errorf("help sent %d requests", f.requests)
	}
}

func TestEnvironmentGivesDefaults(t *testing.T) {
	f := newFakeServer(t)
	t.Setenv("HUTCH_URL", f.url)
	t.Setenv("HUTCH_API_KEY", "hk_env")
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"get", "sb_1"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if f.lastAuth != "Bearer hk_env" {
		t.Errorf("auth %q", f.lastAuth)
	}
}

func TestPauseReleaseSendsMemory(t *testing.T) {
	f := newFakeServer(t)
	code, _, errOut := f.run("pause", "--release", "sb_1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var req api.PauseRequest
	if err := json.Unmarshal(f.lastBody, &req); err != nil || req.Memory != "release" {
		t.Fatalf("pause --release sent %q (%v)", f.lastBody, err)
	}
	f = newFakeServer(t)
	if code, _, errOut := f.run("pause", "sb_1"); code != 0 || len(f.lastBody) != 0 {
		t.Fatalf("plain pause: exit %d, body %q, %s", code, f.lastBody, errOut)
	}
}

package opensandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/compat/compattest"
	"github.com/hutchdev/hutch/internal/compat/opensandbox"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// env is the face on a loopback port, over a real SQLite store, the fake
// runtime and the in-process agent.
type env struct {
	t     *testing.T
	url   string // the face's root (Handler) or its prefix on the router
	key   string // a key of the default organisation
	other string // a key of another organisation
	rt    *compattest.Runtime
	svc   *sandbox.Service
	dir   string // a scratch directory for the agent's files
}

// newEnv serves the face with Handler at the root of its own listener,
// or, mounted, under opensandbox.Prefix on the gateway router.
func newEnv(t *testing.T, mounted bool) *env {
	t.Helper()
	st := compattest.NewStack(t, compattest.WithService(sandbox.WithHost(sandbox.Host{CPU: 4, MemoryMB: 8192})))
	url := ""
	if mounted {
		url = st.Serve(st.Router(opensandbox.Mount)) + opensandbox.Prefix
	} else {
		url = st.Serve(opensandbox.Handler(st.Deps))
	}
	return &env{t: t, url: url, key: st.Key, other: st.OtherKey, rt: st.RT, svc: st.Svc, dir: t.TempDir()}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// errBody is the {code, message} of an error answer, which every error
// must have (the SDK records no error for an empty body).
func (r response) errBody(t *testing.T) (code, message string) {
	t.Helper()
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	r.decode(t, &e)
	if e.Code == "" || e.Message == "" {
		t.Fatalf("not an OpenSandbox error body: %s", r.body)
	}
	return e.Code, e.Message
}

// request sends body (a string or []byte raw, else JSON) with the key
// (none when empty) and extra headers.
func (e *env) request(method, path, key string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set(opensandbox.KeyHeader, key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		e.t.Errorf("%s %s: no X-Request-ID header", method, path)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must sends with the default organisation's key and fails the test
// unless the status is want.
func (e *env) must(want int, method, path string, body any, headers ...string) response {
	e.t.Helper()
	r := e.request(method, path, e.key, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if r.status >= 200 && r.status < 300 && len(r.body) == 0 && r.status != http.StatusNoContent &&
		r.header.Get("Content-Length") != "0" {
		e.t.Errorf("%s %s: %d without a body and without Content-Length: 0", method, path, r.status)
	}
	return r
}

// sandboxJSON is what the tests read of a Sandbox answer.
type sandboxJSON struct {
	ID    string `json:"id"`
	Image *struct {
		URI string `json:"uri"`
	} `json:"image"`
	Status struct {
		State            string     `json:"state"`
		Reason           string     `json:"reason"`
		Message          string     `json:"message"`
		LastTransitionAt *time.Time `json:"lastTransitionAt"`
	} `json:"status"`
	Metadata   map[string]string `json:"metadata"`
	Entrypoint []string          `json:"entrypoint"`
	ExpiresAt  *time.Time        `json:"expiresAt"`
	CreatedAt  time.Time         `json:"createdAt"`
}

// sdkCreate is the body the SDK sends for Sandbox.create with an image
// and metadata and its defaults for the rest.
func sdkCreate(metadata map[string]string) map[string]any {
	return map[string]any{
		"image":          map[string]string{"uri": "base"},
		"entrypoint":     []string{"tail", "-f", "/dev/null"},
		"resourceLimits": map[string]string{"cpu": "1", "memory": "2Gi"},
		"secureAccess":   false,
		"env":            map[string]string{},
		"metadata":       metadata,
		"extensions":     map[string]string{},
		"timeout":        600,
	}
}

// create makes a sandbox and waits until it runs.
func (e *env) create(metadata map[string]string) string {
	e.t.Helper()
	var sb sandboxJSON
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes", sdkCreate(metadata)).decode(e.t, &sb)
	e.waitState(sb.ID, "Running")
	return sb.ID
}

// blockNext holds the next runtime op until release is called.
func (e *env) blockNext(op string) (release func()) {
	release = e.rt.BlockNext(op)
	e.t.Cleanup(release)
	return release
}

// svcSandbox is the sandbox as the lifecycle service holds it.
func (e *env) svcSandbox(id string) *sandbox.Sandbox {
	e.t.Helper()
	sb, err := e.svc.GetByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return sb
}

func (e *env) get(id string) sandboxJSON {
	e.t.Helper()
	var sb sandboxJSON
	e.must(http.StatusOK, "GET", "/v1/sandboxes/"+id, nil).decode(e.t, &sb)
	return sb
}

func (e *env) waitState(id, state string) {
	e.t.Helper()
	poll.Until(e.t, id+" "+state, func() bool { return e.get(id).Status.State == state })
}

// Package compattest runs one vendor face for its package's tests: a real
// SQLite store, the unit-test runtime double standing in for containers
// with a real Hutch agent in the test process answering every sandbox's
// agent calls, the face on a loopback port, and two organisations, so
// that a test can check another organisation's sandbox is that vendor's
// 404.
package compattest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/agent"
	"github.com/hutchdev/hutch/internal/agentconn"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// Stack is everything a face runs on: a real SQLite store with two
// organisations, the lifecycle service over Runtime, and the Deps a face
// takes.
type Stack struct {
	T        *testing.T
	Key      string // admin key of the default organisation
	OtherKey string // admin key of a second organisation
	OtherOrg string
	OrgID    string // the default organisation
	Svc      *sandbox.Service
	RT       *Runtime
	Images   *image.Store
	Deps     compat.Deps
}

// Option changes the stack NewStack builds.
type Option func(*stackOptions)

type stackOptions struct {
	service     []sandbox.Option
	domain      string
	checkpoints bool
}

// WithDomain turns on per-sandbox hosts ({port}-{id}.{domain}) for the
// router and the face.
func WithDomain(domain string) Option { return func(s *stackOptions) { s.domain = domain } }

// WithCheckpoints gives the runtime checkpoints (fakeruntime's), so
// that a pause may release memory.
func WithCheckpoints() Option { return func(s *stackOptions) { s.checkpoints = true } }

// WithService passes options to the lifecycle service (a host size, a
// clock).
func WithService(o ...sandbox.Option) Option {
	return func(s *stackOptions) { s.service = append(s.service, o...) }
}

// NewStack builds a stack; everything it starts ends with the test.
func NewStack(t *testing.T, opts ...Option) *Stack {
	t.Helper()
	var o stackOptions
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := auth.Bootstrap(ctx, st, "")
	if err != nil {
		t.Fatal(err)
	}
	me, err := auth.Authenticate(ctx, st, key)
	if err != nil {
		t.Fatal(err)
	}
	org, other, err := auth.CreateOrganization(ctx, st, "other")
	if err != nil {
		t.Fatal(err)
	}
	images, err := image.Open(filepath.Join(t.TempDir(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Close() })
	// A socket path must stay short; t.TempDir's can be too long.
	sockDir, err := os.MkdirTemp("", "compattest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	ag := agent.NewServer(log)
	agentSrv := &http.Server{Handler: ag}
	go agentSrv.Serve(ln)
	// The agent's background processes are the test's: ag.Close ends
	// them, which closing its HTTP server does not.
	t.Cleanup(func() {
		agentSrv.Close()
		ag.Close()
	})
	rt := &Runtime{Fake: fakeruntime.New(), sock: sock}
	var driver runtime.Runtime = rt
	if o.checkpoints {
		cp := fakeruntime.NewCheckpointing()
		rt.Fake = cp.Fake
		driver = &checkpointing{Runtime: rt, cp: cp}
	}
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, driver,
		append([]sandbox.Option{sandbox.WithLogger(log), sandbox.WithImages(images)}, o.service...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	d := compat.Deps{Sandboxes: svc, Auth: st, Agents: agentconn.NewPool(), Log: log, Domain: o.domain,
		Tokens: compat.Tokens{Secret: []byte("compattest secret of 32 bytes...")}}
	return &Stack{T: t, Key: key, OtherKey: other, OtherOrg: org.ID, OrgID: me.OrganizationID, Svc: svc, RT: rt,
		Images: images, Deps: d}
}

// Serve serves h on a loopback port for the test and returns its URL.
func (s *Stack) Serve(h http.Handler) string {
	srv := httptest.NewServer(h)
	s.T.Cleanup(srv.Close)
	return srv.URL
}

// Router returns the gateway router with the face mount put on it.
func (s *Stack) Router(mount func(rt *gateway.Router, d compat.Deps)) *gateway.Router {
	router := gateway.NewRouter(s.Deps.Domain, sandbox.IDPrefix, http.NotFoundHandler(), func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
		http.NotFound(w, r)
	})
	mount(router, s.Deps)
	return router
}

// Env is one server with one face mounted on the gateway's router.
type Env struct {
	*Stack
	URL string // the server's root; faces live under their prefix
}

// New starts a server with the face that mount puts on the router.
func New(t *testing.T, mount func(rt *gateway.Router, d compat.Deps), opts ...Option) *Env {
	t.Helper()
	s := NewStack(t, opts...)
	return &Env{Stack: s, URL: s.Serve(s.Router(mount))}
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on malformed JSON.
func (r Response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r Response) Map(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do sends a request to path (below URL) with headers; body may be a
// string (sent raw) or a value (sent as JSON).
func (e *Env) Do(method, path string, headers map[string]string, body any) Response {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// testWriter sends the server log to the test's log, shown on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

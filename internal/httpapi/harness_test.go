package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/egress"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
	"github.com/hutchdev/hutch/internal/webhook"
)

// env is one API server on a loopback port over a real SQLite file, with
// the in-memory runtime standing in for containers.
type env struct {
	t     *testing.T
	url   string
	key   string // admin key of the default organisation
	rt    *fakeruntime.Fake
	api   *httpapi.Server
	svc   *sandbox.Service
	store *sqlite.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the service's config changed by tweak and
// extra service options. Its webhook receivers and image registries may
// be on 127.0.0.1, which the environment's platform admin allowed.
func newEnvWith(t *testing.T, tweak func(*sandbox.Config), opts ...sandbox.Option) *env {
	t.Helper()
	ctx := context.Background()
	guard, err := egress.New(egress.Policy{Allow: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := auth.Bootstrap(ctx, st, "")
	if err != nil {
		t.Fatal(err)
	}
	images, err := image.Open(filepath.Join(t.TempDir(), "images"), image.WithEgress(guard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Close() })
	rt := fakeruntime.New()
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	cfg := sandbox.DefaultConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	svc, err := sandbox.NewService(cfg, st, rt, append([]sandbox.Option{sandbox.WithLogger(log), sandbox.WithImages(images)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	h := httpapi.New(httpapi.Deps{Sandboxes: svc, Auth: st, Webhooks: webhook.NewService(st, webhook.WithEgress(guard)), Log: log, Version: "test"}, func() bool { return true })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL, key: key, rt: rt, api: h, svc: svc, store: st}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) sandbox(t *testing.T) api.Sandbox {
	t.Helper()
	var sb api.Sandbox
	r.decode(t, &sb)
	return sb
}

func (r response) errBody(t *testing.T) api.ErrorDetail {
	t.Helper()
	var e api.ErrorBody
	r.decode(t, &e)
	if e.Error.Code == "" || e.Error.RequestID == "" {
		t.Fatalf("not an error envelope: %s", r.body)
	}
	return e.Error
}

// do sends a request with key (none when empty); body may be a string
// (sent raw) or a value (sent as JSON).
func (e *env) do(method, path, key string, body any) response {
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
		req.Header.Set("Authorization", "Bearer "+key)
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
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must sends as the admin and fails the test unless the status is want.
func (e *env) must(want int, method, path string, body any) response {
	e.t.Helper()
	r := e.do(method, path, e.key, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func (e *env) create(name string) api.Sandbox {
	e.t.Helper()
	return e.must(201, "POST", "/v1/sandboxes", api.CreateSandboxRequest{Name: name}).sandbox(e.t)
}

// testWriter sends the server log to the test's log, shown on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
	"github.com/hutchdev/hutch/internal/webhook"
)

// portFake is the fake runtime with a network: every port of every
// sandbox is answered by one local app.
type portFake struct {
	*fakeruntime.Fake
	addr string
}

func (f portFake) Capabilities() runtime.Capabilities {
	c := f.Fake.Capabilities()
	c.Network, c.Ports = true, true
	return c
}

func (f portFake) DialPort(ctx context.Context, id string, port int) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.addr)
}

func (f portFake) SetNetwork(context.Context, string, runtime.NetworkPolicy) error { return nil }

// seen is what the app received, as it echoes it.
type seen struct {
	Path   string      `json:"path"`
	Query  string      `json:"query"`
	Header http.Header `json:"header"`
}

// echoApp stands for the app in a sandbox: it answers every request
// with what it saw; /cookies also sets the cookies and headers a hostile
// or careless app would; /ws is an echo WebSocket.
func echoApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ws":
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			typ, b, err := c.Read(r.Context())
			if err == nil {
				c.Write(r.Context(), typ, b)
			}
			c.Close(websocket.StatusNormalClosure, "")
			return
		case "/cookies":
			h := w.Header()
			h.Add("Set-Cookie", "app=1; Path=/")
			h.Add("Set-Cookie", "sub=2; Path=/deep; HttpOnly")
			h.Add("Set-Cookie", "nopath=3")
			h.Add("Set-Cookie", "tossed=4; Domain=hutch.test; Path=/; Secure")
			h.Add("Set-Cookie", "hutch_token=forged; Path=/")
			h.Add("Set-Cookie", "__Host-hutch_token=forged; Path=/; Secure")
			h.Set("Clear-Site-Data", `"cookies", "storage"`)
			h.Set("Service-Worker-Allowed", "/")
		}
		json.NewEncoder(w).Encode(seen{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header})
	})
}

// proxyEnv is an API server with a proxy domain, a signing secret and
// one sandbox whose every port is the echo app.
type proxyEnv struct {
	*env
	srv    *httptest.Server
	sb     api.Sandbox
	domain string
}

// bootstrapKey is the test server's admin key: given with --api-key, so
// it lacks the hk_ prefix that generated keys have.
const bootstrapKey = "operator-chosen-secret"

func newProxyEnv(t *testing.T, cfg httpapi.ProxyConfig) *proxyEnv {
	t.Helper()
	ctx := context.Background()
	app := httptest.NewServer(echoApp())
	t.Cleanup(app.Close)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := auth.Bootstrap(ctx, st, bootstrapKey); err != nil {
		t.Fatal(err)
	}
	rt := portFake{Fake: fakeruntime.New(), addr: app.Listener.Addr().String()}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, rt, sandbox.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	if cfg.Secret == nil {
		cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	}
	h := httpapi.New(httpapi.Deps{Sandboxes: svc, Auth: st, Webhooks: webhook.NewService(st), Log: log, Version: "test", Proxy: cfg}, func() bool { return true })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &proxyEnv{env: &env{t: t, url: srv.URL, key: bootstrapKey, api: h, svc: svc, store: st}, srv: srv, domain: cfg.Domain}
	e.sb = e.create("web")
	return e
}

// sign returns a signed URL's token for port of the env's sandbox.
func (e *proxyEnv) sign(port int) (api.PortURL, string) {
	e.t.Helper()
	var pu api.PortURL
	e.must(200, "POST", "/v1/sandboxes/"+e.sb.ID+"/ports/"+itoa(port)+"/url", map[string]any{}).decode(e.t, &pu)
	i := strings.Index(pu.URL, "hutch_token=")
	if i < 0 {
		e.t.Fatalf("no token in %s", pu.URL)
	}
	return pu, pu.URL[i+len("hutch_token="):]
}

// host is the host form's Host header of port of the env's sandbox.
func (e *proxyEnv) host(port int) string {
	_, p, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	return itoa(port) + "-" + strings.TrimPrefix(e.sb.ID, "sbx_") + "." + e.domain + ":" + p
}

// pathURL is the path form of port of the env's sandbox.
func (e *proxyEnv) pathURL(port int, rest string) string {
	return e.url + "/v1/sandboxes/" + e.sb.ID + "/ports/" + itoa(port) + rest
}

// proxied sends one request through the proxy: the path form when host
// is empty, else the host form with that Host.
func (e *proxyEnv) proxied(method, url, host string, header http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// app decodes what the app saw from a proxied answer.
func (r response) app(t *testing.T) seen {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("proxied: %d %s", r.status, r.body)
	}
	var s seen
	r.decode(t, &s)
	return s
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.URL.Path)
	})
}

// TestRouterDispatch: per-sandbox hosts go to the face that claimed the
// port or to the default host handler; paths go to the longest mounted
// prefix (seen without it) or to the root.
func TestRouterDispatch(t *testing.T) {
	hosts := func(name string) HostHandler {
		return func(w http.ResponseWriter, r *http.Request, id string, port int) {
			fmt.Fprintf(w, "%s %s %d %s", name, id, port, r.URL.Path)
		}
	}
	rt := NewRouter("sb.example", "sbx_", named("native"), hosts("ports"))
	rt.Mount("/compat/e2b", named("e2b"))
	rt.Mount("/compat/e2b/v2", named("e2b-v2"))
	rt.Mount("/compat/hopx/", named("hopx"))
	rt.ClaimPort(49983, hosts("envd"))
	for _, c := range []struct{ host, path, want string }{
		{"127.0.0.1:7420", "/v1/sandboxes", "native /v1/sandboxes"},
		{"127.0.0.1:7420", "/compat/e2b/sandboxes", "e2b /sandboxes"},
		{"127.0.0.1:7420", "/compat/e2b", "e2b "},
		{"127.0.0.1:7420", "/compat/e2bx/sandboxes", "native /compat/e2bx/sandboxes"},
		{"127.0.0.1:7420", "/compat/e2b/v2/sandboxes", "e2b-v2 /sandboxes"},
		{"127.0.0.1:7420", "/compat/hopx/v1/sandboxes", "hopx /v1/sandboxes"},
		{"8000-abc.sb.example", "/index.html", "ports sbx_abc 8000 /index.html"},
		{"8000-sbx_abc.SB.example:7420", "/", "ports sbx_abc 8000 /"},
		{"49983-abc.sb.example", "/files", "envd sbx_abc 49983 /files"},
		{"x-abc.sb.example", "/v1/info", "native /v1/info"},
		{"70000-abc.sb.example", "/v1/info", "native /v1/info"},
		{"8000-abc.other.example", "/v1/info", "native /v1/info"},
		{"a.8000-abc.sb.example", "/v1/info", "native /v1/info"},
	} {
		r := httptest.NewRequest("GET", "http://"+c.host+c.path, nil)
		r.Host = c.host
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		if got := w.Body.String(); got != c.want {
			t.Errorf("%s%s -> %q, want %q", c.host, c.path, got, c.want)
		}
	}
	// Without a domain there are no per-sandbox hosts.
	plain := NewRouter("", "sbx_", named("native"), hosts("ports"))
	r := httptest.NewRequest("GET", "http://8000-abc.sb.example/x", nil)
	w := httptest.NewRecorder()
	plain.ServeHTTP(w, r)
	if w.Body.String() != "native /x" {
		t.Fatalf("no domain: %q", w.Body.String())
	}
}

// TestOuterRequestIDsAndPanics: a sane client ID is echoed, a bad one is
// replaced, and a panic becomes the face's error answer.
func TestOuterRequestIDsAndPanics(t *testing.T) {
	var seen string
	h := Outer(slog.New(slog.DiscardHandler), func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(599)
		io.WriteString(w, RequestID(r.Context())+" "+err.Error())
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestID(r.Context())
		if r.URL.Path == "/panic" {
			panic("boom")
		}
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", "client-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if seen != "client-1" || w.Header().Get("X-Request-Id") != "client-1" {
		t.Fatalf("client ID: seen %q, header %q", seen, w.Header().Get("X-Request-Id"))
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", "bad id\x01")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !strings.HasPrefix(seen, "req_") || w.Header().Get("X-Request-Id") != seen {
		t.Fatalf("bad client ID replaced by %q, header %q", seen, w.Header().Get("X-Request-Id"))
	}
	r = httptest.NewRequest("GET", "/panic", nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 599 || !strings.HasSuffix(w.Body.String(), "panic: boom") || !strings.HasPrefix(w.Body.String(), "req_") {
		t.Fatalf("panic answered %d %q", w.Code, w.Body.String())
	}
}

// TestKeyReaders: each face reads the key where its SDK sends it.
func TestKeyReaders(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "bearer  k1 ")
	r.Header.Set("X-API-Key", "k2")
	r.Header.Set("OPEN-SANDBOX-API-KEY", "k3")
	if got := BearerOrAPIKey(r); got != "k1" {
		t.Errorf("bearer = %q", got)
	}
	if got := Header("Open-Sandbox-Api-Key")(r); got != "k3" {
		t.Errorf("vendor header = %q", got)
	}
	r.Header.Set("Authorization", "Basic xyz")
	if got := BearerOrAPIKey(r); got != "" {
		t.Errorf("basic auth read as a key: %q", got)
	}
	r.Header.Del("Authorization")
	if got := BearerOrAPIKey(r); got != "k2" {
		t.Errorf("X-API-Key = %q", got)
	}
}

package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRouterIndex: GET and HEAD of the bare / go to the index handler;
// every other path, another method on /, and / of a per-sandbox host go
// where they went before.
func TestRouterIndex(t *testing.T) {
	hosts := func(w http.ResponseWriter, r *http.Request, id string, port int) {
		w.Write([]byte("ports " + r.URL.Path))
	}
	rt := NewRouter("sb.example", "sbx_", named("native"), hosts)
	rt.Mount("/ui", named("ui"))
	rt.Index(named("index"))
	for _, c := range []struct{ method, host, path, want string }{
		{"GET", "127.0.0.1:7420", "/", "index /"},
		{"HEAD", "127.0.0.1:7420", "/", "index /"}, // the recorder keeps what a HEAD handler writes
		{"POST", "127.0.0.1:7420", "/", "native /"},
		{"GET", "127.0.0.1:7420", "/v1/info", "native /v1/info"},
		{"GET", "127.0.0.1:7420", "/ui/app.js", "ui /app.js"},
		{"GET", "127.0.0.1:7420", "/index.html", "native /index.html"},
		{"GET", "8000-abc.sb.example", "/", "ports /"},
	} {
		r := httptest.NewRequest(c.method, "http://"+c.host+c.path, nil)
		r.Host = c.host
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		if got := w.Body.String(); got != c.want {
			t.Errorf("%s %s%s -> %q, want %q", c.method, c.host, c.path, got, c.want)
		}
	}
}

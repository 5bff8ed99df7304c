package gateway

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// FuzzSandboxHost: any Host header parses to a sandbox of the router's
// domain (a port in range, an ID with the prefix, no dot or separator in
// it) or to nothing, and a host built from what it parsed parses back the
// same; ServeHTTP never panics on it.
func FuzzSandboxHost(f *testing.F) {
	for _, h := range []string{"8080-abc.sandbox.test", "8080-sbx_abc.sandbox.test:443", "0-abc.sandbox.test", "65536-abc.sandbox.test",
		"-1-abc.sandbox.test", "8080-.sandbox.test", "8080-a.b.sandbox.test", "8080-ABC.SANDBOX.TEST", "sandbox.test",
		"8080-abc.sandbox.test.evil.com", "[::1]:80", "8080-abc.sandbox.test:", "+80-abc.sandbox.test", "08080-x.sandbox.test",
		"8080-abc\x00.sandbox.test", "99999999999999999999-x.sandbox.test", "80-x%2e.sandbox.test", ""} {
		f.Add(h)
	}
	hit := func(w http.ResponseWriter, r *http.Request, id string, port int) { w.WriteHeader(299) }
	rt := NewRouter("sandbox.test", "sbx_", http.NotFoundHandler(), hit)
	f.Fuzz(func(t *testing.T, host string) {
		id, port, ok := rt.SandboxHost(host)
		if ok {
			if port < 1 || port > 65535 || !strings.HasPrefix(id, "sbx_") || len(id) == len("sbx_") || strings.ContainsAny(id, ".:/ ") {
				t.Fatalf("SandboxHost(%q) = %q, %d", host, id, port)
			}
			again := strconv.Itoa(port) + "-" + strings.TrimPrefix(id, "sbx_") + ".sandbox.test"
			if id2, port2, ok2 := rt.SandboxHost(again); !ok2 || id2 != id || port2 != port {
				t.Fatalf("SandboxHost(%q) = %q %d; %q parses to %q %d %v", host, id, port, again, id2, port2, ok2)
			}
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)
		if (w.Code == 299) != ok {
			t.Fatalf("Host %q: routed to a sandbox = %v, parsed = %v", host, w.Code == 299, ok)
		}
	})
}

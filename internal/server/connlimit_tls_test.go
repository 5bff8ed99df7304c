package server_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/server"
)

// TestConnectionCapOverTLS: on a TLS listener, a client past
// --max-conns-per-ip gets its 429 inside a TLS session (a Go client
// offering HTTP/2 reads it as an answer, naming the cap), not plain HTTP
// bytes where its handshake expected a TLS record.
func TestConnectionCapOverTLS(t *testing.T) {
	cfg := tlsCfg(t)
	cfg.HTTP.TLS.SelfSigned = true
	cfg.HTTP.IdleTimeout = time.Minute
	cfg.HTTP.MaxConnsPerIP = 2
	url, out, _ := start(t, cfg)
	m := fingerprintRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no fingerprint printed:\n%s", out)
	}
	fp := m[1]
	addr := strings.TrimPrefix(url, "http://")
	for i := 0; i < 2; i++ {
		c, err := tls.Dial("tcp", addr, server.PinnedTLS(fp))
		if err != nil {
			t.Fatalf("connection %d under the cap: %v", i+1, err)
		}
		defer c.Close()
		resp := request(t, c, bufio.NewReader(c), "/healthz", "")
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("connection %d under the cap: %d", i+1, resp.StatusCode)
		}
	}
	resp, err := pinnedClient(fp).Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("the connection past the cap: %v, want a 429 over TLS", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "at most 2") {
		t.Fatalf("past the cap: %d %v %s, want 429 naming the cap", resp.StatusCode, resp.Header, b)
	}
}

package agentconn

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/agent"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// serveAgent serves h on a unix socket as a sandbox's agent would.
func serveAgent(t *testing.T, h http.Handler) unixTarget {
	t.Helper()
	sock := shortSocket(t)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return unixTarget{id: "sb-" + t.Name(), sock: sock}
}

// forwardOnce sends method path through the pool to target and returns
// the status and the error onError got (nil when the agent answered).
func forwardOnce(t *testing.T, p *Pool, target Target, method, path string) (int, error) {
	t.Helper()
	var got error
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Forward(w, r, target, path, func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		})
	}))
	defer front.Close()
	req, _ := http.NewRequest(method, front.URL+"/v1/sandboxes/x"+path, strings.NewReader(""))
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, got
}

// oldAgent answers as every agent before the protocol header did: no
// header, and 404 for the routes it does not know.
func oldAgent(execs *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusNoContent)
		case "/exec":
			execs.Add(1)
			json.NewEncoder(w).Encode(map[string]any{"exitCode": 0})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
}

// TestOlderAgentIsSpokenTo: the host speaks protocol 1 to an agent that
// names no protocol, and a call that agent lacks is the error that names
// the remedy, not the agent's bare 404.
func TestOlderAgentIsSpokenTo(t *testing.T) {
	var execs atomic.Int32
	target := serveAgent(t, oldAgent(&execs))
	p := NewPool()
	t.Cleanup(func() { p.Forget(target.id) })
	if status, err := forwardOnce(t, p, target, "POST", "/exec"); status != 200 || err != nil || execs.Load() != 1 {
		t.Fatalf("exec on a protocol 1 agent: %d %v (ran %d times)", status, err, execs.Load())
	}
	_, err := forwardOnce(t, p, target, "GET", "/files/archive")
	if !errors.Is(err, errdefs.ErrAgentOutdated) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("archive on a protocol 1 agent: %v, want ErrAgentOutdated", err)
	}
	for _, want := range []string{"protocol 1", "needs protocol 2", "restart the sandbox"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestAgentBelowMinimumIsRefusedAtConnect: when the server no longer
// speaks an agent's protocol, nothing reaches that agent (the command
// does not run) and the error names the remedy.
func TestAgentBelowMinimumIsRefusedAtConnect(t *testing.T) {
	old := minProtocol
	minProtocol = func() int { return 2 }
	t.Cleanup(func() { minProtocol = old })
	var execs atomic.Int32
	target := serveAgent(t, oldAgent(&execs))
	p := NewPool()
	t.Cleanup(func() { p.Forget(target.id) })
	_, err := forwardOnce(t, p, target, "POST", "/exec")
	if !errors.Is(err, errdefs.ErrAgentOutdated) || !strings.Contains(err.Error(), "restart the sandbox") {
		t.Fatalf("exec on an agent below the minimum: %v", err)
	}
	if execs.Load() != 0 {
		t.Fatalf("the command ran %d times on a refused agent", execs.Load())
	}
	// The real agent of this build passes the same check.
	real := serveAgent(t, agent.NewServer(nil))
	c := p.Client(real)
	if _, err := c.Exec(context.Background(), real.id, api.ExecRequest{Command: []string{"true"}}); err != nil {
		t.Fatalf("this build's agent: %v", err)
	}
}

// BenchmarkHandshake is what the protocol check adds to each new
// connection to an agent (pooled connections pay it once).
func BenchmarkHandshake(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "a.sock")
	if len(sock) > 100 {
		b.Skip("TMPDIR too long for a socket path")
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: agent.NewServer(nil)}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	target := unixTarget{id: "bench", sock: sock}
	for b.Loop() {
		c, err := target.Dial(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := handshake(context.Background(), c); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

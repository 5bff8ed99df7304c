package agentconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProxyStreamsAndStripsCredentials forwards to a handler on a unix
// socket and checks that the first event arrives while the handler still
// holds the stream open, and that the caller's key stays on the host.
func TestProxyStreamsAndStripsCredentials(t *testing.T) {
	sock := shortSocket(t)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.URL.Path != "/exec" || r.URL.RawQuery != "a=b" {
			http.Error(w, "bad forward: "+r.URL.String()+" "+r.Header.Get("Authorization"), 500)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("event: stdout\ndata: {}\n\n"))
		w.(http.Flusher).Flush()
		<-release
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	p := NewPool()
	target := unixTarget{id: "sb1", sock: sock}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Forward(w, r, target, "/exec", func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		})
	}))
	t.Cleanup(front.Close)
	req, _ := http.NewRequest("POST", front.URL+"/v1/sandboxes/x/exec?a=b", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "event: stdout\n" {
		t.Fatalf("first line %q, %v (status %d)", line, err, resp.StatusCode)
	}
	close(release)

	// A sandbox whose agent is gone is the onError answer, not a hang.
	ln.Close()
	srv.Close()
	p.Forget("sb1")
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ = http.NewRequestWithContext(c, "POST", front.URL+"/x", strings.NewReader("{}"))
	resp2, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status with no agent = %d", resp2.StatusCode)
	}
}

// unixTarget is an agent listening on a unix socket.
type unixTarget struct{ id, sock string }

func (u unixTarget) SandboxID() string { return u.id }

func (u unixTarget) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", u.sock)
}

// TestForwardToDeadAgentKeepsConnection sends bodies on one kept-alive
// connection to a sandbox whose agent refuses every dial: each call is the
// onError answer, and the server never panics over the unread body (Go's
// HTTP/1 server in full-duplex mode drains it after the handler and then
// reads the next request while its own background read is still on,
// golang/go#68560).
func TestForwardToDeadAgentKeepsConnection(t *testing.T) {
	var logged strings.Builder
	var mu sync.Mutex
	p := NewPool()
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Forward(w, r, deadTarget{}, "/exec", func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		})
	}))
	front.Config.ErrorLog = log.New(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logged.Write(b)
	}), "", 0)
	front.Start()
	t.Cleanup(front.Close)
	c := front.Client()
	for i := range 20 {
		body := strings.Repeat("x", 100*i)
		resp, err := c.Post(front.URL+"/v1/sandboxes/x/exec", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("call %d: status %d, want 503", i, resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logged.String(), "panic") {
		t.Fatalf("the server panicked:\n%s", logged.String())
	}
}

// deadTarget is a sandbox whose agent is gone: every dial is refused.
type deadTarget struct{}

func (deadTarget) SandboxID() string { return "dead" }

func (deadTarget) Dial(context.Context) (net.Conn, error) {
	return nil, errors.New("connection refused")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

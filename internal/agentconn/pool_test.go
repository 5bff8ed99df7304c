package agentconn

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProxyStreamsAndStripsCredentials forwards to a handler on a unix
// socket and checks that the first event arrives while the handler still
// holds the stream open, and that the caller's key stays on the host.
func TestProxyStreamsAndStripsCredentials(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
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
			http.Error(w, err.Error(), 503)
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
	if resp2.StatusCode != 503 {
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

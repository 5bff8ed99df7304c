package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestHopXAgentHostForm: with a proxy domain, public_host is the agent's
// own host ({7777}-{id}.{domain}), where HopX's WebSocket features live:
// a terminal that runs a command and reports its exit, and code whose
// output streams.
func TestHopXAgentHostForm(t *testing.T) {
	s := startServer(t, "", "--proxy-domain", "hutch.test")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	// Every name resolves to the server, as a wildcard DNS record would.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, "127.0.0.1:"+port)
	}}}
	call := func(method, u, auth string, body any, out any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, u, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, b)
			}
		}
		return resp.StatusCode
	}
	var sb struct {
		ID        string `json:"id"`
		AuthToken string `json:"auth_token"`
	}
	if st := call("POST", s.url+"/compat/hopx/v1/sandboxes", "Bearer "+s.key, map[string]any{"template_name": "base"}, &sb); st != 201 {
		t.Fatalf("create: %d", st)
	}
	cleanup(t, sb.ID)
	var got struct {
		PublicHost string `json:"public_host"`
	}
	call("GET", s.url+"/compat/hopx/v1/sandboxes/"+sb.ID, "Bearer "+s.key, nil, &got)
	want := "http://7777-" + strings.TrimPrefix(sb.ID, "sbx_") + ".hutch.test:" + port
	if got.PublicHost != want {
		t.Fatalf("public_host %q, want %q", got.PublicHost, want)
	}
	var health map[string]any
	if st := call("GET", got.PublicHost+"/health", "Bearer "+sb.AuthToken, nil, &health); st != 200 || health["status"] != "healthy" {
		t.Fatalf("agent health on the host form: %d %v", st, health)
	}

	wsCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func(path string) *websocket.Conn {
		u, _ := url.Parse(got.PublicHost + path)
		u.Scheme = "ws"
		conn, _, err := websocket.Dial(wsCtx, u.String(), &websocket.DialOptions{HTTPClient: hc,
			HTTPHeader: http.Header{"Authorization": {"Bearer " + sb.AuthToken}}})
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		t.Cleanup(func() { conn.CloseNow() })
		return conn
	}
	send := func(c *websocket.Conn, v any) {
		b, _ := json.Marshal(v)
		if err := c.Write(wsCtx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	// read collects messages until one of type last.
	read := func(c *websocket.Conn, last string) (string, map[string]any) {
		var out strings.Builder
		for {
			_, b, err := c.Read(wsCtx)
			if err != nil {
				t.Fatalf("read: %v (so far %q)", err, out.String())
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("not JSON: %s", b)
			}
			if d, ok := m["data"].(string); ok {
				out.WriteString(d)
			}
			if m["type"] == last {
				return out.String(), m
			}
		}
	}

	term := dial("/terminal")
	send(term, map[string]any{"type": "resize", "cols": 100, "rows": 30})
	send(term, map[string]any{"type": "input", "data": "echo hello-$((6*7)); exit 3\n"})
	out, exit := read(term, "exit")
	if !strings.Contains(out, "hello-42") || exit["exit_code"] != float64(3) {
		t.Fatalf("terminal: %q, exit %v", out, exit)
	}

	stream := dial("/execute/stream")
	send(stream, map[string]any{"type": "execute", "language": "bash", "code": "echo one; echo two >&2; exit 5"})
	out, done := read(stream, "complete")
	if !strings.Contains(out, "one") || !strings.Contains(out, "two") || done["exit_code"] != float64(5) {
		t.Fatalf("execute/stream: %q, %v", out, done)
	}

	// Another sandbox's token does not open this host.
	if st := call("GET", got.PublicHost+"/health", "Bearer hopx_forged", nil, nil); st != 401 {
		t.Fatalf("forged token: %d", st)
	}
}

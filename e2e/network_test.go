package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
)

// portServer creates a python sandbox serving testdata/portserver.py on 8000.
func portServer(t *testing.T, s *server, name string, autoResume bool) *api.Sandbox {
	t.Helper()
	if _, err := os.Stat(filepath.Join(filepath.Dir(baseTar), "python.tar")); err != nil {
		t.Skip("python.tar is missing (run scripts/setup.sh)")
	}
	script, err := os.ReadFile("testdata/portserver.py")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: name, Image: "python",
		Entrypoint: []string{"python3", "-c", string(script)}, AutoResume: &autoResume})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	poll.Until(t, "the port server to answer", func() bool {
		r := call(t, s, "GET", portURL(s, sb.ID, 8000, "/up"), "", s.key, "")
		return r.status == 200
	})
	return sb
}

type reply struct {
	status int
	header http.Header
	body   string
}

// call makes one request; host, when set, replaces the Host header.
func call(t *testing.T, s *server, method, u, body, key, host string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func portURL(s *server, id string, port int, path string) string {
	return s.url + "/v1/sandboxes/" + id + "/ports/" + itoa(port) + path
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// hostFor is the host-based form of a sandbox port on the test server.
func hostFor(s *server, id string, port int) string {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	return itoa(port) + "-" + strings.TrimPrefix(id, "sbx_") + ".localhost:" + p
}

func TestPortProxyHTTPAndWebSocket(t *testing.T) {
	s := startServer(t, "")
	sb := portServer(t, s, "web", false)

	// Path form: the app sees its own path, the prefix, and not the key.
	r := call(t, s, "GET", portURL(s, sb.ID, 8000, "/hello?x=1"), "", s.key, "")
	want := "path=/hello?x=1 auth= prefix=/v1/sandboxes/" + sb.ID + "/ports/8000 cookie=\n"
	if r.status != 200 || r.body != want {
		t.Fatalf("path form: %d %q, want %q", r.status, r.body, want)
	}
	// Host form.
	r = call(t, s, "GET", s.url+"/hello", "", s.key, hostFor(s, sb.ID, 8000))
	if r.status != 200 || !strings.HasPrefix(r.body, "path=/hello auth= prefix= ") {
		t.Fatalf("host form: %d %q", r.status, r.body)
	}
	// No key, no entry; an unknown sandbox looks the same.
	if r := call(t, s, "GET", portURL(s, sb.ID, 8000, "/"), "", "", ""); r.status != 401 {
		t.Fatalf("without a key: %d %s", r.status, r.body)
	}
	if r := call(t, s, "GET", portURL(s, "sbx_00000000000000000000", 8000, "/"), "", "", ""); r.status != 401 {
		t.Fatalf("unknown sandbox without a key: %d %s", r.status, r.body)
	}
	// Nothing listens on 8001.
	if r := call(t, s, "GET", portURL(s, sb.ID, 8001, "/"), "", s.key, ""); r.status != 503 {
		t.Fatalf("closed port: %d %s", r.status, r.body)
	}

	for _, form := range []struct{ name, url, host string }{
		{"path", "ws" + strings.TrimPrefix(portURL(s, sb.ID, 8000, "/ws"), "http"), ""},
		{"host", "ws" + strings.TrimPrefix(s.url, "http") + "/ws", hostFor(s, sb.ID, 8000)},
	} {
		t.Run("websocket-"+form.name, func(t *testing.T) {
			c, _, err := websocket.Dial(ctx(t), form.url, &websocket.DialOptions{
				HTTPHeader: http.Header{"Authorization": {"Bearer " + s.key}}, Host: form.host})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.CloseNow()
			for _, msg := range []string{"ping", strings.Repeat("x", 1000)} {
				if err := c.Write(ctx(t), websocket.MessageText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				_, got, err := c.Read(ctx(t))
				if err != nil || string(got) != msg {
					t.Fatalf("echo: %q %v", got, err)
				}
			}
			c.Close(websocket.StatusNormalClosure, "")
		})
	}

	// A stream arrives as it is written: the second chunk waits for a
	// request that the test makes only after reading the first.
	req, _ := http.NewRequestWithContext(ctx(t), "GET", portURL(s, sb.ID, 8000, "/stream"), nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first chunk: %q %v", line, err)
	}
	call(t, s, "GET", portURL(s, sb.ID, 8000, "/release"), "", s.key, "")
	if line, err := br.ReadString('\n'); err != nil || line != "second\n" {
		t.Fatalf("second chunk: %q %v", line, err)
	}
}

func TestPortProxySignedPublicPaused(t *testing.T) {
	s := startServer(t, "")
	sb := portServer(t, s, "signed", false)

	// A signed URL works without a key, sets a cookie for the rest of
	// the site, hides its token from the app, and stops at expiry. The
	// expiry is cut to the second, so 3 s leaves 2 to 3 s for the checks.
	r := call(t, s, "POST", portURL(s, sb.ID, 8000, "/url"), `{"expiresInSeconds": 3}`, s.key, "")
	var pu api.PortURL
	if r.status != 200 || json.Unmarshal([]byte(r.body), &pu) != nil || pu.URL == "" || pu.URL != pu.HostURL {
		t.Fatalf("sign: %d %s (with a proxy domain, url is the host form)", r.status, r.body)
	}
	// The token opens the path form too.
	hu, _ := url.Parse(pu.HostURL)
	pathURL := portURL(s, sb.ID, 8000, "/?"+hu.RawQuery)
	r = call(t, s, "GET", pathURL, "", "", "")
	if r.status != 200 || strings.Contains(r.body, "hutch_token") {
		t.Fatalf("signed URL: %d %q", r.status, r.body)
	}
	if !strings.Contains(r.header.Get("Set-Cookie"), "hutch_token=") {
		t.Errorf("no cookie from a signed URL: %v", r.header)
	}
	if r := call(t, s, "GET", s.url+"/?"+hu.RawQuery, "", "", hu.Host); r.status != 200 {
		t.Fatalf("signed host URL: %d %s", r.status, r.body)
	}
	time.Sleep(time.Until(pu.ExpiresAt) + 100*time.Millisecond) // wait for the expiry itself
	if r := call(t, s, "GET", pathURL, "", "", ""); r.status != 401 {
		t.Fatalf("expired signed URL: %d %s", r.status, r.body)
	}

	// A public port needs no key, until it is closed again.
	if r := call(t, s, "PUT", portURL(s, sb.ID, 8000, "/public"), `{"public": true}`, s.key, ""); r.status != 200 || !strings.Contains(r.body, `"publicPorts":[8000]`) {
		t.Fatalf("make public: %d %s", r.status, r.body)
	}
	if r := call(t, s, "GET", portURL(s, sb.ID, 8000, "/"), "", "", ""); r.status != 200 {
		t.Fatalf("public port: %d %s", r.status, r.body)
	}
	if r := call(t, s, "PUT", portURL(s, sb.ID, 8000, "/public"), `{"public": false}`, s.key, ""); r.status != 200 {
		t.Fatalf("make private: %d %s", r.status, r.body)
	}
	if r := call(t, s, "GET", portURL(s, sb.ID, 8000, "/"), "", "", ""); r.status != 401 {
		t.Fatalf("private port: %d %s", r.status, r.body)
	}

	// Paused: 409 SANDBOX_PAUSED without autoResume.
	if _, err := s.c.Pause(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	if r := call(t, s, "GET", portURL(s, sb.ID, 8000, "/"), "", s.key, ""); r.status != 409 || !strings.Contains(r.body, "SANDBOX_PAUSED") {
		t.Fatalf("paused: %d %s", r.status, r.body)
	}
	// With autoResume, the request resumes the sandbox and gets through.
	auto := portServer(t, s, "auto", true)
	if _, err := s.c.Pause(ctx(t), auto.ID); err != nil {
		t.Fatal(err)
	}
	if r := call(t, s, "GET", portURL(s, auto.ID, 8000, "/"), "", s.key, ""); r.status != 200 {
		t.Fatalf("auto-resume: %d %s", r.status, r.body)
	}
	if got, err := s.c.GetSandbox(ctx(t), auto.ID); err != nil || got.State != "running" {
		t.Fatalf("after auto-resume: %+v %v", got, err)
	}
}

func TestNetworkBadInput(t *testing.T) {
	s := startServer(t, "")
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: "bad-input"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	for _, tc := range []struct{ method, path, body, field string }{
		{"PUT", "/network", `{"allowCIDRs": ["10.0.0.0/33"]}`, "network.allowCIDRs"},
		{"PUT", "/network", `{"denyCIDRs": ["nope"]}`, "network.denyCIDRs"},
		{"GET", "/ports/0/", "", "port"},
		{"GET", "/ports/65536/", "", "port"},
		{"POST", "/ports/8000/url", `{"expiresInSeconds": -5}`, "expiresInSeconds"},
		{"PUT", "/ports/70000/public", `{"public": true}`, "port"},
	} {
		r := call(t, s, tc.method, s.url+"/v1/sandboxes/"+sb.ID+tc.path, tc.body, s.key, "")
		if r.status != 400 || !strings.Contains(r.body, tc.field) {
			t.Errorf("%s %s %s: %d %s (want 400 naming %s)", tc.method, tc.path, tc.body, r.status, r.body, tc.field)
		}
	}
	r := call(t, s, "POST", s.url+"/v1/sandboxes", `{"network": {"denyCIDRs": ["1.2.3.4/40"]}}`, s.key, "")
	if r.status != 400 || !strings.Contains(r.body, "network.denyCIDRs") {
		t.Errorf("create with a bad deny list: %d %s", r.status, r.body)
	}
}

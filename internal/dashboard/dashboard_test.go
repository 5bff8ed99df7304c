package dashboard_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat/compattest"
	"github.com/hutchdev/hutch/internal/dashboard"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// env is the dashboard mounted on a gateway router as the server mounts
// it, over a real store, the lifecycle service and a real agent
// (compattest's stack), with a stand-in for the native API at the root.
type env struct {
	*compattest.Stack
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := compattest.NewStack(t)
	rt := gateway.NewRouter("", sandbox.IDPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "native "+r.Method+" "+r.URL.Path)
	}), nil)
	dashboard.Mount(rt, dashboard.Deps{Sandboxes: s.Svc, Auth: s.Deps.Auth, Agents: s.Deps.Agents, Log: s.Deps.Log})
	return &env{Stack: s, url: s.Serve(rt)}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (e *env) call(method, path, key string, header map[string]string) answer {
	e.T.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.T.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	// Set, the client neither asks for gzip nor undoes it: the test sees
	// the bytes sent.
	req.Header.Set("Accept-Encoding", "identity")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// errorCode reads the native error envelope's code.
func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var b api.ErrorBody
	if err := json.Unmarshal([]byte(a.body), &b); err != nil || b.Error.RequestID == "" {
		t.Fatalf("not the error envelope (%d): %s", a.status, a.body)
	}
	return b.Error.Code
}

func (e *env) sandbox(name string) *sandbox.Sandbox {
	e.T.Helper()
	sb, err := e.Svc.Create(context.Background(), sandbox.CreateRequest{OrganizationID: e.OrgID, Name: name, Wait: true})
	if err != nil {
		e.T.Fatal(err)
	}
	return sb
}

// TestPageAndAssets: the page at / (GET and HEAD only) and at /ui/, with
// headers that keep it to its own scripts and out of frames; each bundle
// it names by hash answers to that hash, cacheable for good; anything
// else below /ui is the native error envelope.
func TestPageAndAssets(t *testing.T) {
	e := newEnv(t)
	page := e.call("GET", "/", "", nil)
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", page.status, page.header.Get("Content-Type"))
	}
	for h, want := range map[string]string{"Content-Security-Policy": "script-src 'self';", "X-Frame-Options": "DENY",
		"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"} {
		if !strings.Contains(page.header.Get(h), want) {
			t.Errorf("%s: %q, want %q in it", h, page.header.Get(h), want)
		}
	}
	if again := e.call("GET", "/ui/", "", nil); again.body != page.body {
		t.Error("/ui/ is not the page")
	}
	if got := e.call("POST", "/", "", nil); got.body != "native POST /" {
		t.Errorf("POST / went to %q, want the native API", got.body)
	}
	refs := regexp.MustCompile(`/ui/([a-z.]+)\?v=([0-9a-f]{16})`).FindAllStringSubmatch(page.body, -1)
	if len(refs) != 3 { // icon, stylesheet, script
		t.Fatalf("the page names %d bundles: %s", len(refs), page.body)
	}
	for _, m := range refs {
		a := e.call("GET", m[0], "", nil)
		if a.status != 200 || a.header.Get("ETag") != `"`+m[2]+`"` || !strings.Contains(a.header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d, ETag %s, Cache-Control %q", m[0], a.status, a.header.Get("ETag"), a.header.Get("Cache-Control"))
		}
		if stale := e.call("GET", "/ui/"+m[1]+"?v=0000000000000000", "", nil); stale.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s with another hash: Cache-Control %q, want no-cache", m[1], stale.header.Get("Cache-Control"))
		}
		if nm := e.call("GET", "/ui/"+m[1], "", map[string]string{"If-None-Match": `"` + m[2] + `"`}); nm.status != 304 {
			t.Errorf("%s revalidated: %d, want 304", m[1], nm.status)
		}
	}
	// Gzip for clients that take it, under its own ETag.
	js := refs[len(refs)-1]
	plain := e.call("GET", js[0], "", nil)
	gz := e.call("GET", js[0], "", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if gz.header.Get("Content-Encoding") != "gzip" || gz.header.Get("ETag") == plain.header.Get("ETag") || !strings.Contains(gz.header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("gzip: Content-Encoding %q, ETag %s (plain %s), Vary %q", gz.header.Get("Content-Encoding"), gz.header.Get("ETag"), plain.header.Get("ETag"), gz.header.Get("Vary"))
	}
	zr, err := gzip.NewReader(strings.NewReader(gz.body))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != plain.body || len(gz.body) >= len(plain.body) {
		t.Errorf("gzip: %d bytes unpack to %d, want the %d plain ones", len(gz.body), len(b), len(plain.body))
	}
	if no := e.call("GET", js[0], "", map[string]string{"Accept-Encoding": "gzip;q=0"}); no.header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got %q", no.header.Get("Content-Encoding"))
	}
	for _, p := range []string{"/ui/nothing.js", "/ui/api/nothing", "/ui/index.html"} {
		if a := e.call("GET", p, "", nil); a.status != 404 || a.errorCode(t) != api.CodeNotFound {
			t.Errorf("GET %s = %d %s", p, a.status, a.body)
		}
	}
}

// TestSession: the key's organisation and roles; no key or a wrong one is
// the API's 401, which is what the sign-in page shows.
func TestSession(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		key           string
		org           string
		platformAdmin bool
	}{{e.Key, e.OrgID, true}, {e.OtherKey, e.OtherOrg, false}} {
		a := e.call("GET", "/ui/api/session", c.key, nil)
		var s dashboard.Session
		if a.status != 200 || json.Unmarshal([]byte(a.body), &s) != nil {
			t.Fatalf("session: %d %s", a.status, a.body)
		}
		if s.OrganizationID != c.org || !s.Admin || s.PlatformAdmin != c.platformAdmin || s.KeyID == "" {
			t.Errorf("session of %s: %+v", c.org, s)
		}
		if a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("session answer may be cached: %q", a.header.Get("Cache-Control"))
		}
	}
	for _, key := range []string{"", "hk_wrong"} {
		if a := e.call("GET", "/ui/api/session", key, nil); a.status != 401 || a.errorCode(t) != api.CodeUnauthenticated {
			t.Errorf("key %q: %d %s", key, a.status, a.body)
		}
	}
}

func (e *env) ticket(id, key string) (dashboard.TerminalTicket, answer) {
	e.T.Helper()
	a := e.call("POST", "/ui/api/sandboxes/"+id+"/terminal-ticket", key, nil)
	var tk dashboard.TerminalTicket
	if a.status == 201 {
		if err := json.Unmarshal([]byte(a.body), &tk); err != nil {
			e.T.Fatal(err)
		}
	}
	return tk, a
}

func (e *env) dial(query string, origin string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/ui/api/terminal?"+query, &websocket.DialOptions{HTTPHeader: h})
}

// TestTerminal: a ticket asked for with the key opens the sandbox's
// terminal once, from the dashboard's origin, and runs what the agent
// runs; a used, unknown or API-key "ticket", another site's page, another
// organisation and a paused sandbox are refused with the API's words.
func TestTerminal(t *testing.T) {
	e := newEnv(t)
	sb := e.sandbox("shell")
	if _, a := e.ticket(sb.ID, ""); a.status != 401 {
		t.Errorf("ticket without a key: %d %s", a.status, a.body)
	}
	if _, a := e.ticket(sb.ID, e.OtherKey); a.status != 404 || a.errorCode(t) != api.CodeSandboxNotFound {
		t.Errorf("ticket for another organisation's sandbox: %d %s", a.status, a.body)
	}
	tk, a := e.ticket("shell", e.Key)
	if a.status != 201 || tk.SandboxID != sb.ID || !strings.HasPrefix(tk.Ticket, "tt_") || time.Until(tk.ExpiresAt) > time.Minute {
		t.Fatalf("ticket: %d %s", a.status, a.body)
	}
	origin := e.url
	if _, resp, err := e.dial("ticket="+tk.Ticket, "http://evil.example"); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("another site's page opened the terminal: %v", err)
	}
	// The refusal above spent nothing: the origin is checked first.
	conn, _, err := e.dial("ticket="+tk.Ticket+"&command=echo+hi", origin)
	if err != nil {
		t.Fatalf("open the terminal: %v", err)
	}
	defer conn.CloseNow()
	var out strings.Builder
	exit := ""
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for exit == "" {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v (so far %q)", err, out.String())
		}
		if typ == websocket.MessageText {
			exit = string(b)
		} else {
			out.Write(b)
		}
	}
	if !strings.Contains(out.String(), "hi") || !strings.Contains(exit, `"exit"`) {
		t.Errorf("terminal printed %q and ended with %s", out.String(), exit)
	}
	for what, q := range map[string]string{"a used ticket": tk.Ticket, "an unknown ticket": "tt_nothing", "the API key": e.Key} {
		if _, resp, err := e.dial("ticket="+q, origin); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("%s opened the terminal: %v", what, err)
		}
	}
	if _, err := e.Svc.Act(context.Background(), e.OrgID, sb.ID, sandbox.ActionPause, sandbox.ActOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if _, a := e.ticket(sb.ID, e.Key); a.status != 409 || a.errorCode(t) != api.CodeSandboxPaused {
		t.Errorf("ticket for a paused sandbox: %d %s", a.status, a.body)
	}
}

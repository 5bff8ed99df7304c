package e2e

import (
	"context"
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

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// The browser tests give the server this proxy domain and point Chromium's
// resolver for it at the loopback.
const browserDomain = "hutch.test"

// tenant is one organisation with a sandbox serving testdata/browserpage.py
// on port 8000.
type tenant struct {
	name string
	key  string
	sb   *api.Sandbox
}

// newTenant creates a sandbox of the organisation whose key is key,
// serving the browser page as name, and deletes it before the server
// stops (the server's own cleanup deletes as the default organisation).
func newTenant(t *testing.T, s *server, name, key string) *tenant {
	t.Helper()
	if _, err := os.Stat(filepath.Join(filepath.Dir(baseTar), "python.tar")); err != nil {
		t.Skip("python.tar is missing (run scripts/setup.sh)")
	}
	script, err := os.ReadFile("testdata/browserpage.py")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(s.url, key)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: "page-" + name, Image: "python",
		Entrypoint: []string{"python3", "-c", string(script), name}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := c.DeleteSandbox(cx, sb.ID); err != nil {
			t.Errorf("delete %s: %v", sb.ID, err)
		}
		waitGone(t, sb.ID)
	})
	poll.Until(t, "the page server of "+name+" to answer", func() bool {
		return call(t, s, "GET", portURL(s, sb.ID, 8000, "/whoami"), "", key, "").status == 200
	})
	return &tenant{name: name, key: key, sb: sb}
}

// signed returns a fresh signed URL of the tenant's port 8000: the host
// form the API hands out, and the path form with the same token.
func (tn *tenant) signed(t *testing.T, s *server) (hostURL, pathURL string) {
	t.Helper()
	r := call(t, s, "POST", portURL(s, tn.sb.ID, 8000, "/url"), `{"expiresInSeconds": 600}`, tn.key, "")
	var pu api.PortURL
	if r.status != 200 || json.Unmarshal([]byte(r.body), &pu) != nil {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	if pu.URL != pu.HostURL {
		t.Errorf("signed URL %q is not the host form %q", pu.URL, pu.HostURL)
	}
	u, err := url.Parse(pu.HostURL)
	if err != nil || !strings.HasSuffix(u.Hostname(), "."+browserDomain) {
		t.Fatalf("signed host URL %q is not under %s", pu.HostURL, browserDomain)
	}
	return pu.HostURL, portURL(s, tn.sb.ID, 8000, "/?"+u.RawQuery)
}

// hostBase is the host form's origin of the tenant's port.
func (tn *tenant) hostBase(s *server, scheme string) string {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	return scheme + "://8000-" + strings.TrimPrefix(tn.sb.ID, "sbx_") + "." + browserDomain + ":" + p
}

// step is what one page of testdata/browserpage.py does before the next.
type step struct {
	URL   string            `json:"url"`
	Fetch map[string]string `json:"fetch,omitempty"`
	WS    map[string]string `json:"ws,omitempty"`
	SW    string            `json:"sw,omitempty"`
	Toss  string            `json:"toss,omitempty"`
}

// browse runs the steps in a fresh headless Chromium and returns each
// page's results (what it saw and what its attempts gave).
func browse(t *testing.T, steps []step) []map[string]string {
	t.Helper()
	c := startChromium(t, browserDomain)
	frag, _ := json.Marshal(map[string]any{"steps": steps, "i": 0})
	tab := c.open(t, steps[0].URL+"#"+url.PathEscape(string(frag)))
	out := c.waitText(t, tab, `(document.getElementById("out") || {}).textContent || ""`, "RESULTS ")
	var res []map[string]string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(out, "RESULTS ")), &res); err != nil {
		t.Fatalf("results %s: %v", out, err)
	}
	if len(res) != len(steps) {
		t.Fatalf("%d pages reported, want %d: %v", len(res), len(steps), res)
	}
	for i, r := range res {
		t.Logf("page %d: %v", i, r)
	}
	return res
}

// expect checks one result of one page: want is a prefix of what the
// page got; a want starting with "!" is a substring that must be absent.
func expect(t *testing.T, page map[string]string, key, want string) {
	t.Helper()
	got, ok := page[key]
	switch {
	case !ok:
		t.Errorf("page %s has no %s result", page["name"], key)
	case strings.HasPrefix(want, "!"):
		if strings.Contains(got, want[1:]) {
			t.Errorf("page %s, %s = %q: must not contain %q", page["name"], key, got, want[1:])
		}
	case !strings.HasPrefix(got, want):
		t.Errorf("page %s, %s = %q, want %q...", page["name"], key, got, want)
	}
}

// twoTenants starts a server with the browser domain and a sandbox page
// for each of two organisations: a (the default one) and b.
func twoTenants(t *testing.T) (*server, *tenant, *tenant) {
	s := startServer(t, "", "--proxy-domain", browserDomain)
	org, err := s.c.CreateOrganization(ctx(t), api.CreateOrganizationRequest{Name: "tenant-b"})
	if err != nil {
		t.Fatal(err)
	}
	return s, newTenant(t, s, "a", s.key), newTenant(t, s, "b", org.APIKey)
}

// TestBrowserHostFormTenants: with the host form, tenant A's page in a
// real browser cannot read B's signed port (B's app even answers any
// origin with credentials), cannot open a WebSocket to it with B's
// cookie, and cannot lock B's users out or fix their session with
// cookies for the parent domain; A's own page keeps working.
func TestBrowserHostFormTenants(t *testing.T) {
	s, a, b := twoTenants(t)
	aURL, _ := a.signed(t, s)
	bURL, _ := b.signed(t, s)
	bURL2, _ := b.signed(t, s)
	res := browse(t, []step{
		// B's user opens B's link; B's own requests carry its cookie.
		{URL: bURL, Fetch: map[string]string{"own": "whoami"}},
		// Then A's page, which tosses cookies for the parent domain (its
		// app with Set-Cookie; Domain=, its script with document.cookie).
		{URL: aURL + "&toss=" + browserDomain,
			Fetch: map[string]string{"own": "secret", "stealB": b.hostBase(s, "http") + "/secret"},
			WS:    map[string]string{"wsOwn": a.hostBase(s, "ws") + "/ws", "wsB": b.hostBase(s, "ws") + "/ws"},
			Toss:  browserDomain},
		// B's user comes back to B.
		{URL: bURL2, Fetch: map[string]string{"own": "whoami"}},
	})
	expect(t, res[0], "own", "200 cookies app_b=secret-b")
	expect(t, res[0], "own", "!hutch_token")

	expect(t, res[1], "own", "200 secret of a")
	expect(t, res[1], "wsOwn", "echo ping")
	expect(t, res[1], "stealB", "blocked")
	expect(t, res[1], "wsB", "refused")
	expect(t, res[1], "seen", "!app_b")

	expect(t, res[2], "own", "200 cookies app_b=secret-b")
	expect(t, res[2], "own", "!tossed_by_a")
	expect(t, res[2], "seen", "!tossed_by_a")
	expect(t, res[2], "own", "!hutch_token")
}

// TestBrowserPathFormTenants: on the path form, which shares the API's
// origin, A's page gets an opaque origin: it does not receive B's app
// cookies, cannot read B's signed port or open a WebSocket to it, and
// cannot register a service worker; the proxy also refuses the worker's
// script and sends the CSP itself.
func TestBrowserPathFormTenants(t *testing.T) {
	s, a, b := twoTenants(t)
	_, aPath := a.signed(t, s)
	_, bPath := b.signed(t, s)
	bBase := portURL(s, b.sb.ID, 8000, "/")
	res := browse(t, []step{
		{URL: bPath},
		{URL: aPath,
			Fetch: map[string]string{"stealB": bBase + "secret"},
			WS:    map[string]string{"wsB": "ws" + strings.TrimPrefix(bBase, "http") + "ws"},
			SW:    "sw.js"},
	})
	expect(t, res[0], "cookie", "unreadable SecurityError")
	expect(t, res[1], "seen", "!app_b")
	expect(t, res[1], "seen", "!hutch_token")
	expect(t, res[1], "cookie", "unreadable SecurityError")
	expect(t, res[1], "stealB", "blocked")
	expect(t, res[1], "wsB", "refused")
	expect(t, res[1], "sw", "refused SecurityError")

	// What the browser could not even try: the worker's script itself.
	h := call(t, s, "GET", portURL(s, a.sb.ID, 8000, "/whoami"), "", a.key, "")
	if csp := h.header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox allow-scripts") {
		t.Errorf("path form CSP = %q", csp)
	}
	req := portURL(s, a.sb.ID, 8000, "/sw.js")
	if r := callWith(t, "GET", req, map[string]string{"Authorization": "Bearer " + a.key, "Service-Worker": "script"}); r.status != 403 {
		t.Errorf("service worker script on the path form: %d %s", r.status, r.body)
	}
}

// callWith makes one request with headers.
func callWith(t *testing.T, method, u string, headers map[string]string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

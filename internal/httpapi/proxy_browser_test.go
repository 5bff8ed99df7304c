package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/hutchdev/hutch/internal/httpapi"
)

const sandboxCSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"

// TestProxyPathFormResponse: through the path form, which every sandbox
// shares with the API's origin, a page gets an opaque origin, cannot
// widen a service worker's scope, clear the site, or set cookies beyond
// its own prefix; the host form keeps its own origin's features but
// still loses Clear-Site-Data and Domain cookies.
func TestProxyPathFormResponse(t *testing.T) {
	e := newProxyEnv(t, httpapi.ProxyConfig{Domain: "hutch.test"})
	key := http.Header{"Authorization": {"Bearer " + e.key}}
	prefix := "/v1/sandboxes/" + e.sb.ID + "/ports/8000"

	r := e.proxied("GET", e.pathURL(8000, "/cookies"), "", key)
	r.app(t)
	if got := r.header.Values("Content-Security-Policy"); !slices.Contains(got, sandboxCSP) {
		t.Errorf("path form CSP = %q, want %q", got, sandboxCSP)
	}
	for _, h := range []string{"Service-Worker-Allowed", "Clear-Site-Data"} {
		if v := r.header.Get(h); v != "" {
			t.Errorf("path form passed %s: %q", h, v)
		}
	}
	wantPath := []string{
		"app=1; Path=" + prefix + "/",
		"sub=2; Path=" + prefix + "/deep; HttpOnly",
		"nopath=3",
		"tossed=4; Path=" + prefix + "/; Secure",
	}
	if got := r.header.Values("Set-Cookie"); !slices.Equal(got, wantPath) {
		t.Errorf("path form Set-Cookie:\n got %q\nwant %q", got, wantPath)
	}

	r = e.proxied("GET", e.url+"/cookies", e.host(8000), key)
	r.app(t)
	if got := r.header.Values("Content-Security-Policy"); len(got) != 0 {
		t.Errorf("host form CSP = %q, want none", got)
	}
	if r.header.Get("Clear-Site-Data") != "" {
		t.Errorf("host form passed Clear-Site-Data")
	}
	if r.header.Get("Service-Worker-Allowed") != "/" {
		t.Errorf("host form dropped Service-Worker-Allowed, its own origin's business")
	}
	wantHost := []string{"app=1; Path=/", "sub=2; Path=/deep; HttpOnly", "nopath=3", "tossed=4; Path=/; Secure"}
	if got := r.header.Values("Set-Cookie"); !slices.Equal(got, wantHost) {
		t.Errorf("host form Set-Cookie:\n got %q\nwant %q", got, wantHost)
	}
}

// TestProxyServiceWorkerScript: the path form refuses to serve a service
// worker's script; the host form, one origin per sandbox, serves it.
func TestProxyServiceWorkerScript(t *testing.T) {
	e := newProxyEnv(t, httpapi.ProxyConfig{Domain: "hutch.test"})
	for _, h := range []http.Header{
		{"Service-Worker": {"script"}},
		{"Sec-Fetch-Dest": {"serviceworker"}},
	} {
		h.Set("Authorization", "Bearer "+e.key)
		if r := e.proxied("GET", e.pathURL(8000, "/sw.js"), "", h); r.status != 403 {
			t.Errorf("path form, %v: %d %s, want 403", h, r.status, r.body)
		}
		e.proxied("GET", e.url+"/sw.js", e.host(8000), h).app(t)
	}
}

// TestProxyTokenCookie: a signed URL's first use sets the token cookie:
// SameSite=Strict, HttpOnly, until the token expires; in the host form
// under TLS a __Host- cookie (Secure, Path=/), in the path form bound to
// the sandbox's prefix. An app cannot set a cookie of those names.
func TestProxyTokenCookie(t *testing.T) {
	for _, tc := range []struct {
		name, publicURL, path string
		host                  bool
		want                  []string
	}{
		{"host form", "", "/", true, []string{"hutch_token=", "Path=/;", "HttpOnly", "SameSite=Strict"}},
		{"host form over TLS", "https://api.example.com", "/", true, []string{"__Host-hutch_token=", "Path=/;", "Secure", "HttpOnly", "SameSite=Strict"}},
		{"path form", "", "/", false, []string{"hutch_token=", "Path=/v1/sandboxes/", "/ports/8000/;", "HttpOnly", "SameSite=Strict"}},
		{"path form over TLS", "https://api.example.com", "/", false, []string{"hutch_token=", "/ports/8000/;", "Secure"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newProxyEnv(t, httpapi.ProxyConfig{Domain: "hutch.test", PublicURL: tc.publicURL})
			pu, tok := e.sign(8000)
			url, host := e.pathURL(8000, "/cookies?hutch_token="+tok), ""
			if tc.host {
				url, host = e.url+"/cookies?hutch_token="+tok, e.host(8000)
			}
			r := e.proxied("GET", url, host, nil)
			r.app(t)
			var ours []string
			for _, c := range r.header.Values("Set-Cookie") {
				if strings.Contains(c, "hutch_token=") {
					ours = append(ours, c)
				}
			}
			if len(ours) != 1 || strings.Contains(ours[0], "forged") {
				t.Fatalf("token cookies %q, want the proxy's one", ours)
			}
			for _, w := range tc.want {
				if !strings.Contains(ours[0], w) {
					t.Errorf("cookie %q lacks %q", ours[0], w)
				}
			}
			if !tc.host && strings.Contains(ours[0], "__Host-") {
				t.Errorf("path form cookie %q is a __Host- cookie, which needs Path=/", ours[0])
			}
			if exp := pu.ExpiresAt.Format(http.TimeFormat); !strings.Contains(ours[0], "Expires="+exp) {
				t.Errorf("cookie %q does not expire with its token at %s", ours[0], exp)
			}
		})
	}
}

// TestProxyCookieOrigin: the token cookie opens its port only to its own
// origin; sibling sandboxes are one site, so SameSite alone would let
// them in. A token in the URL or an API key is not something a browser
// attaches on its own, and a public port's plain requests are anyone's.
func TestProxyCookieOrigin(t *testing.T) {
	e := newProxyEnv(t, httpapi.ProxyConfig{Domain: "hutch.test"})
	_, tok := e.sign(8000)
	self := "http://" + e.host(8000)
	sibling := "http://8000-other.hutch.test"
	cookie := "hutch_token=" + tok
	for _, tc := range []struct {
		name   string
		header http.Header
		query  bool
		want   int
	}{
		{"cookie, no browser headers", http.Header{}, false, 200},
		{"cookie, typed URL", http.Header{"Sec-Fetch-Site": {"none"}}, false, 200},
		{"cookie, same origin", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {self}}, false, 200},
		{"cookie, sibling sandbox", http.Header{"Sec-Fetch-Site": {"same-site"}}, false, 403},
		{"cookie, other site", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false, 403},
		{"cookie, sibling Origin only", http.Header{"Origin": {sibling}}, false, 403},
		{"cookie, opaque Origin", http.Header{"Origin": {"null"}}, false, 403},
		{"query token, sibling", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {sibling}}, true, 200},
		{"key, other site", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Authorization": {"Bearer " + e.key}}, false, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header.Clone()
			url := e.url + "/"
			if tc.query {
				url += "?hutch_token=" + tok
			} else if h.Get("Authorization") == "" {
				h.Set("Cookie", cookie)
			}
			if r := e.proxied("GET", url, e.host(8000), h); r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}

	// Several cookies of the name (one tossed by a sibling): any valid
	// one opens the port; none valid is 401.
	h := http.Header{"Cookie": {"hutch_token=tossed-by-a-sibling; __Host-hutch_token=junk; hutch_token=" + tok}}
	if r := e.proxied("GET", e.url+"/", e.host(8000), h); r.status != 200 {
		t.Errorf("a valid cookie among bad ones: %d %s", r.status, r.body)
	}
	h = http.Header{"Cookie": {"hutch_token=tossed-by-a-sibling; hutch_token=junk"}}
	if r := e.proxied("GET", e.url+"/", e.host(8000), h); r.status != 401 {
		t.Errorf("only bad cookies: %d %s", r.status, r.body)
	}

	// A public port serves cross-site plain requests.
	e.must(200, "PUT", "/v1/sandboxes/"+e.sb.ID+"/ports/8001/public", map[string]bool{"public": true})
	h = http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://elsewhere.example"}}
	if r := e.proxied("GET", e.url+"/", e.host(8001), h); r.status != 200 {
		t.Errorf("public port, cross-site: %d %s", r.status, r.body)
	}
}

// TestProxyWebSocketOrigin: every WebSocket upgrade that a browser's own
// credentials let in (the token cookie, a public port with the app's
// cookies) must come from the port's own origin.
func TestProxyWebSocketOrigin(t *testing.T) {
	e := newProxyEnv(t, httpapi.ProxyConfig{Domain: "hutch.test"})
	e.must(200, "PUT", "/v1/sandboxes/"+e.sb.ID+"/ports/8001/public", map[string]bool{"public": true})
	_, tok := e.sign(8000)
	ws := "ws" + strings.TrimPrefix(e.url, "http")
	for _, tc := range []struct {
		name   string
		port   int
		query  string
		header http.Header
		ok     bool
	}{
		{"cookie, same origin", 8000, "", http.Header{"Cookie": {"hutch_token=" + tok}, "Origin": {"http://" + e.host(8000)}}, true},
		{"cookie, sibling", 8000, "", http.Header{"Cookie": {"hutch_token=" + tok}, "Origin": {"http://8000-other.hutch.test"}}, false},
		{"cookie, other port of the sandbox", 8000, "", http.Header{"Cookie": {"hutch_token=" + tok}, "Origin": {"http://" + e.host(3000)}}, false},
		{"public, same origin", 8001, "", http.Header{"Origin": {"http://" + e.host(8001)}}, true},
		{"public, sibling", 8001, "", http.Header{"Origin": {"http://8001-other.hutch.test"}}, false},
		{"public, no Origin", 8001, "", http.Header{}, true},
		{"query token, other site", 8000, "?hutch_token=" + tok, http.Header{"Origin": {"https://elsewhere.example"}}, true},
		{"key, other site", 8000, "", http.Header{"Authorization": {"Bearer " + e.key}, "Origin": {"https://elsewhere.example"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := websocket.Dial(t.Context(), ws+"/ws"+tc.query, &websocket.DialOptions{HTTPHeader: tc.header, Host: e.host(tc.port)})
			if !tc.ok {
				if err == nil {
					c.CloseNow()
					t.Fatal("upgrade accepted")
				}
				if resp == nil || resp.StatusCode != 403 {
					t.Fatalf("refused with %v, want 403", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.CloseNow()
			if err := c.Write(t.Context(), websocket.MessageText, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			if _, b, err := c.Read(t.Context()); err != nil || string(b) != "ping" {
				t.Fatalf("echo: %q %v", b, err)
			}
		})
	}
}

// TestProxyPathFormCookieOrigin: the path form's pages are opaque
// origins; a request from one ("Origin: null", cross-site) cannot use a
// sandbox's cookie either.
func TestProxyPathFormCookieOrigin(t *testing.T) {
	e := newProxyEnv(t, httpapi.ProxyConfig{})
	_, tok := e.sign(8000)
	h := http.Header{"Cookie": {"hutch_token=" + tok}}
	if r := e.proxied("GET", e.pathURL(8000, "/"), "", h); r.status != 200 {
		t.Fatalf("cookie, no browser headers: %d %s", r.status, r.body)
	}
	h.Set("Origin", "null")
	h.Set("Sec-Fetch-Site", "cross-site")
	if r := e.proxied("GET", e.pathURL(8000, "/"), "", h); r.status != 403 {
		t.Fatalf("cookie from an opaque origin: %d %s", r.status, r.body)
	}
}

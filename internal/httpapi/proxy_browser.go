package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// The token cookie. In the host form under TLS it is a __Host- cookie:
// the browser then takes it only from this exact host, Secure, Path=/ and
// without Domain, so a sibling sandbox cannot toss one for the parent
// domain. Without TLS a __Host- cookie is refused by browsers, so the
// plain name is used; the MAC still binds a token to one sandbox and port.
const (
	tokenCookie     = "hutch_token"
	hostTokenCookie = "__Host-hutch_token"
)

// pathFormCSP gives every page served through the path form an opaque
// origin: its scripts run, but it cannot read cookies, storage or
// responses of the API's origin, which every path-form sandbox shares,
// and cannot register a service worker there.
const pathFormCSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"

// authMode is how a proxied request got in, which decides how far a
// browser's cross-site request may go.
type authMode int

const (
	// authKey: an API key in a header, which no browser attaches on its own.
	authKey authMode = iota
	// authQueryToken: a signed token in the URL, a capability the caller holds.
	authQueryToken
	// authPublic: a public port; anyone may call, but a browser attaches
	// the app's own cookies.
	authPublic
	// authCookie: the token cookie, which a browser attaches on its own.
	authCookie
)

// isTokenCookie reports whether name is one of the proxy's own cookies.
func isTokenCookie(name string) bool { return name == tokenCookie || name == hostTokenCookie }

// cookie is the token cookie set when a signed URL is first used, so that
// the page's own links and assets work too. SameSite=Strict keeps it off
// requests from other sites; only same-origin pages may use it (see
// checkBrowser), because sibling sandbox hosts are one site.
func (t *portTarget) cookie() *http.Cookie {
	c := &http.Cookie{Name: tokenCookie, Value: t.token, Path: "/", HttpOnly: true,
		Secure: t.secure, SameSite: http.SameSiteStrictMode}
	if exp, ok := tokenExpiry(t.token); ok {
		c.Expires = exp
	}
	switch {
	case t.prefix != "":
		c.Path = t.prefix + "/"
	case t.secure:
		c.Name = hostTokenCookie
	}
	return c
}

// validCookie reports whether any token cookie of r opens port of id: a
// sibling that tossed a bad cookie of the same name does not lock the
// user out.
func validCookie(r *http.Request, secret []byte, id string, port int, now time.Time) bool {
	for _, c := range r.Cookies() {
		if isTokenCookie(c.Name) && verifyPort(secret, id, port, c.Value, now) {
			return true
		}
	}
	return false
}

// serviceWorkerScript reports whether r fetches a service worker's
// script. On the path form a worker would control the API's origin
// below its scope.
func serviceWorkerScript(r *http.Request) bool {
	return r.Header.Get("Service-Worker") == "script" || r.Header.Get("Sec-Fetch-Dest") == "serviceworker"
}

// isUpgrade reports whether r asks to switch protocols (a WebSocket).
func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// checkBrowser refuses a cross-origin browser request that only the
// browser's own credentials let in: one authenticated by the token
// cookie, and every WebSocket upgrade that is not keyed or signed in its
// URL (a WebSocket carries the app's cookies too, and the app rarely
// checks Origin). Sibling sandboxes are one site, so SameSite cannot tell
// them apart; Origin and Sec-Fetch-Site can.
func (c ProxyConfig) checkBrowser(r *http.Request, t *portTarget) error {
	switch {
	case t.auth == authKey || t.auth == authQueryToken:
		return nil
	case t.auth == authPublic && !isUpgrade(r):
		return nil
	case !c.crossOrigin(r, t.prefix != ""):
		return nil
	}
	what := "a request that carries only the port's cookie"
	if isUpgrade(r) {
		what = "a WebSocket"
	}
	return fmt.Errorf("%s must come from the port's own origin, not %s: %w", what, requestOrigin(r), errdefs.ErrForbidden)
}

// requestOrigin names where a browser request came from, for errors.
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return fmt.Sprintf("%.100q", o)
	}
	return "a " + r.Header.Get("Sec-Fetch-Site") + " page"
}

// crossOrigin reports whether a browser says r comes from another origin
// than the one it is addressed to. A request with neither Origin nor
// Sec-Fetch-Site (a command-line client, a typed URL in an old browser)
// is not cross-origin.
func (c ProxyConfig) crossOrigin(r *http.Request, pathForm bool) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return true // "null": a sandboxed page, a file, a redirect chain
	}
	got := canonicalHost(u.Scheme, u.Host)
	for _, self := range []string{r.Host, c.publicHost(pathForm)} {
		if self != "" && (got == canonicalHost("http", self) || got == canonicalHost("https", self)) {
			return false
		}
	}
	return true
}

// publicHost is the host of PublicURL, where path-form pages live when
// the server sits behind a proxy that rewrites Host.
func (c ProxyConfig) publicHost(pathForm bool) string {
	if !pathForm || c.PublicURL == "" {
		return ""
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// canonicalHost lower-cases host and drops the scheme's default port.
func canonicalHost(scheme, host string) string {
	host = strings.ToLower(host)
	if _, p, err := net.SplitHostPort(host); err == nil &&
		(scheme == "http" && p == "80" || scheme == "https" && p == "443") {
		return host[:len(host)-len(p)-1]
	}
	return host
}

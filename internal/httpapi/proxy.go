package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// ProxyConfig configures the port proxy.
type ProxyConfig struct {
	// Domain turns on host-based routing: {port}-{id}.{Domain}, the form
	// handed to browsers. Empty leaves only the path form
	// /v1/sandboxes/{id}/ports/{port}/...
	Domain string
	// Secret signs port URLs; without one, signing is refused.
	Secret []byte
	// PublicURL, when set, is the scheme and host (and path, for the path
	// form) that signed URLs are built on, behind a reverse proxy; https
	// here also marks the token cookie Secure. Empty: the listener's own
	// address, never the client's Host or X-Forwarded-Proto.
	PublicURL string

	proxy *httputil.ReverseProxy // made by registerNetwork
}

// portTarget is one proxied request's destination and how it got in.
type portTarget struct {
	sb        *sandbox.Sandbox
	port      int
	path      string   // the path the sandbox sees
	prefix    string   // the path form's prefix, stripped; "" in the host form
	auth      authMode // how the caller got in
	token     string   // a valid token from the query, to turn into a cookie
	secure    bool     // the browser reached the proxy over TLS
	dropAuthz bool     // Authorization carries a Hutch key
	keyID     string   // the API key that let the caller in, if one did
}

// portTransport dials sandboxes through the domain's door: the request URL's
// host is "<sandbox id>:<port>", so idle connections are pooled per
// sandbox port.
func (s *Server) portTransport() *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			id, p, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			port, _ := strconv.Atoi(p)
			return s.Sandboxes.DialPort(ctx, id, port)
		},
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // long polls and streams are the app's business
	}
}

// newPortProxy passes requests and upgrades through unbuffered
// (FlushInterval -1: every write is flushed, so streams and server-sent
// events arrive as they are made; Upgrade turns into a spliced
// connection).
func (s *Server) newPortProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport:     s.portTransport(),
		FlushInterval: -1,
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(keyPortTarget).(*portTarget)
			pr.SetXForwarded()
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = net.JoinHostPort(t.sb.ID, strconv.Itoa(t.port))
			pr.Out.URL.Path, pr.Out.URL.RawPath = t.path, ""
			pr.Out.URL.RawQuery = dropQueryParam(pr.Out.URL.RawQuery, tokenParam)
			pr.Out.Host = pr.In.Host
			setForwarded(pr.Out.Header, t.prefix, pr.In.RemoteAddr)
			stripCredentials(pr.Out.Header, t.dropAuthz)
		},
		ModifyResponse: func(resp *http.Response) error {
			t := resp.Request.Context().Value(keyPortTarget).(*portTarget)
			secureResponse(resp.Header, t.prefix)
			if t.token != "" {
				resp.Header.Add("Set-Cookie", t.cookie().String())
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller left
			}
			t := r.Context().Value(keyPortTarget).(*portTarget)
			if !errors.Is(err, errdefs.ErrNotImplemented) {
				err = fmt.Errorf("nothing answered on port %d of sandbox %s: %v: %w", t.port, t.sb.ID, err, errdefs.ErrUnavailable)
			}
			s.writeError(w, r, err)
		},
	}
}

// portTargetKey keys a proxied request's *portTarget in its context.
type portTargetKey struct{}

var keyPortTarget portTargetKey

// parsePort reads a port number from a path.
func parsePort(v string) (int, error) {
	port, err := strconv.Atoi(v)
	if err != nil {
		return 0, errdefs.InvalidField("port", "%q is not a port number", v)
	}
	return port, sandbox.ValidatePort(port)
}

// portAccess finds the sandbox and checks the caller may reach port: an
// API key of its organisation, a valid signed token (query or cookie),
// or a public port. A Bearer token that is not a key of the sandbox's
// organisation may be the app's own (a public port behind its own
// login), so the other ways in are tried before its error is answered.
// Without an API key, a sandbox that does not exist and a port that is
// not open to the caller look the same (401), so that existence does not
// leak.
func (s *Server) portAccess(r *http.Request, idOrName string, port int) (*portTarget, error) {
	t := &portTarget{port: port}
	var keyErr error
	for _, key := range proxyKeys(r) {
		p, err := auth.Authenticate(r.Context(), s.Auth, key)
		if err == nil {
			t.sb, err = s.Sandboxes.Get(r.Context(), p.OrganizationID, idOrName)
		}
		if err == nil {
			t.auth, t.dropAuthz, t.keyID = authKey, key == bearerToken(r), p.KeyID
			return t, nil
		}
		if !errors.Is(err, errdefs.ErrUnauthenticated) && !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
		keyErr = err
	}
	denied := fmt.Errorf("an API key, a signed URL or a public port is needed: %w", errdefs.ErrUnauthenticated)
	if keyErr != nil {
		denied = keyErr
	}
	sb, err := s.Sandboxes.GetByID(r.Context(), idOrName)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, denied
		}
		return nil, err
	}
	t.sb = sb
	now := time.Now()
	switch tok := r.URL.Query().Get(tokenParam); {
	case verifyPort(s.Proxy.Secret, sb.ID, port, tok, now):
		t.auth, t.token = authQueryToken, tok
	case sb.IsPublic(port):
		t.auth = authPublic
	case validCookie(r, s.Proxy.Secret, sb.ID, port, now):
		t.auth = authCookie
	default:
		return nil, denied
	}
	return t, nil
}

// proxyKeys are the API keys a proxied request may carry: a Bearer
// token, and X-API-Key even beside another Authorization (the app's own
// Basic login, say).
func proxyKeys(r *http.Request) []string {
	var keys []string
	if k := bearerToken(r); k != "" {
		keys = append(keys, k)
	}
	if k := strings.TrimSpace(r.Header.Get("X-API-Key")); k != "" {
		keys = append(keys, k)
	}
	return keys
}

// bearerToken is the token of "Authorization: Bearer <token>", or "".
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// servePort checks access, the browser rules and state, then proxies.
// prefix is the path form's prefix, "" in the host form.
func (s *Server) servePort(w http.ResponseWriter, r *http.Request, idOrName string, port int, path, prefix string) error {
	if prefix != "" && serviceWorkerScript(r) {
		return fmt.Errorf("service workers cannot be registered through the path form, which shares the API's origin; use the host form: %w", errdefs.ErrForbidden)
	}
	t, err := s.portAccess(r, idOrName, port)
	if err != nil {
		return err
	}
	if t.keyID != "" {
		// A revoked key ends what it opened, a proxied WebSocket too.
		ctx, release := gateway.HoldKey(r.Context(), t.keyID)
		defer release()
		r = r.WithContext(ctx)
	}
	t.path, t.prefix = path, prefix
	t.secure = s.Proxy.secure(r)
	if err := s.Proxy.checkBrowser(r, t); err != nil {
		return err
	}
	t.dropAuthz = t.dropAuthz || s.carriesKey(r.Context(), r.Header.Get("Authorization"))
	if t.sb, err = s.Sandboxes.ProxyReady(r.Context(), t.sb); err != nil {
		return err
	}
	defer s.Sandboxes.Hold(t.sb.ID)() // a WebSocket open for hours is activity all along
	// Like the agent forwarder: the app may answer while the request body
	// is still on its way, and HTTP/1 must keep that body readable.
	_ = http.NewResponseController(w).EnableFullDuplex()
	s.Proxy.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyPortTarget, t)))
	return nil
}

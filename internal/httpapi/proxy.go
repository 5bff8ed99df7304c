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
	// Domain turns on host-based routing: {port}-{id}.{Domain}. Empty
	// leaves only the path form /v1/sandboxes/{id}/ports/{port}/...
	Domain string
	// Secret signs port URLs; without one, signing is refused.
	Secret []byte

	proxy *httputil.ReverseProxy // made by registerNetwork
}

// portTarget is one proxied request's destination and how it got in.
type portTarget struct {
	sb     *sandbox.Sandbox
	port   int
	path   string // the path the sandbox sees
	prefix string // what the proxy stripped, for X-Forwarded-Prefix
	keyed  bool   // the caller used an API key (strip it before forwarding)
	token  string // a valid token from the query, to turn into a cookie
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
			q := pr.Out.URL.Query()
			if q.Has(tokenParam) {
				q.Del(tokenParam)
				pr.Out.URL.RawQuery = q.Encode()
			}
			pr.Out.Host = pr.In.Host
			if t.prefix != "" {
				pr.Out.Header.Set("X-Forwarded-Prefix", t.prefix)
			}
			if t.keyed {
				pr.Out.Header.Del("Authorization")
				pr.Out.Header.Del("X-API-Key")
			}
			stripTokenCookie(pr.Out.Header)
		},
		ModifyResponse: func(resp *http.Response) error {
			t := resp.Request.Context().Value(keyPortTarget).(*portTarget)
			if t.token != "" {
				c := &http.Cookie{Name: tokenCookie, Value: t.token, Path: t.prefix + "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
				if t.prefix == "" {
					c.Path = "/"
				}
				resp.Header.Add("Set-Cookie", c.String())
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

// stripTokenCookie removes the proxy's own cookie from a forwarded request.
func stripTokenCookie(h http.Header) {
	cookies := h.Values("Cookie")
	if len(cookies) == 0 {
		return
	}
	var keep []string
	for _, line := range cookies {
		for _, part := range strings.Split(line, ";") {
			if name, _, _ := strings.Cut(strings.TrimSpace(part), "="); name != tokenCookie && strings.TrimSpace(part) != "" {
				keep = append(keep, strings.TrimSpace(part))
			}
		}
	}
	h.Del("Cookie")
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
}

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
// or a public port. Without an API key, a sandbox that does not exist
// and a port that is not open to the caller look the same (401), so that
// existence does not leak.
func (s *Server) portAccess(r *http.Request, idOrName string, port int) (*portTarget, error) {
	t := &portTarget{port: port}
	if key := gateway.BearerOrAPIKey(r); key != "" {
		p, err := auth.Authenticate(r.Context(), s.Auth, key)
		if err != nil {
			return nil, err
		}
		if t.sb, err = s.Sandboxes.Get(r.Context(), p.OrganizationID, idOrName); err != nil {
			return nil, err
		}
		t.keyed = true
		return t, nil
	}
	denied := fmt.Errorf("an API key, a signed URL or a public port is needed: %w", errdefs.ErrUnauthenticated)
	sb, err := s.Sandboxes.GetByID(r.Context(), idOrName)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, denied
		}
		return nil, err
	}
	t.sb = sb
	now := time.Now()
	if tok := r.URL.Query().Get(tokenParam); verifyPort(s.Proxy.Secret, sb.ID, port, tok, now) {
		t.token = tok
		return t, nil
	}
	if c, err := r.Cookie(tokenCookie); err == nil && verifyPort(s.Proxy.Secret, sb.ID, port, c.Value, now) {
		return t, nil
	}
	if sb.IsPublic(port) {
		return t, nil
	}
	return nil, denied
}

// servePort checks access and state, then proxies.
func (s *Server) servePort(w http.ResponseWriter, r *http.Request, idOrName string, port int, path, prefix string) error {
	t, err := s.portAccess(r, idOrName, port)
	if err != nil {
		return err
	}
	if t.sb, err = s.Sandboxes.ProxyReady(r.Context(), t.sb); err != nil {
		return err
	}
	defer s.Sandboxes.Hold(t.sb.ID)() // a WebSocket open for hours is activity all along
	t.path, t.prefix = path, prefix
	// Like the agent forwarder: the app may answer while the request body
	// is still on its way, and HTTP/1 must keep that body readable.
	_ = http.NewResponseController(w).EnableFullDuplex()
	s.Proxy.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyPortTarget, t)))
	return nil
}

package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// portPath is the path form of the port proxy; the OpenAPI document
// spells the rest-of-path wildcard {path}.
const (
	portPath     = "/v1/sandboxes/{id}/ports/{port}/{path...}"
	portPathSpec = "/v1/sandboxes/{id}/ports/{port}/{path}"
)

// proxiedMethods are the methods the port proxy passes through.
var proxiedMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// registerNetwork serves network policy changes, the port proxy and its
// signed URLs and public ports. The proxy authenticates on its own
// (API key, signed token or public port), so it is not wrapped in
// authenticated. POST .../url and PUT .../public shadow those two paths
// of the sandbox's app in the path form; the host form has no such gap.
func (s *Server) registerNetwork() {
	s.Proxy.proxy = s.newPortProxy()
	s.handle("PUT", "/v1/sandboxes/{id}/network", s.authenticated(s.setNetwork))
	s.handle("POST", "/v1/sandboxes/{id}/ports/{port}/url", s.authenticated(s.portURL))
	s.handle("PUT", "/v1/sandboxes/{id}/ports/{port}/public", s.authenticated(s.portPublic))
	for _, m := range proxiedMethods {
		s.mux.HandleFunc(m+" "+portPath, s.serve(s.portByPath))
		s.routes = append(s.routes, Route{m, portPathSpec})
	}
}

func (s *Server) portByPath(w http.ResponseWriter, r *http.Request) error {
	id, portStr := r.PathValue("id"), r.PathValue("port")
	port, err := parsePort(portStr)
	if err != nil {
		return err
	}
	prefix := "/v1/sandboxes/" + id + "/ports/" + portStr
	return s.servePort(w, r, id, port, "/"+r.PathValue("path"), prefix)
}

func (s *Server) setNetwork(w http.ResponseWriter, r *http.Request) error {
	var req api.NetworkRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	u := sandbox.NetworkUpdate{Internet: req.Internet}
	if req.AllowCIDRs != nil {
		u.AllowCIDRs = &req.AllowCIDRs
	}
	if req.DenyCIDRs != nil {
		u.DenyCIDRs = &req.DenyCIDRs
	}
	return answer(w)(s.Sandboxes.SetNetwork(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"), u))
}

func (s *Server) portPublic(w http.ResponseWriter, r *http.Request) error {
	port, err := parsePort(r.PathValue("port"))
	if err != nil {
		return err
	}
	var req api.PortPublicRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	return answer(w)(s.Sandboxes.SetPortPublic(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"), port, req.Public))
}

// portURL signs a link to a port. With a proxy domain the link is the
// host form, one site per sandbox, which is what browsers must get; the
// path form shares the API's origin among all sandboxes. Links are built
// on PublicURL, else on the address the request reached, never on the
// client's Host or X-Forwarded-Proto.
func (s *Server) portURL(w http.ResponseWriter, r *http.Request) error {
	port, err := parsePort(r.PathValue("port"))
	if err != nil {
		return err
	}
	var req api.PortURLRequest
	if err := decode(w, r, &req, true); err != nil {
		return err
	}
	ttl := defaultPortURLTTL
	if req.ExpiresInSeconds != nil {
		secs := *req.ExpiresInSeconds
		if secs < 1 || secs > int64(maxPortURLTTL/time.Second) {
			return errdefs.InvalidField("expiresInSeconds", "must be between 1 and %d", int64(maxPortURLTTL/time.Second))
		}
		ttl = time.Duration(secs) * time.Second
	}
	if len(s.Proxy.Secret) == 0 {
		return fmt.Errorf("this server has no signing secret for port URLs: %w", errdefs.ErrNotImplemented)
	}
	sb, err := s.Sandboxes.Get(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	base, err := s.Proxy.base(r)
	if err != nil {
		return err
	}
	// The token carries whole seconds: rounding up keeps the URL open for
	// at least what was asked.
	exp := time.Now().Add(ttl + time.Second - 1).Truncate(time.Second)
	q := url.Values{tokenParam: {signPort(s.Proxy.Secret, sb.ID, port, exp)}}.Encode()
	out := api.PortURL{
		URL:       fmt.Sprintf("%s://%s%s/v1/sandboxes/%s/ports/%d/?%s", base.Scheme, base.Host, strings.TrimSuffix(base.Path, "/"), sb.ID, port, q),
		ExpiresAt: exp.UTC(),
	}
	if s.Proxy.Domain != "" {
		host := strconv.Itoa(port) + "-" + strings.TrimPrefix(sb.ID, sandbox.IDPrefix) + "." + s.Proxy.Domain
		if p := base.Port(); p != "" {
			host = net.JoinHostPort(host, p)
		}
		out.HostURL = fmt.Sprintf("%s://%s/?%s", base.Scheme, host, q)
		out.URL = out.HostURL
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// base is where links handed out point: PublicURL when set, else the
// scheme of the connection and the local address it reached (the
// listener's own, as the client dialled it).
func (c ProxyConfig) base(r *http.Request) (*url.URL, error) {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("the server's public URL %q is not an http(s) URL", c.PublicURL)
		}
		return u, nil
	}
	u := &url.URL{Scheme: "http", Host: r.Host}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		u.Host = a.String()
	}
	return u, nil
}

// secure reports whether browsers reach the proxy over TLS: the
// connection is TLS, or the public URL says a TLS proxy fronts it.
func (c ProxyConfig) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(c.PublicURL), "https:")
}

// apiNetwork is a sandbox's policy on the wire, lists never null.
func apiNetwork(n sandbox.Network) api.Network {
	out := api.Network{Internet: n.Internet, AllowCIDRs: n.AllowCIDRs, DenyCIDRs: n.DenyCIDRs, PublicPorts: n.PublicPorts}
	if out.AllowCIDRs == nil {
		out.AllowCIDRs = []string{}
	}
	if out.DenyCIDRs == nil {
		out.DenyCIDRs = []string{}
	}
	if out.PublicPorts == nil {
		out.PublicPorts = []int{}
	}
	return out
}

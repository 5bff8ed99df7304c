package compat

import (
	"net/http"
	"strings"
)

// BaseURL is the scheme and host that URLs handed out to this request's
// client point at: PublicURL when set, else the request's own, with the
// scheme a TLS connection or a reverse proxy (X-Forwarded-Proto) says.
func (d Deps) BaseURL(r *http.Request) string {
	if d.PublicURL != "" {
		return strings.TrimSuffix(d.PublicURL, "/")
	}
	return Scheme(r) + "://" + r.Host
}

// Scheme is the scheme the client used to reach this server.
func Scheme(r *http.Request) string {
	if p := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); p == "https" || p == "http" {
		return p
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// HostOnly drops a URL's scheme, for vendors whose endpoints are
// host[:port]/path (OpenSandbox).
func HostOnly(url string) string {
	if _, rest, ok := strings.Cut(url, "://"); ok {
		return rest
	}
	return url
}

// SandboxHost is the per-sandbox host name {port}-{id}.{domain} (with the
// request's port, if it had one), or "" when no domain is configured.
func (d Deps) SandboxHost(r *http.Request, sandboxID string, port string) string {
	if d.Domain == "" {
		return ""
	}
	host := port + "-" + strings.TrimPrefix(sandboxID, "sbx_") + "." + d.Domain
	if _, p, ok := strings.Cut(r.Host, ":"); ok && d.PublicURL == "" {
		host += ":" + p
	}
	return host
}

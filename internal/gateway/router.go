package gateway

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// HostHandler serves requests addressed to a sandbox by host name,
// {port}-{id}.{domain}.
type HostHandler func(w http.ResponseWriter, r *http.Request, sandboxID string, port int)

// Router is the server's top-level handler. A request to a per-sandbox
// host goes to the face that claimed its port, or to the default host
// handler (the native port proxy); any other request goes to the face
// mounted at the longest prefix of its path, or to the root face; the
// bare path / may have a handler of its own (Index).
type Router struct {
	// Domain turns on per-sandbox hosts; empty leaves only paths.
	Domain string
	// IDPrefix is the sandbox IDs' prefix, which a host name may drop
	// (underscores are not valid in DNS names).
	IDPrefix string

	root     http.Handler
	index    http.Handler
	hostDef  HostHandler
	prefixes []mount
	ports    map[int]HostHandler
}

type mount struct {
	prefix string
	h      http.Handler
}

// NewRouter returns a router whose unmatched paths go to root and whose
// unclaimed sandbox hosts go to hosts.
func NewRouter(domain, idPrefix string, root http.Handler, hosts HostHandler) *Router {
	return &Router{Domain: domain, IDPrefix: idPrefix, root: root, hostDef: hosts, ports: map[int]HostHandler{}}
}

// Mount serves paths below prefix (such as /compat/e2b) with h, which
// sees them without the prefix.
func (rt *Router) Mount(prefix string, h http.Handler) {
	prefix = strings.TrimSuffix(prefix, "/")
	rt.prefixes = append(rt.prefixes, mount{prefix, http.StripPrefix(prefix, h)})
}

// Index serves GET and HEAD of the bare path / with h (the web
// dashboard's page, where a browser pointed at the server lands). No API
// client asks for /, so no route of any face is shadowed; other methods
// on / still reach the root face.
func (rt *Router) Index(h http.Handler) { rt.index = h }

// ClaimPort serves the per-sandbox hosts of one port with h (E2B's envd
// answers on {49983}-{id}.{domain}, not the sandbox's own port 49983).
func (rt *Router) ClaimPort(port int, h HostHandler) { rt.ports[port] = h }

// SandboxHost parses a per-sandbox host name of the router's domain.
func (rt *Router) SandboxHost(host string) (id string, port int, ok bool) {
	if rt.Domain == "" {
		return "", 0, false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	label, ok := strings.CutSuffix(strings.ToLower(host), "."+strings.ToLower(rt.Domain))
	if !ok || strings.Contains(label, ".") {
		return "", 0, false
	}
	p, id, ok := strings.Cut(label, "-")
	if !ok || id == "" || !hostLabel(id) || p == "" || strings.Trim(p, "0123456789") != "" {
		return "", 0, false
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, false
	}
	if !strings.HasPrefix(id, rt.IDPrefix) {
		id = rt.IDPrefix + id
	}
	return id, port, true
}

// hostLabel reports whether an ID taken from a host name has only the
// characters of a host label (and the IDs' underscore): a Host header
// with spaces or control characters names no sandbox.
func hostLabel(id string) bool {
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ServeHTTP dispatches by host, then by path prefix.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, port, ok := rt.SandboxHost(r.Host); ok {
		SetRoute(r.Context(), "{port}-{id}."+rt.Domain)
		if h := rt.ports[port]; h != nil {
			h(w, r, id, port)
			return
		}
		rt.hostDef(w, r, id, port)
		return
	}
	if rt.index != nil && r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		SetRoute(r.Context(), "/")
		rt.index.ServeHTTP(w, r)
		return
	}
	best := -1
	for i, m := range rt.prefixes {
		if (r.URL.Path == m.prefix || strings.HasPrefix(r.URL.Path, m.prefix+"/")) &&
			(best < 0 || len(m.prefix) > len(rt.prefixes[best].prefix)) {
			best = i
		}
	}
	if best >= 0 {
		SetRoute(r.Context(), rt.prefixes[best].prefix+"/*")
		rt.prefixes[best].h.ServeHTTP(w, r)
		return
	}
	rt.root.ServeHTTP(w, r)
}

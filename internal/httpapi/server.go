// Package httpapi serves the native REST API: JSON in camelCase, API keys
// per organisation, a request ID on every response and one error envelope.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/agentconn"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/webhook"
)

// Deps are what the handlers call into.
type Deps struct {
	Sandboxes *sandbox.Service
	Auth      auth.Store
	Webhooks  *webhook.Service
	Agents    *agentconn.Pool // connections to agents, shared with the compatible APIs; nil: a pool of its own
	Log       *slog.Logger
	Version   string
	Proxy     ProxyConfig // the port proxy's domain and signing secret
	// Readiness answers /readyz; nil: ready exactly when /healthz's ready says so.
	Readiness func(context.Context) api.Readiness
	// RateLimits, when set, are shown in /v1/info and changed by the
	// platform admin at /v1/rate-limits (the gateway enforces them).
	RateLimits RateLimits
}

// Server is the native API handler.
type Server struct {
	Deps
	mux    *http.ServeMux
	routes []Route
	ready  func() bool
	router *gateway.Router
}

// Route is one registered method and path pattern.
type Route struct{ Method, Path string }

// New builds the handler. ready reports whether /readyz should say 200
// when d.Readiness is nil.
func New(d Deps, ready func() bool) *Server {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Agents == nil {
		d.Agents = agentconn.NewPool()
	}
	s := &Server{Deps: d, mux: http.NewServeMux(), ready: ready}
	s.register()
	native := gateway.Outer(s.Log, s.writeError, http.HandlerFunc(s.route))
	s.router = gateway.NewRouter(d.Proxy.Domain, sandbox.IDPrefix, native, func(w http.ResponseWriter, r *http.Request, id string, port int) {
		gateway.Outer(s.Log, s.writeError, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := s.servePort(w, r, id, port, r.URL.Path, ""); err != nil {
				s.writeError(w, r, err)
			}
		})).ServeHTTP(w, r)
	})
	return s
}

// Router is the server's top-level handler, on which the compatible APIs
// mount beside the native one.
func (s *Server) Router() *gateway.Router { return s.router }

func (s *Server) handle(method, path string, h http.HandlerFunc) {
	s.mux.HandleFunc(method+" "+path, h)
	s.routes = append(s.routes, Route{method, path})
}

// Routes lists every registered route, sorted.
func (s *Server) Routes() []Route {
	out := append([]Route(nil), s.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// ServeHTTP serves every face mounted on the router.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.router.ServeHTTP(w, r)
}

// route answers unknown paths with the error envelope rather than the
// mux's plain-text 404.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		status := http.StatusNotFound
		code, msg := api.CodeNotFound, "no route for "+r.Method+" "+r.URL.Path
		rec := &probe{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			status, code, msg = http.StatusMethodNotAllowed, api.CodeInvalidArgument, "method "+r.Method+" is not allowed on "+r.URL.Path
			w.Header().Set("Allow", rec.header.Get("Allow"))
		}
		writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, RequestID: requestID(r.Context())}})
		return
	}
	_, route, _ := strings.Cut(pattern, " ")
	gateway.SetRoute(r.Context(), route)
	s.mux.ServeHTTP(w, r) // sets the path values that Handler does not
}

// probe captures what the mux's own not-found handler would answer.
type probe struct {
	header http.Header
	status int
}

func (p *probe) Header() http.Header         { return p.header }
func (p *probe) Write(b []byte) (int, error) { return len(b), nil }
func (p *probe) WriteHeader(code int)        { p.status = code }

func (s *Server) register() {
	s.handle("GET", "/healthz", s.healthz)
	s.handle("GET", "/readyz", s.readyz)
	s.handle("GET", "/v1/openapi.json", s.serve(s.openAPI))
	s.handle("GET", "/v1/info", s.authenticated(s.info))

	s.handle("POST", "/v1/organizations", s.authenticated(s.createOrganization))
	s.handle("GET", "/v1/api-keys", s.authenticated(s.listAPIKeys))
	s.handle("POST", "/v1/api-keys", s.authenticated(s.createAPIKey))
	s.handle("DELETE", "/v1/api-keys/{id}", s.authenticated(s.revokeAPIKey))
	s.registerQuotas()

	s.handle("POST", "/v1/sandboxes", s.authenticated(s.createSandbox))
	s.handle("GET", "/v1/sandboxes", s.authenticated(s.listSandboxes))
	s.handle("GET", "/v1/sandboxes/{id}", s.authenticated(s.getSandbox))
	s.handle("DELETE", "/v1/sandboxes/{id}", s.authenticated(s.action(sandbox.ActionDelete)))
	for _, a := range []sandbox.Action{sandbox.ActionPause, sandbox.ActionResume, sandbox.ActionStop, sandbox.ActionStart, sandbox.ActionArchive} {
		s.handle("POST", "/v1/sandboxes/{id}/"+string(a), s.authenticated(s.action(a)))
	}
	s.handle("PATCH", "/v1/sandboxes/{id}/metadata", s.authenticated(s.patchMetadata))
	s.handle("POST", "/v1/sandboxes/{id}/renew-expiration", s.authenticated(s.renewExpiration))
	s.handle("PUT", "/v1/sandboxes/{id}/timeout", s.authenticated(s.setTimeout))
	s.handle("GET", "/v1/sandboxes/{id}/events", s.authenticated(s.events))
	s.registerAutomation()

	s.handle("GET", "/v1/images", s.authenticated(s.listImages))
	s.handle("POST", "/v1/images/pull", s.authenticated(s.pullImage))
	s.handle("POST", "/v1/images/import", s.authenticated(s.importImage))
	s.handle("DELETE", "/v1/images", s.authenticated(s.removeImage))
	s.registerAgent()
	s.registerNetwork()
	s.registerOperations()
	s.registerDrain()
}

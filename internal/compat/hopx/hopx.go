// Package hopx is HopX's API spoken by Hutch: the control plane of
// reference-specs/hopx/openapi_public.json under /compat/hopx/v1, and the
// VM agent of openapi_agent.json at each sandbox's public_host, both
// translated to internal/sandbox and Hutch's own agent. HopX's own SDK
// (@hopx-ai/sdk) is pointed at it by its baseURL.
package hopx

import (
	"net/http"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/gateway"
)

// Prefix is where the face is mounted on the main listener.
const Prefix = "/compat/hopx"

// AgentPort is the port HopX's VM agent answers on; per-sandbox hosts of
// this port ({7777}-{id}.{domain}) are the agent's host form.
const AgentPort = 7777

// vendor names the face's agent tokens.
const vendor = "hopx"

// tokenTTL is how long an auth_token lives; the SDK refreshes one that
// has less than an hour left.
const tokenTTL = 24 * time.Hour

// codes turns the native API's codes into HopX's words; a code that is
// not here (FILE_NOT_FOUND, PROCESS_NOT_FOUND, ...) is already HopX's.
var codes = map[string]string{
	api.CodeSandboxNotFound:   "RESOURCE_NOT_FOUND",
	api.CodeNotFound:          "RESOURCE_NOT_FOUND",
	api.CodeInvalidArgument:   "INVALID_REQUEST",
	api.CodeUnauthenticated:   "UNAUTHORIZED",
	api.CodeForbidden:         "FORBIDDEN",
	api.CodeInvalidState:      "INVALID_STATE",
	api.CodeSandboxPaused:     "SANDBOX_PAUSED",
	api.CodeConflict:          "CONFLICT",
	api.CodeAlreadyExists:     "ALREADY_EXISTS",
	api.CodeResourceExhausted: "RESOURCE_EXHAUSTED",
	api.CodeUnavailable:       "SERVICE_UNAVAILABLE",
	api.CodeNotImplemented:    "NOT_SUPPORTED",
	api.CodeInternal:          "INTERNAL_ERROR",
	api.CodeFileNotFound:      "FILE_NOT_FOUND",
	api.CodeProcessNotFound:   "PROCESS_NOT_FOUND",
	api.CodeContextNotFound:   "RESOURCE_NOT_FOUND",
}

// errorBody is HopX's error: the seeds show {error, code, request_id};
// the SDK reads message, so both carry the text.
type errorBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Path      string `json:"path,omitempty"`
}

func envelope(w http.ResponseWriter, r *http.Request, p compat.Problem) {
	code := p.Code
	if c, ok := codes[code]; ok {
		code = c
	}
	status := p.Status
	if status == http.StatusNotImplemented {
		// The SDK reads 501 as "desktop not available"; a feature
		// Hutch lacks is a plain client error.
		status = http.StatusBadRequest
	}
	if p.Status == http.StatusUnauthorized && strings.Contains(p.Message, "access token") {
		code = "TOKEN_INVALID"
	}
	compat.WriteJSON(w, status, errorBody{Error: p.Message, Message: p.Message, Code: code,
		RequestID: gateway.RequestID(r.Context()), Path: r.URL.Query().Get("path")})
}

// face builds the HopX face over d.
type face struct {
	*compat.Face
}

func newFace(d compat.Deps) *face {
	return &face{Face: &compat.Face{Name: vendor, Deps: d, Keys: gateway.BearerOrAPIKey, Envelope: envelope}}
}

// Mount serves the control plane and the path form of the agent under
// Prefix, and the agent's host form on {7777}-{id}.{domain}.
func Mount(rt *gateway.Router, d compat.Deps) {
	f := newFace(d)
	rt.Mount(Prefix, f.handler(Prefix))
	agent := f.agentHandler()
	rt.ClaimPort(AgentPort, func(w http.ResponseWriter, r *http.Request, id string, _ int) {
		agent.ServeHTTP(w, r.WithContext(withSandbox(r.Context(), id)))
	})
}

// Handler serves the face at the root of a listener of its own.
func Handler(d compat.Deps) http.Handler { return newFace(d).handler("") }

func (f *face) handler(prefix string) http.Handler {
	mux := http.NewServeMux()
	f.registerControl(mux, prefix)
	agent := f.agentHandler()
	mux.Handle("/agent/{id}/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		r2 := r.Clone(withSandbox(r.Context(), id))
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/agent/"+id)
		r2.URL.RawPath = ""
		agent.ServeHTTP(w, r2)
	}))
	return f.Handler(mux)
}

// Package opensandbox is Alibaba OpenSandbox's API spoken by Hutch: the
// lifecycle API of reference-specs/opensandbox/sandbox-lifecycle.yml under
// /compat/opensandbox/v1, and execd (execd-api.yaml), the in-sandbox API
// that OpenSandbox runs on port 44772, served here on the host and
// translated to Hutch's own agent. The official SDK
// (@alibaba-group/opensandbox) is pointed at it with
// domain = "<host:port>/compat/opensandbox".
package opensandbox

import (
	"net/http"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/gateway"
)

// Prefix is where the face is mounted on the main listener.
const Prefix = "/compat/opensandbox"

// ExecdPort is the sandbox port OpenSandbox's execd answers on; the SDK
// asks the endpoint of this port and talks execd there.
const ExecdPort = 44772

// KeyHeader is where the SDK sends the API key, to the lifecycle API and
// to execd alike.
const KeyHeader = "OPEN-SANDBOX-API-KEY"

// lifecycleCodes turn the native codes into the words of the lifecycle
// spec's ErrorResponse (INVALID_REQUEST, NOT_FOUND, INTERNAL_ERROR, ...).
var lifecycleCodes = map[string]string{
	api.CodeInvalidArgument:   "INVALID_REQUEST",
	api.CodeUnauthenticated:   "UNAUTHORIZED",
	api.CodeForbidden:         "FORBIDDEN",
	api.CodeSandboxNotFound:   "NOT_FOUND",
	api.CodeNotFound:          "NOT_FOUND",
	api.CodeAlreadyExists:     "CONFLICT",
	api.CodeConflict:          "CONFLICT",
	api.CodeInvalidState:      "INVALID_STATE",
	api.CodeSandboxPaused:     "SANDBOX_PAUSED",
	api.CodeResourceExhausted: "RESOURCE_EXHAUSTED",
	api.CodeUnavailable:       "UNAVAILABLE",
	api.CodeNotImplemented:    "API_NOT_SUPPORTED",
	api.CodeInternal:          "INTERNAL_ERROR",
}

// execdCodes are execd's own words (INVALID_REQUEST_BODY, FILE_NOT_FOUND,
// RUNTIME_ERROR); what is not here reads as in lifecycleCodes.
var execdCodes = map[string]string{
	api.CodeInvalidArgument:   "INVALID_REQUEST_BODY",
	api.CodeFileNotFound:      "FILE_NOT_FOUND",
	api.CodeProcessNotFound:   "COMMAND_NOT_FOUND",
	api.CodeContextNotFound:   "CONTEXT_NOT_FOUND",
	api.CodeInternal:          "RUNTIME_ERROR",
	api.CodeSandboxNotFound:   "NOT_FOUND",
	api.CodeNotImplemented:    "API_NOT_SUPPORTED",
	api.CodeUnauthenticated:   "UNAUTHORIZED",
	api.CodeInvalidState:      "INVALID_STATE",
	api.CodeSandboxPaused:     "SANDBOX_PAUSED",
	api.CodeResourceExhausted: "RESOURCE_EXHAUSTED",
}

// errorBody is OpenSandbox's ErrorResponse, the same in both specs.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// envelope answers a problem as {code, message}, in execd's words on
// the execd and port routes and in the lifecycle API's words elsewhere.
func envelope(w http.ResponseWriter, r *http.Request, p compat.Problem) {
	code, ok := "", false
	if isSandboxRoute(r) {
		code, ok = execdCodes[p.Code]
	}
	if !ok {
		code, ok = lifecycleCodes[p.Code]
	}
	if !ok {
		code = p.Code
	}
	compat.WriteJSON(w, p.Status, errorBody{Code: code, Message: p.Message})
}

// face is the OpenSandbox face over compat's core; prefix is where it is
// served, so that the endpoints it hands out point back at it.
type face struct {
	*compat.Face
	prefix string
	fg     *foreground
}

func newFace(d compat.Deps, prefix string) *face {
	return &face{
		Face:   &compat.Face{Name: "opensandbox", Deps: d, Keys: gateway.Header(KeyHeader), Envelope: envelope},
		prefix: prefix,
		fg:     newForeground(),
	}
}

// Mount serves the lifecycle API (under Prefix/v1), execd and the port
// proxy (under Prefix/sandboxes/{id}/port/{port}) on the main router.
func Mount(rt *gateway.Router, d compat.Deps) {
	rt.Mount(Prefix, newFace(d, Prefix).handler())
}

// Handler serves the face at the root of a listener of its own.
func Handler(d compat.Deps) http.Handler { return newFace(d, "").handler() }

func (f *face) handler() http.Handler {
	mux := http.NewServeMux()
	f.registerLifecycle(mux)
	f.registerSandboxPorts(mux)
	return f.Handler(mux)
}

// Package e2b is E2B's API spoken by Hutch: the control plane of
// reference-specs/e2b/openapi.yml under /compat/e2b, and envd, E2B's
// in-sandbox daemon (its REST routes and its Connect RPC services
// process.Process and filesystem.Filesystem), served on the host at
// /compat/e2b/envd and on 49983-<id>.<domain>, both translated to
// internal/sandbox and Hutch's own agent. E2B's SDK (`e2b` on npm) is
// pointed at it by its apiUrl and sandboxUrl options.
package e2b

import (
	"net/http"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/gateway"
)

// Prefix is where the face is mounted on the main listener.
const Prefix = "/compat/e2b"

// EnvdPort is the port envd answers on in an E2B sandbox; per-sandbox
// hosts of this port (49983-<id>.<domain>) are envd's host form.
const EnvdPort = 49983

// envdVersion is the envd version the face reports. The SDK switches
// features on by it: at 0.4.0 it stops sending a default user, 0.5.2
// brings CloseStdin and 0.5.7 octet-stream uploads, all served here;
// 0.6.2 would bring file metadata (extended attributes), which Hutch's
// agent does not keep, so the SDK refuses those calls itself.
const envdVersion = "0.5.7"

// vendor names the face's envd access tokens.
const vendor = "e2b"

// errorBody is E2B's error: the SDK tests the numeric code (404, 409)
// and shows the message.
type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func envelope(w http.ResponseWriter, r *http.Request, p compat.Problem) {
	compat.WriteJSON(w, p.Status, errorBody{Code: p.Status, Message: p.Message})
}

// face is the E2B face over its deps.
type face struct {
	*compat.Face
}

func newFace(d compat.Deps) *face {
	return &face{Face: &compat.Face{Name: vendor, Deps: d, Keys: gateway.Header("X-API-KEY"), Envelope: envelope}}
}

// Mount serves the control plane and envd's path form (/envd, the
// sandbox named by the E2b-Sandbox-Id header) under Prefix, and envd's
// host form on 49983-<id>.<domain>.
func Mount(rt *gateway.Router, d compat.Deps) {
	f := newFace(d)
	rt.Mount(Prefix, f.handler())
	envd := f.envdHandler()
	rt.ClaimPort(EnvdPort, func(w http.ResponseWriter, r *http.Request, id string, _ int) {
		envd.ServeHTTP(w, r.WithContext(withHostSandbox(r.Context(), id)))
	})
}

// Handler serves the control plane at the root of a listener of its own,
// with envd's path form at /envd.
func Handler(d compat.Deps) http.Handler { return newFace(d).handler() }

func (f *face) handler() http.Handler {
	mux := http.NewServeMux()
	f.registerControl(mux)
	envd := http.StripPrefix("/envd", f.envdHandler())
	mux.Handle("/envd/", envd)
	mux.Handle("/envd", envd)
	return f.Handler(mux)
}

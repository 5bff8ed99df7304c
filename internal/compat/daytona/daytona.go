// Package daytona is Daytona's API spoken by Hutch: the control plane of
// reference-specs/daytona/api-openapi.yaml (the SDK's apiUrl is
// <server>/compat/daytona) and the toolbox of toolbox-openapi.yaml at
// <toolboxProxyUrl>/<id>/..., both translated to internal/sandbox and
// Hutch's own agent. Daytona's own SDK (@daytonaio/sdk) is pointed at it
// by apiUrl and a Hutch API key.
package daytona

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/gateway"
)

// Prefix is where the face is mounted on the main listener.
const Prefix = "/compat/daytona"

// Mount serves the face under Prefix on the main router.
func Mount(rt *gateway.Router, d compat.Deps) {
	rt.Mount(Prefix, newFace(d, Prefix).handler())
}

// Handler serves the face at the root of a listener of its own, for
// clients that cannot take a path prefix.
func Handler(d compat.Deps) http.Handler {
	return newFace(d, "").handler()
}

// face is the Daytona API over one set of Deps; prefix is where it is
// served, so that the URLs it hands out come back to it.
type face struct {
	*compat.Face
	prefix string
}

func newFace(d compat.Deps, prefix string) *face {
	return &face{Face: &compat.Face{Name: "daytona", Deps: d, Keys: gateway.BearerOrAPIKey, Envelope: envelope}, prefix: prefix}
}

// toolboxURL is the toolboxProxyUrl of every sandbox: the SDK appends
// /<id>/<toolbox path>.
func (f *face) toolboxURL(r *http.Request) string {
	return f.BaseURL(r) + f.prefix + "/toolbox"
}

func (f *face) handler() http.Handler {
	mux := http.NewServeMux()
	f.controlRoutes(mux)
	f.toolboxRoutes(mux)
	return f.Face.Handler(mux)
}

// Where an error comes from, as the SDK reads it (`source`): the API,
// or the daemon inside the sandbox (whose `code` picks the SDK's error
// class, FILE_NOT_FOUND and such), or the proxy in front of the toolbox.
const (
	sourceAPI    = "DAYTONA_API"
	sourceDaemon = "DAYTONA_DAEMON"
	sourceProxy  = "DAYTONA_PROXY"
)

// errorBody is Daytona's error: the API's NestJS body ({statusCode,
// message, error, path, timestamp, method}) with the daemon's code and
// source. The SDK reads message (else error), statusCode from the status
// line, and code with source for its finer error classes.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error"`
	Code       string `json:"code,omitempty"`
	Source     string `json:"source"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	Timestamp  string `json:"timestamp"`
	RequestID  string `json:"requestId,omitempty"`
}

// daemonError is a failure the toolbox daemon words with its own status
// and code, which pick the SDK's error class: a command past its timeout
// (408 PROCESS_EXECUTION_TIMEOUT, DaytonaProcessExecutionTimeoutError), a
// session whose shell has ended (410 SESSION_ENDED). To every other
// reader it is its class.
type daemonError struct {
	status int
	code   string
	msg    string
	class  error
}

func (e *daemonError) Error() string { return e.msg }
func (e *daemonError) Unwrap() error { return e.class }

// execTimeout is a command killed at its timeout.
func execTimeout(seconds int) error {
	return &daemonError{status: http.StatusRequestTimeout, code: "PROCESS_EXECUTION_TIMEOUT",
		msg: "command execution timed out after " + itoa(seconds) + " seconds", class: context.DeadlineExceeded}
}

func envelope(w http.ResponseWriter, r *http.Request, p compat.Problem) {
	status, code := p.Status, p.Code
	source := sourceAPI
	if isToolbox(r) {
		source = sourceProxy
		var ae *client.Error
		if errors.As(p.Err, &ae) {
			source = sourceDaemon
		}
	}
	if isToolbox(r) {
		// The SDK asks for file downloads as a stream and never reads the
		// body of a refusal: a kept-alive connection would stay open in
		// the client (and keep a Node process from exiting). The server
		// ends it instead.
		w.Header().Set("Connection", "close")
	}
	var de *daemonError
	if errors.As(p.Err, &de) {
		status, code, source, p.Message = de.status, de.code, sourceDaemon, de.msg
	}
	compat.WriteJSON(w, status, errorBody{
		StatusCode: status, Message: p.Message, Error: http.StatusText(status), Code: code, Source: source,
		Path: r.URL.Path, Method: r.Method, Timestamp: time.Now().UTC().Format(time.RFC3339Nano),
		RequestID: gateway.RequestID(r.Context()),
	})
}

// isToolbox reports whether r is a toolbox call (the face sees its paths
// without its mount prefix).
func isToolbox(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/toolbox/")
}

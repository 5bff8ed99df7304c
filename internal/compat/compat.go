// Package compat holds what every vendor-compatible API face shares: how a
// face is mounted and authenticated, its handlers' one error exit, the
// URLs it hands out, the per-sandbox tokens of vendor agents, cursor
// pages, and the lenient JSON its SDKs need. Each vendor's package
// (compat/hopx, compat/e2b, ...) is then a table of routes, field names,
// state words and error codes over internal/sandbox's doors.
package compat

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/agentconn"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// Deps are what every face calls into.
type Deps struct {
	Sandboxes *sandbox.Service
	Auth      auth.Store
	Agents    *agentconn.Pool
	Log       *slog.Logger
	// PublicURL, when set, is the scheme and host of URLs handed out
	// (behind a reverse proxy); otherwise they follow the request.
	PublicURL string
	// Domain is the per-sandbox host domain ({port}-{id}.{Domain}); empty
	// leaves faces on path forms only.
	Domain string
	// Tokens signs the per-sandbox tokens of vendor agents.
	Tokens Tokens
}

// Problem is an error as a face answers it: the HTTP status, the native
// code (api.Code*) the face translates with its table, and the message.
type Problem struct {
	Status  int
	Code    string
	Message string
	Err     error
}

// HandlerFunc is a face's handler: it returns its error to one exit.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Face is one vendor's API: where its SDK sends the key and how it words
// errors.
type Face struct {
	Name string
	Deps
	// Keys reads the API key from a control-plane request.
	Keys gateway.KeyReader
	// Envelope writes a Problem in the vendor's error body.
	Envelope func(w http.ResponseWriter, r *http.Request, p Problem)
}

// Describe is gateway.Describe that also passes on what the agent
// answered (a *client.Error: FILE_NOT_FOUND, PROCESS_NOT_FOUND, ...) with
// its own status and code.
func Describe(err error) Problem {
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status >= 400 {
		return Problem{Status: ae.Status, Code: ae.Code, Message: ae.Message, Err: err}
	}
	status, code, msg := gateway.Describe(err)
	return Problem{Status: status, Code: code, Message: msg, Err: err}
}

// WriteError answers err in the face's envelope and logs server faults.
func (f *Face) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p := Describe(err)
	gateway.LogFailure(f.Log, r, p.Status, err)
	f.Envelope(w, r, p)
}

// Serve adapts h to net/http.
func (f *Face) Serve(h HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			f.WriteError(w, r, err)
		}
	}
}

// Authed runs h for a caller whose API key (read by f.Keys) is valid; the
// caller is gateway.Principal(r.Context()).
func (f *Face) Authed(h HandlerFunc) http.HandlerFunc {
	return gateway.Authenticator{Store: f.Auth}.Wrap(f.Keys, f.WriteError, f.Serve(h))
}

// Handler wraps the face's routes in the gateway's outer layer (request
// IDs, access log, panics answered in the face's envelope) and answers
// unknown routes in the envelope too.
func (f *Face) Handler(mux *http.ServeMux) http.Handler {
	return gateway.Outer(f.Log, f.WriteError, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			f.WriteError(w, r, gateway.NoRoute(r))
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Package dashboard serves Hutch's web dashboard: its page at / and its
// assets under /ui, built from web/ by go generate and compiled into the
// binary, so that nothing is fetched from the internet at run time.
//
// The page talks to the native API (/v1) with the API key the user signed
// in with. This package adds only what a browser cannot get from the
// native API as it stands: who a key belongs to, and a terminal WebSocket
// opened with a single-use ticket,
// because a browser's WebSocket cannot send the key in a header and the
// key must never travel in a URL.
package dashboard

//go:generate go run ./bundle

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/agentconn"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// Prefix is where the dashboard's assets and its own calls live; the page
// itself is also served at /.
const Prefix = "/ui"

// Deps are the doors the dashboard's own calls go through.
type Deps struct {
	Sandboxes *sandbox.Service
	Auth      auth.Store
	Agents    *agentconn.Pool
	Log       *slog.Logger
}

// Handler serves the dashboard below Prefix (paths seen without it).
type Handler struct {
	Deps
	assets  assets
	tickets *tickets
	h       http.Handler
}

// New builds the handler.
func New(d Deps) *Handler {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Agents == nil {
		d.Agents = agentconn.NewPool()
	}
	h := &Handler{Deps: d, assets: loadAssets(), tickets: newTickets(ticketTTL, time.Now)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("GET /{file}", h.serve(h.asset))
	mux.HandleFunc("GET /api/session", h.authenticated(h.session))
	mux.HandleFunc("POST /api/sandboxes/{id}/terminal-ticket", h.authenticated(h.issueTicket))
	mux.HandleFunc("GET /api/terminal", h.serve(h.terminal))
	mux.HandleFunc("/", h.serve(func(w http.ResponseWriter, r *http.Request) error { return gateway.NoRoute(r) }))
	h.h = gateway.Outer(d.Log, h.writeError, mux)
	return h
}

// Mount serves the dashboard on rt: the page at / (rt's Index) and
// everything else below Prefix.
func Mount(rt *gateway.Router, d Deps) {
	h := New(d)
	rt.Mount(Prefix, h)
	rt.Index(h)
}

// ServeHTTP serves the page, the assets and the dashboard's own calls.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// handlerFunc returns its error to one exit, serve.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h *Handler) serve(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.writeError(w, r, err)
		}
	}
}

// authenticated verifies the caller's key as the native API does
// (Authorization: Bearer, or X-API-Key).
func (h *Handler) authenticated(f handlerFunc) http.HandlerFunc {
	return gateway.Authenticator{Store: h.Auth}.Wrap(gateway.BearerOrAPIKey, h.writeError, h.serve(f))
}

// writeError answers in the native API's envelope, so that the page shows
// every error, its own calls' and the API's, in the same words.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := gateway.Describe(err)
	gateway.LogFailure(h.Log, r, status, err)
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, RequestID: gateway.RequestID(r.Context())}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing left to tell it
}

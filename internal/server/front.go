package server

import (
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/hutchdev/hutch/api"
)

// front is the listener's handler from the first moment: until the API is
// built (the store opened, the runtime started) it answers /healthz (the
// process is alive), /readyz (what it is doing) and 503 to the rest;
// then everything goes to the API.
type front struct {
	api       atomic.Pointer[http.Handler]
	readiness *readiness
}

func (f *front) set(h http.Handler) { f.api.Store(&h) }

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := f.api.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case r.Method == http.MethodGet && r.URL.Path == "/readyz":
		writeJSON(w, http.StatusServiceUnavailable, f.readiness.report(r.Context()))
	default:
		writeJSON(w, http.StatusServiceUnavailable, api.ErrorBody{Error: api.ErrorDetail{Code: api.CodeUnavailable,
			Message: "the server is starting; retry shortly (GET /readyz says when sandboxes can be created)"}})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

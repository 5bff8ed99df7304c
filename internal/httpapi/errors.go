package httpapi

import (
	"net/http"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/gateway"
)

// writeError answers with the error envelope.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := gateway.Describe(err)
	id := requestID(r.Context())
	switch {
	case status == http.StatusInternalServerError:
		s.Log.Error("request failed", "requestId", id, "method", r.Method, "path", r.URL.Path, "err", err)
	case status >= 500: // unavailable, not implemented: the caller's problem as often as ours
		s.Log.Warn("request failed", "requestId", id, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, RequestID: id}})
}

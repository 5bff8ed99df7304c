package httpapi

import (
	"net/http"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/gateway"
)

// writeError answers with the error envelope.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := gateway.Describe(err)
	gateway.LogFailure(s.Log, r, status, err)
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, RequestID: requestID(r.Context())}})
}

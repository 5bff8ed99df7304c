package agent

import (
	"net/http"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func (s *Server) pty(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}

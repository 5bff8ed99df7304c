package agent

import (
	"net/http"

	"github.com/hutchdev/hutch/internal/errdefs"
)

type contextTable struct{}

func newContextTable() *contextTable { return &contextTable{} }
func (*contextTable) closeAll()      {}

func (s *Server) pty(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) createContext(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) listContexts(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) deleteContext(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) runCode(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}

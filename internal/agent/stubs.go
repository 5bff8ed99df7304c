package agent

import (
	"net/http"

	"github.com/hutchdev/hutch/internal/errdefs"
)

type contextTable struct{}

func newContextTable() *contextTable { return &contextTable{} }
func (*contextTable) closeAll()      {}

func workdir() string { return "/" }

func (s *Server) pty(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) uploadMultipart(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) stat(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) mkdir(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) move(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, errdefs.ErrNotImplemented)
}
func (s *Server) chmod(w http.ResponseWriter, r *http.Request) {
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

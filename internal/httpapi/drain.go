package httpapi

import (
	"fmt"
	"net/http"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// registerDrain serves the platform admin's drain: POST begins it (once),
// GET reports its progress.
func (s *Server) registerDrain() {
	s.handle("POST", "/v1/admin/drain", s.authenticated(s.startDrain))
	s.handle("GET", "/v1/admin/drain", s.authenticated(s.getDrain))
}

func requirePlatformAdmin(r *http.Request) error {
	if !principal(r.Context()).PlatformAdmin() {
		return fmt.Errorf("draining the server is the platform admin's: %w", errdefs.ErrForbidden)
	}
	return nil
}

func (s *Server) startDrain(w http.ResponseWriter, r *http.Request) error {
	if err := requirePlatformAdmin(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, drainStatus(s.Sandboxes.StartDrain()))
	return nil
}

func (s *Server) getDrain(w http.ResponseWriter, r *http.Request) error {
	if err := requirePlatformAdmin(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, drainStatus(s.Sandboxes.DrainStatus()))
	return nil
}

func drainStatus(d sandbox.DrainStatus) api.DrainStatus {
	out := api.DrainStatus{Draining: d.Draining, StartedAt: d.Started, FinishedAt: d.Finished, Total: d.Total,
		Done: d.Done, OnDisk: d.OnDisk, LeftRunning: []api.DrainLeft{}}
	for _, l := range d.LeftRunning {
		out.LeftRunning = append(out.LeftRunning, api.DrainLeft{SandboxID: l.SandboxID, Reason: l.Reason})
	}
	return out
}
